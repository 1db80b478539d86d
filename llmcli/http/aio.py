"""One exchange of a batch row on asyncio: the first piece of issue 27's engine (not yet
what ``batch run`` uses).

The blocking session (``llmcli.http.session``) gives each request in flight a thread;
at thousands in flight the threads cost more than the requests. Here a request is a
coroutine on one event loop, over a pool of keep-alive connections (``Pool``), with the
same promises of DESIGN's Limits for a whole answer:

- ``llmcli.http.wire`` frames the request and reads the answer's head (checked as h11
  checks it), ``llmcli.http.chunked`` undoes a chunked body: Content-Length, chunked,
  keep-alive, a connection's end; every 1xx is skipped, at most ``MAX_INTERIM``.
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
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from llmcli.errors import ProtocolError, TemporaryError, UnavailableError, UsageError
from llmcli.http import decoding
from llmcli.http.chunked import ChunkedDecoder, ChunkError
from llmcli.http.failures import late
from llmcli.http.request import Body, Request
from llmcli.http.response_head import MAX_INTERIM
from llmcli.http.wire import MAX_HEAD, Head, WireError, head_end, parse_head, request_head
from llmcli.redaction import redact, scrub

#: connects in progress at once: thousands at once overflow a listen queue (SYN retries
#: of a second each); a few hundred keep it busy and never full
CONNECTING = 256
READ = 1 << 16
_ACCEPT = decoding.ACCEPT_ENCODING.encode("ascii")

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
    """A whole answer: its status, headers (names lowercased) and body (decoded, scrubbed)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()  # (the names are lowercased as they are read)
        for n, v in self.headers:
            if n == lowered:
                return v
        return None


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    #: both sides ended their message cleanly: it may carry the next request
    reusable: bool = False

    def close(self) -> None:
        self.writer.close()


class Gate:
    """At most ``size`` at once, first come first served: ``asyncio.Semaphore`` without
    its cost per entry (3.11's scans its waiters on each acquire). A place given back is
    handed to the next waiter directly."""

    __slots__ = ("_free", "_waiting")

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed the place, then cancelled
                self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._leave()

    def _leave(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class Pool:
    """Keep-alive connections by origin, at most ``size`` open (HTTP/1.1: one request on
    a connection at a time, so ``size`` is the requests in flight). One event loop's."""

    def __init__(
        self, size: int, connect_timeout: float | None = 10.0, timeout: float | None = None
    ) -> None:
        self.size = size
        self.connect_timeout = connect_timeout
        self.timeout = timeout  # --timeout, as a late answer's message names it
        self._open = Gate(size)
        self._connecting = Gate(min(CONNECTING, size))
        self._targets: dict[str, tuple[Origin, str, bytes]] = {}  # by URL
        self._heads: dict[tuple[Any, ...], bytes] = {}  # a head less its Content-Length
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None
        self.connects = 0  # connections made so far (reuse shows as fewer)

    async def send(self, request: Request, deadline: float | None) -> Reply:
        """The whole answer to ``request`` (any status: the caller decides what a 4xx or
        5xx means), or ``UnavailableError`` (no connection), ``TemporaryError`` (the
        deadline), ``ProtocolError`` (a broken or malformed answer, a cap passed)."""
        origin, target, host = self._target(request.url)
        head = self._head(request, target, host)
        async with self._open:
            if deadline is None:
                return await self._send(origin, request, head)
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout_at(loop.time() + (deadline - time.perf_counter())):
                    return await self._send(origin, request, head)
            except TimeoutError:
                raise Late(late(request, self.timeout)) from None

    async def _send(self, origin: Origin, request: Request, head: bytes) -> Reply:
        reused = self._reuse(origin)
        connection = reused or await self._connect(origin, request)
        try:
            reply = await _exchange(connection, request, head)
        except _NoAnswer as e:
            connection.close()
            kind = Stale if reused is not None else ProtocolError
            raise kind(e.message) from None
        except BaseException:
            connection.close()
            raise
        if connection.reusable:
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
        return reply

    def _target(self, url: str) -> tuple[Origin, str, bytes]:
        """A URL's origin, request target and Host header (made once per URL)."""
        known = self._targets.get(url)
        if known is None:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            port = parts.port or (443 if scheme == "https" else 80)
            origin: Origin = (scheme, (parts.hostname or "").lower(), port)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host = parts.netloc.rsplit("@", 1)[-1].encode("ascii", "replace")
            known = origin, target, host
            if len(self._targets) < 256:
                self._targets[url] = known
        return known

    def _head(self, request: Request, target: str, host: bytes) -> bytes:
        """The request's head (``wire.request_head``), its Content-Length last: the rest
        made once for each method, URL and set of headers (every row of a run shares
        them). Raises ``UsageError`` for a header that cannot be sent."""
        key = (request.method, request.url, *request.headers.items())
        head = self._heads.get(key)
        if head is None:
            headers = [(b"Host", host), (b"Accept-Encoding", _ACCEPT)]
            try:
                headers += [
                    (n.encode("ascii"), v.encode("ascii"))
                    for n, v in request.headers.items()
                    if n.lower() not in ("host", "content-length", "transfer-encoding")
                ]
                head = request_head(request.method.encode("ascii"), target.encode("ascii"), headers)
            except (WireError, UnicodeEncodeError) as e:  # ours: never retried
                raise UsageError(
                    redact(f"cannot send this request: {e}", request.secrets)
                ) from None
            head = head[:-2]  # the blank line comes after Content-Length
            if len(self._heads) < 256:
                self._heads[key] = head
        size = _size(request)
        if size or request.method in ("POST", "PUT", "PATCH"):
            return head + b"Content-Length: %d\r\n\r\n" % size
        return head + b"\r\n"

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            reader = connection.reader
            # bytes that came while it was idle (a late 408, a wrong Content-Length's
            # rest) would be read as the next answer: such a connection is not reused
            quiet = not getattr(reader, "_buffer", b"")
            if quiet and not reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.close()  # the server closed it, or spoke, while it was idle
        return None

    async def _connect(self, origin: Origin, request: Request) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:  # what the session trusts: SSL_CERT_FILE/DIR, certifi
                import httpx

                self._tls = httpx.create_ssl_context()
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


def _size(request: Request) -> int:
    body = request.body
    return len(body) if body is not None else 0


async def _exchange(connection: _Connection, request: Request, head: bytes) -> Reply:
    body = request.body.to_bytes() if isinstance(request.body, Body) else (request.body or b"")
    connection.reusable = False
    try:
        try:
            connection.writer.write(head + body if len(body) < READ else head)
            if len(body) >= READ:
                connection.writer.write(body)
            if connection.writer.transport.get_write_buffer_size():
                await connection.writer.drain()  # (only when the socket did not take it all)
        except (ConnectionError, OSError):  # the request did not get out: no answer
            raise _NoAnswer(_no_answer(request)) from None
        return await _answer(connection, request)
    except WireError as e:
        raise ProtocolError(
            _where(f"a malformed answer from {request.gateway}: {e}", request)
        ) from None
    except (ConnectionError, OSError) as e:
        raise ProtocolError(
            _where(f"connection to {request.gateway} broke: {e.strerror or e}", request)
        ) from None


async def _answer(connection: _Connection, request: Request) -> Reply:
    """The answer's head (every 1xx skipped), then its body as its head frames it."""
    reader = connection.reader
    buffer = b""
    interim = 0
    while True:
        end, start = head_end(buffer)
        while end < 0:
            if len(buffer) > MAX_HEAD:
                raise WireError(f"an answer's head over {MAX_HEAD >> 10} KiB")
            try:
                data = await reader.read(READ)
            except ConnectionError:
                if buffer:
                    raise
                data = b""  # reset before any answer: as a close
            if not data:
                if not buffer:
                    if not interim:  # after a 1xx, the server did answer: no retry at once
                        raise _NoAnswer(_no_answer(request))
                    raise ProtocolError(
                        _where(f"connection to {request.gateway} broke mid-answer", request)
                    )
                raise ProtocolError(
                    _where(f"connection to {request.gateway} broke mid-answer", request)
                )
            seen = len(buffer)
            buffer += data
            end, start = head_end(buffer, seen)
        head = parse_head(buffer[:end])
        buffer = buffer[start:]
        if head.status >= 200:
            break
        interim += 1
        if interim > MAX_INTERIM:
            raise ProtocolError(_where(f"{request.gateway} sent endless interim answers", request))
    error = head.status >= 400
    raw, reusable = await _body(reader, request, head, buffer, error)
    connection.reusable = reusable
    cap = decoding.MAX_BODY if not error else decoding.MAX_ERROR_BODY
    encoding = next((v for n, v in head.headers if n == "content-encoding"), "")
    body = _decoded(raw, encoding, cap, request)
    if request.secrets:
        body = scrub(body, request.secrets)
    return Reply(head.status, head.headers, body)


async def _body(
    reader: asyncio.StreamReader, request: Request, head: Head, buffer: bytes, error: bool
) -> tuple[list[bytes], bool]:
    """The body's bytes as they came (not yet decoded), and whether the connection can
    serve another request: its end came exactly where the head said. Of an error body 64
    KiB is read (the connection is then not reused); any body over 256 MiB is an error."""
    if request.method == "HEAD" or head.status in (204, 304):
        return [], head.keep_alive and not buffer
    most = decoding.MAX_ERROR_BODY if error else decoding.MAX_BODY
    raw: list[bytes] = []
    size = 0
    decoder = ChunkedDecoder() if head.chunked else None
    left = head.length
    data = buffer
    while True:
        if data:
            if decoder is not None:
                try:
                    piece = decoder.feed(data)
                except ChunkError as e:
                    raise WireError(str(e)) from None
            elif left is not None:
                piece, data = data[:left], data[left:]
                left -= len(piece)
            else:
                piece = data
            if piece:
                raw.append(piece)
                size += len(piece)
                if size > most:
                    if error:
                        return raw, False  # what the caller keeps of it is enough
                    raise _too_large(request)
        # (before any read: a Content-Length of 0, a body that came with its head)
        if decoder is not None and decoder.done:
            return raw, head.keep_alive and not decoder.extra
        if left == 0:
            return raw, head.keep_alive and not data
        data = await reader.read(READ)
        if not data:
            if decoder is None and left is None:
                return raw, False  # the body ends where the connection does
            raise ProtocolError(
                _where(f"connection to {request.gateway} broke mid-answer", request)
            )


def _decoded(raw: list[bytes], encoding: str, cap: int, request: Request) -> bytes:
    if not encoding:  # as sent (_body kept it under the cap, an error body at it)
        whole = raw[0] if len(raw) == 1 else b"".join(raw)
        return whole[:cap] if len(whole) > cap else whole
    codings = decoding.decoders(encoding)
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
