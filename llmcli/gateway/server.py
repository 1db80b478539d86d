"""The HTTP side of the offline gateway: server, request handler, routing.

Standard library only (``http.server``), HTTP/1.1 with keep-alive, one daemon thread per
connection. Silent: no request log, no tracebacks on stderr. Every API request is
recorded; ``/_mock/requests`` (at the root or under the prefix) lists the records.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from . import anthropic_wire, openai_wire
from .errors import RequestError, anthropic_error, html_page, openai_error
from .faults import NO_FAULTS, Counters, FaultError, Faults
from .faults import parse as parse_faults
from .models import ask_chat, ask_messages, reply
from .profiles import Profile, RecordedRequest
from .writer import MALFORMED, Writer

__all__ = ["GatewayServer", "Handler"]

# endpoint path -> allowed method
ROUTES = {
    "/chat/completions": "POST",
    "/models": "GET",
    "/embeddings": "POST",
    "/messages": "POST",
}
RECORDS_PATH = "/_mock/requests"


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], profile: Profile, faults: Faults) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.profile = profile
        self.faults = faults
        self.counters = Counters()
        self.records: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent: a client that hung up is not an error worth a traceback."""

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.records.append(request)

    def close_connections(self) -> None:
        """Shut down every open client connection (used when stopping)."""
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
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
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        writer = Writer(self, NO_FAULTS)
        try:
            self._route(body, writer)
        except OSError:  # the client hung up
            self.close_connection = True
        except Exception:
            self.close_connection = True
            if not writer.started:
                with contextlib.suppress(OSError):
                    Writer(self, NO_FAULTS).send(500, openai_error(500, "mock gateway bug"))

    def _error(self, writer: Writer, anthropic: bool, err: RequestError) -> None:
        if anthropic:
            body = anthropic_error(err.status, err.message)
        else:
            body = openai_error(err.status, err.message, code=err.code, type_=err.type)
        writer.send(err.status, body)

    # ---- routing ------------------------------------------------------------------------

    def _route(self, body: bytes, writer: Writer) -> None:
        path = self.path.split("?", 1)[0]
        prefix = self.server.profile.prefix.rstrip("/")
        if path in (RECORDS_PATH, prefix + RECORDS_PATH):
            self._records(writer)
            return
        self.server.record(
            RecordedRequest(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
        )
        endpoint = path[len(prefix) :] if path.startswith(prefix + "/") else None
        anthropic = path.endswith("/messages")
        method = ROUTES.get(endpoint or "")
        if method is None:
            self._error(
                writer,
                anthropic,
                RequestError(
                    404,
                    f"no such endpoint: {self.command} {path}",
                    code="not_found",
                    type_="not_found_error",
                ),
            )
            return
        if self.command != method:
            writer.send(
                405,
                openai_error(
                    405, f"method {self.command} not allowed on {path}", code="method_not_allowed"
                ),
                headers=[("Allow", method)],
            )
            return
        try:
            spec = self.headers.get("X-Mock-Fault")
            faults = self.server.faults if spec is None else parse_faults(spec)
        except FaultError as e:
            self._error(
                writer, anthropic, RequestError(400, f"X-Mock-Fault: {e}", code="bad_fault_spec")
            )
            return
        faults = faults if self.server.counters.applies(faults) else NO_FAULTS
        writer.faults = faults
        if faults.replaces_body:
            self._fault_body(writer, anthropic, faults)
            return
        try:
            self._authorize()
            self._answer(endpoint or "", body, writer, faults)
        except RequestError as e:
            self._error(writer, anthropic, e)

    def _fault_body(self, writer: Writer, anthropic: bool, faults: Faults) -> None:
        status = faults.status or 200
        if faults.html:
            writer.send(status, html_page(status), "text/html")
        elif faults.body is not None:
            writer.send(status, faults.body.encode(), "text/plain; charset=utf-8")
        else:
            self._error(writer, anthropic, RequestError(status, ""))

    def _authorize(self) -> None:
        auth = self.server.profile.auth
        if auth == "bearer":
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise RequestError(
                    401, "missing or malformed Authorization: Bearer header", code="invalid_api_key"
                )
        elif auth == "x-api-key" and not self.headers.get("x-api-key", "").strip():
            raise RequestError(401, "missing x-api-key header", code="invalid_api_key")

    def _answer(self, endpoint: str, raw: bytes, writer: Writer, faults: Faults) -> None:
        if endpoint == "/models":
            self._ok(writer, faults, openai_wire.model_list())
            return
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise RequestError(400, f"invalid JSON body: {e}", code="invalid_json") from None
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object", code="invalid_json")
        if endpoint == "/embeddings":
            self._ok(writer, faults, openai_wire.embeddings(body))
            return
        stream = body.get("stream") is True
        if endpoint == "/messages":
            answer = reply(ask_messages(body))
            if stream:
                writer.send_stream(anthropic_wire.message_events(answer), anthropic_wire.ERROR)
            else:
                self._ok(writer, faults, anthropic_wire.message(answer))
            return
        answer = reply(ask_chat(body))
        if stream:
            options = body.get("stream_options")
            usage = isinstance(options, dict) and options.get("include_usage") is True
            writer.send_stream(openai_wire.chat_chunks(answer, usage), openai_wire.ERROR)
        else:
            self._ok(writer, faults, openai_wire.chat_completion(answer))

    def _ok(self, writer: Writer, faults: Faults, obj: dict[str, Any]) -> None:
        writer.send(200, MALFORMED if faults.malformed else orjson.dumps(obj))

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
            out.append({"method": r.method, "path": r.path, "headers": r.headers, "body": decoded})
        writer.send(200, orjson.dumps(out))
