"""One exchange of a batch row on asyncio: the first piece of issue 27's engine (not yet
what ``batch run`` uses).

The blocking session (``llmcli.http.session``) gives each request in flight a thread;
at thousands in flight the threads cost more than the requests. Here a request is a
coroutine on one event loop, over a pool of keep-alive connections (``Pool``), with the
same promises of DESIGN's Limits for a whole answer:

- h11 (the sans-I/O HTTP/1.1 library httpx's own core uses) frames the request and the
  answer: the head, Content-Length, chunked, keep-alive, a connection's end; every 1xx is
  skipped, at most ``MAX_INTERIM``.
- ``deadline`` (``time.perf_counter`` seconds, as the session's) bounds everything: the
  connect, the head, the body (``asyncio.timeout_at``).
- The body is decompressed in bounded steps (``llmcli.http.decoding``) and capped after
  decompression at 256 MiB (an error answer's at 64 KiB); every secret of the request is
  scrubbed from it before anyone reads it.
- A connection is reused only when both sides ended their message cleanly; connects are
  spread (at most ``CONNECTING`` at once) so a burst of thousands does not overflow the
  server's accept queue; at most ``size`` connections are open.

Retries, the governor, rate limits and the 401 stop are the engine's, around ``send``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from llmcli.errors import ProtocolError, TemporaryError, UnavailableError
from llmcli.http import decoding
from llmcli.http.failures import late
from llmcli.http.request import Body, Request
from llmcli.http.response_head import MAX_INTERIM
from llmcli.redaction import redact, scrub

#: connects in progress at once: thousands at once overflow a listen queue (SYN retries
#: of a second each); a few hundred keep it busy and never full
CONNECTING = 256
READ = 1 << 16

Origin = tuple[str, str, int]


class Late(TemporaryError):
    """The row's deadline (--timeout) passed: never retried."""


class TooLarge(ProtocolError):
    """An answer over its cap: never retried (it would only come again)."""


class Stale(ProtocolError):
    """A kept-alive connection the server had closed: no byte of an answer came. Tried
    again at once on a new connection (counted: the server may have read the request)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer: its status, headers (names as sent) and body (decoded, scrubbed)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for n, v in self.headers if n.lower() == lowered), None)


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Keep-alive connections by origin, at most ``size`` open (HTTP/1.1: one request on
    a connection at a time, so ``size`` is the requests in flight). One event loop's."""

    def __init__(
        self, size: int, connect_timeout: float | None = 10.0, timeout: float | None = None
    ) -> None:
        self.size = size
        self.connect_timeout = connect_timeout
        self.timeout = timeout  # --timeout, as a late answer's message names it
        self._open = asyncio.Semaphore(size)
        self._connecting = asyncio.Semaphore(min(CONNECTING, size))
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None
        self.connects = 0  # connections made so far (reuse shows as fewer)

    async def send(self, request: Request, deadline: float | None) -> Reply:
        """The whole answer to ``request`` (any status: the caller decides what a 4xx or
        5xx means), or ``UnavailableError`` (no connection), ``TemporaryError`` (the
        deadline), ``ProtocolError`` (a broken or malformed answer, a cap passed)."""
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        origin: Origin = (scheme, (parts.hostname or "").lower(), port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        loop = asyncio.get_running_loop()
        when = None if deadline is None else loop.time() + (deadline - time.perf_counter())
        async with self._open:
            try:
                async with asyncio.timeout_at(when):
                    reused = self._reuse(origin)
                    connection = reused or await self._connect(origin, request)
                    try:
                        reply = await _exchange(connection, request, parts.netloc, target)
                    except _NoAnswer as e:
                        connection.close()
                        kind = Stale if reused is not None else ProtocolError
                        raise kind(e.message) from None
                    except BaseException:
                        connection.close()
                        raise
            except TimeoutError:
                raise Late(late(request, self.timeout)) from None
        if _reusable(connection):
            connection.h11.start_next_cycle()
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
        return reply

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.close()  # the server closed it while it was idle
        return None

    async def _connect(self, origin: Origin, request: Request) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:  # the CA bundle httpx trusts (certifi), as the session
                import certifi

                self._tls = ssl.create_default_context(cafile=certifi.where())
            tls = self._tls
        async with self._connecting:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(host, port, ssl=tls, limit=READ)
            except TimeoutError:
                raise TemporaryError(
                    _where(f"connect timeout talking to {request.gateway}", request)
                ) from None
            except OSError as e:
                raise UnavailableError(
                    _where(f"cannot connect to {request.gateway}: {e.strerror or e}", request)
                ) from None
        self.connects += 1
        return _Connection(reader, writer)

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


class _NoAnswer(ProtocolError):
    """The connection ended before any of the answer."""


def _no_answer(request: Request) -> str:
    return _where(
        f"connection to {request.gateway} broke: Server disconnected without sending a response.",
        request,
    )


def _reusable(connection: _Connection) -> bool:
    state = connection.h11
    return state.our_state is h11.DONE and state.their_state is h11.DONE


async def _exchange(connection: _Connection, request: Request, netloc: str, target: str) -> Reply:
    state = connection.h11
    body = request.body.to_bytes() if isinstance(request.body, Body) else (request.body or b"")
    headers = [("Host", netloc.rsplit("@", 1)[-1]), ("Accept-Encoding", decoding.ACCEPT_ENCODING)]
    headers += [(n, v) for n, v in request.headers.items() if n.lower() != "host"]
    if body or request.method in ("POST", "PUT", "PATCH"):
        headers.append(("Content-Length", str(len(body))))
    try:
        data = state.send(h11.Request(method=request.method, target=target, headers=headers))
        if body:
            data = (data or b"") + (state.send(h11.Data(data=body)) or b"")
        data = (data or b"") + (state.send(h11.EndOfMessage()) or b"")
        try:
            connection.writer.write(data)
            await connection.writer.drain()
        except (ConnectionError, OSError):  # the request did not get out: no answer
            raise _NoAnswer(_no_answer(request)) from None
        return await _answer(connection, request)
    except h11.ProtocolError as e:
        raise ProtocolError(
            _where(f"a malformed answer from {request.gateway}: {e}", request)
        ) from None
    except (ConnectionError, OSError) as e:
        raise ProtocolError(
            _where(f"connection to {request.gateway} broke: {e.strerror or e}", request)
        ) from None


async def _answer(connection: _Connection, request: Request) -> Reply:
    state = connection.h11
    interim = 0
    head: h11.Response | None = None
    raw: list[bytes] = []
    size = 0
    while True:
        event = state.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await connection.reader.read(READ)
            except ConnectionError:
                if head is not None:
                    raise
                data = b""  # reset before any answer: as a close
            if not data and head is None:
                raise _NoAnswer(_no_answer(request))
            state.receive_data(data)
            continue
        if isinstance(event, h11.InformationalResponse):
            interim += 1
            if interim > MAX_INTERIM:
                raise ProtocolError(
                    _where(f"{request.gateway} sent endless interim answers", request)
                )
            continue
        if isinstance(event, h11.Response):
            head = event
            continue
        if isinstance(event, h11.Data):
            size += len(event.data)
            raw.append(bytes(event.data))
            if head is not None and head.status_code >= 400 and size > decoding.MAX_ERROR_BODY:
                break  # of an error body 64 KiB is read; the connection is not reused
            if size > decoding.MAX_BODY:  # even before decompression, past the cap
                raise _too_large(request)
            continue
        if isinstance(event, h11.EndOfMessage):
            break
        if head is None:
            raise _NoAnswer(_no_answer(request))
        raise ProtocolError(_where(f"connection to {request.gateway} broke mid-answer", request))
    assert head is not None
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in head.headers]
    cap = decoding.MAX_BODY if head.status_code < 400 else decoding.MAX_ERROR_BODY
    body = _decoded(
        raw, next((v for n, v in headers if n.lower() == "content-encoding"), ""), cap, request
    )
    if request.secrets:
        body = scrub(body, request.secrets)
    return Reply(head.status_code, headers, body)


def _decoded(raw: list[bytes], encoding: str, cap: int, request: Request) -> bytes:
    codings = decoding.decoders(encoding) if encoding else []
    if codings is None:
        raise ProtocolError(
            _where(f"{request.gateway} answered in {encoding!r}, not gzip or deflate", request)
        )
    chunks: Iterator[bytes] = decoding.decode(raw, codings) if codings else iter(raw)
    kept = bytearray()
    try:
        for chunk in chunks:
            kept += chunk
            if len(kept) > cap:
                if cap < decoding.MAX_BODY:  # an error body: what fits is enough
                    return bytes(kept[:cap])
                raise _too_large(request)
    except decoding.DecodingError as e:
        raise ProtocolError(_where(f"the answer from {request.gateway}: {e}", request)) from None
    return bytes(kept)


def _too_large(request: Request) -> TooLarge:
    return TooLarge(
        _where(
            f"the answer from {request.gateway} is larger than {decoding.MAX_BODY >> 20} MiB",
            request,
        )
    )


def _where(what: str, request: Request) -> str:
    return redact(f"{what} ({request.method} {request.url})", request.secrets)
