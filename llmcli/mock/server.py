"""The HTTP side of the offline gateway: server, request handler, routing.

Standard library only (``http.server``), HTTP/1.1 with keep-alive, one daemon thread per
connection, a listen backlog deep enough for many clients connecting at once. Silent: no
tracebacks on stderr, and a request log only when ``log`` is set (``llmcli serve`` sets
it; the in-process gateway of ``-g mock`` and the tests never do). Every API request is
recorded, under a lock; ``/_mock/requests`` (at the root or under the prefix) lists the
records.

The server keeps what a gateway remembers between requests: its clock, fault counters,
budgets, batches and the Responses API's stored responses (``responses_wire.Stored``).

Every answer carries ``x-request-id`` (OpenAI's name) and ``request-id`` (Anthropic's):
``req_<n>``, n counting the requests the server has read, from 1.

Order for an API request: record it; with a cassette (``replay``), its answer and nothing
else; 404 for a path the profile does not serve, 405 for a wrong method; the fault
spec's ``budget`` (429 when used up); the rest of the spec when its gates let it (a
``drop``, an injected or hostile reply, or a redirect, skips the rest); the profile's
auth check (``endpoints.authorize``); the answer (``endpoints.answer``, or ``batches``
for the batch APIs' paths). Errors come in the profile's ``errors`` style
(Anthropic's on its batch paths); seed 004's rate-limit headers go on every one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import orjson

from . import hostile
from .budget import Budgets
from .clock import Clock
from .endpoints import METHODS, answer, authorize
from .error_bodies import RequestError, error_body, html_page, openai_error
from .faults import NO_FAULTS, FaultError, Faults
from .faults import parse as parse_faults
from .gates import Counters
from .profiles import Profile, RecordedRequest
from .request_log import log_line
from .responses_wire import Stored
from .writer import Writer

if TYPE_CHECKING:  # the replay and batch machinery load only when asked for
    from .batches import Batches
    from .replay import Replay

__all__ = ["GatewayServer", "Handler"]

RECORDS_PATH = "/_mock/requests"


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default 5 resets connections when 32 clients start

    def __init__(self, address: tuple[str, int], profile: Profile, faults: Faults) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.profile = profile
        self.faults = faults
        self.counters = Counters()
        self.clock = Clock()  # batches and budget windows go by it; tests move it on
        self.budgets = Budgets(self.clock.monotonic, self.clock.wall)
        self.records: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.accepted = 0  # connections ever opened: whether clients keep theirs alive
        self.body_bytes = 0  # response body bytes written for clients (flushed, or buffered)
        self.requests_made = 0  # for the profile's rate-limit countdown
        self.requests_read = 0  # numbers the requests: x-request-id, jitter
        self.log: Callable[[str], None] | None = None  # one line per request, if set
        self.batch_dir: str | os.PathLike[str] | None = None  # start() sets these two
        self.batch_seconds = 3.0
        self._batches: Batches | None = None  # made at the first batch request
        self.replay: Replay | None = None  # set: every API request is answered from it
        self.responses = Stored(self.clock.wall)  # for previous_response_id
        super().__init__(address, Handler)

    @property
    def batches(self) -> Batches:
        """The batch APIs' objects, made when first asked for (start-up stays light)."""
        with self.lock:
            if self._batches is None:
                from .batches import Batches

                self._batches = Batches(
                    self.profile, self.batch_dir, self.batch_seconds, self.clock.wall
                )
            return self._batches

    def close_batches(self) -> None:
        if self._batches is not None:
            self._batches.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent: a client that hung up is not an error worth a traceback."""

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.records.append(request)

    def sent(self, size: int) -> None:
        """Count ``size`` more body bytes written to a client."""
        with self.lock:
            self.body_bytes += size

    def number(self) -> int:
        """The next request's number, from 1."""
        with self.lock:
            self.requests_read += 1
            return self.requests_read

    def rate_limit_headers(self) -> list[tuple[str, str]]:
        """Seed 004's ``x-ratelimit-*-requests`` headers, counting this request."""
        limit = self.profile.rate_limit
        if limit is None:
            return []
        with self.lock:
            self.requests_made += 1
            remaining = max(0, limit - self.requests_made)
        return [
            ("x-ratelimit-limit-requests", str(limit)),
            ("x-ratelimit-remaining-requests", str(remaining)),
            ("x-ratelimit-reset-requests", "86400s"),
        ]

    def close_connections(self) -> None:
        """Shut down every open client connection (used when stopping)."""
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _request_ids(number: int) -> list[tuple[str, str]]:
    request_id = f"req_{number}"
    return [("x-request-id", request_id), ("request-id", request_id)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # buffered: a small answer leaves in one write (see writer)
    server_version = "llmcli-mock/0.1"
    sys_version = ""
    server: GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        """No request log: the gateway runs inside ``llmcli chat`` and must stay silent."""

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.lock:
            self.server.connections.add(self.connection)
            self.server.accepted += 1

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    # ---- plumbing -----------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        started = time.perf_counter()
        number = self.server.number()
        writer = Writer(self, NO_FAULTS)
        writer.number = number
        writer.headers = _request_ids(number)
        writer.tally = self.server.sent
        body = b""
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
        else:
            writer = self._answer(body, writer)
        log = self.server.log
        if log is not None:
            took = time.perf_counter() - started
            with contextlib.suppress(Exception):  # a closed stderr must not stop serving
                log(log_line(self.command, self.path, writer.status, took, body))

    def _answer(self, body: bytes, writer: Writer) -> Writer:
        """Route and answer; the writer that answered (a new one after a gateway bug)."""
        try:
            self._route(body, writer)
            if writer.faults.hangup:  # no Connection: close said
                self.close_connection = True
        except OSError:  # the client hung up
            self.close_connection = True
        except Exception:
            self.close_connection = True
            if not writer.started:
                number, writer = writer.number, Writer(self, NO_FAULTS)
                writer.number, writer.headers = number, _request_ids(number)
                with contextlib.suppress(OSError):
                    writer.send(500, openai_error(500, "mock gateway bug"))
        return writer

    def _error(self, writer: Writer, style: str, err: RequestError) -> None:
        writer.send(err.status, err.body(style))

    def _style(self, path: str) -> str:
        """The error style for ``path``: Anthropic's on ``/messages`` of an OpenAI-style profile."""
        profile = self.server.profile
        if profile.errors != "openai":
            return profile.errors
        served = "messages" in profile.endpoints and path.endswith("/messages")
        return "anthropic" if served else "openai"

    # ---- routing ------------------------------------------------------------------------

    def _route(self, body: bytes, writer: Writer) -> None:
        path = self.path.split("?", 1)[0]
        profile = self.server.profile
        prefix = profile.prefix.rstrip("/")
        if path in (RECORDS_PATH, prefix + RECORDS_PATH):
            self._records(writer)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        request_id = f"req_{writer.number}"
        self.server.record(
            RecordedRequest(self.command, self.path, headers, body, request_id, time.monotonic())
        )
        if self.server.replay is not None:
            self.server.replay.answer(self, writer, body)
            return
        writer.headers += self.server.rate_limit_headers()
        writer.processing = profile.processing_comment
        endpoint = profile.endpoint(path)
        batch = None
        if endpoint is None:
            from .batch_store import route as batch_route

            batch = batch_route(profile, self.command, path)
        style = self._style(path) if batch is None else batch.style
        endpoint = endpoint if batch is None else batch.endpoint
        if endpoint is None:
            message = f"no such endpoint: {self.command} {path}"
            self._error(writer, style, RequestError(404, message, code="not_found"))
            return
        allow = (METHODS[endpoint],) if batch is None else batch.allow
        if self.command not in allow:
            message = f"method {self.command} not allowed on {path}"
            body_405 = error_body(profile.errors, 405, message, code="method_not_allowed")
            writer.send(405, body_405, headers=[("Allow", ", ".join(allow))])
            return
        try:
            spec = self.headers.get("X-Mock-Fault")
            faults = self.server.faults if spec is None else parse_faults(spec)
        except FaultError as e:
            self._error(
                writer, style, RequestError(400, f"X-Mock-Fault: {e}", code="bad_fault_spec")
            )
            return
        anthropic = endpoint == "messages" or style == "anthropic"
        verdict = self.server.budgets.take(faults, anthropic)
        if verdict is not None:
            writer.limits = verdict.headers
            if verdict.refusal is not None:
                self._error(writer, style, RequestError(429, verdict.refusal))
                return
        faults = faults if self.server.counters.applies(faults) else NO_FAULTS
        writer.faults = faults
        if faults.drop:
            writer.drop()
            return
        if faults.hostile and (faults.redirect is None or faults.big_body):
            ask = hostile.asked(self.headers.items(), body, endpoint, style)
            hostile.answer(writer, faults, ask)
            return
        if faults.replaces_body:
            self._fault_body(writer, style, faults)
            return
        try:
            authorize(profile, endpoint, self.headers)
            if batch is None:
                answer(profile, endpoint, body, writer, faults, self.server.responses)
            else:
                self.server.batches.answer(batch, self.path, self.headers, body, writer)
        except RequestError as e:
            self._error(writer, style, e)

    def _fault_body(self, writer: Writer, style: str, faults: Faults) -> None:
        if faults.redirect is not None:
            kind = faults.content_type or "text/plain; charset=utf-8"
            body = (faults.body or "").encode()
            writer.send(faults.redirect_status, body, kind, [("Location", faults.redirect)])
            return
        status = faults.status or 200
        if faults.html:
            writer.send(status, html_page(status), "text/html")
        elif faults.body is not None:
            kind = faults.content_type or "text/plain; charset=utf-8"
            writer.send(status, faults.body.encode(), kind)
        else:
            self._error(writer, style, RequestError(status, ""))

    def _records(self, writer: Writer) -> None:
        with self.server.lock:
            records = list(self.server.records)
            if self.command == "DELETE":
                self.server.records.clear()
        out: list[dict[str, Any]] = []
        for r in records:
            decoded: Any = None
            if r.body:
                try:
                    decoded = orjson.loads(r.body)
                except orjson.JSONDecodeError:
                    decoded = r.body.decode("utf-8", "replace")
            out.append(
                {
                    "method": r.method,
                    "path": r.path,
                    "headers": r.headers,
                    "body": decoded,
                    "request_id": r.request_id,
                }
            )
        writer.send(200, orjson.dumps(out))
