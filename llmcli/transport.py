"""The httpx transport llmcli sends through: HTTP/1.1 on the standard library's http.client.

httpx's own transport (httpcore and h11) turns every chunk of a chunked body into an
event and a generator step, ~7 µs each: most of what a streamed token costs. Here
http.client sends nothing and parses only the status line and headers; the body is read
from the socket in blocks of up to 64 KiB and its chunk framing undone a block at a time
(``llmcli.chunked``), so a stream that arrives faster than it is read costs one step per
block, not per token. httpx above it still follows redirects, applies timeouts and
decodes content; its exceptions are raised here with the messages httpcore gives.

Where http.client is lenient, the head is checked as h11 checked it: a head cut short,
a line that is no header, a transfer coding other than chunked alone and a Content-Length
that is not one number are ``RemoteProtocolError``; a 1xx (103 Early Hints) is skipped.
http.client's own limits stay: 100 header lines of 64 KiB at most.

Connections are kept alive and pooled per origin (at most ``MAX_IDLE`` idle, each for
``KEEP_ALIVE`` seconds): a batch of requests does not reconnect for each. A connection
is reused only after its body was read to the end, and never once the server has closed
it; a request that meets a pooled connection the server closed as it went out is sent
again on a new one only when that is harmless (an idempotent method, or a request the
caller marks ``llmcli.replayable``). The CA bundle is loaded on the first https request only
(~30 ms a run to a local gateway never needs). With a proxy in the environment
``llmcli.http`` uses httpx's own transport instead, which honours it.
"""

from __future__ import annotations

import http.client
import re
import select
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

import httpx

from llmcli.chunked import ChunkedDecoder, ChunkError

__all__ = ["BLOCK", "KEEP_ALIVE", "MAX_IDLE", "Transport"]

BLOCK = 64 << 10  # bytes asked of the socket per read
KEEP_ALIVE = 5.0  # seconds an idle connection is kept (httpx's default)
MAX_IDLE = 20  # idle connections kept per origin (httpx's default, for all origins)
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_BAD_VALUE = re.compile(rb"[\r\n\x00]")
_VERSIONS = {10: b"HTTP/1.0", 11: b"HTTP/1.1"}
_DIGITS = re.compile(r"[0-9]{1,20}")  # a Content-Length, as h11 bounds it
_REPLAYABLE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

Key = tuple[str, str, int]


class _NetworkStream:
    """What ``response.extensions["network_stream"]`` holds: the socket, for the
    watchdog that shuts it down at a deadline (``llmcli.watchdog``)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self._sock if name == "socket" else None


class _Pool:
    """Idle keep-alive connections per origin, newest last."""

    def __init__(self) -> None:
        self._idle: dict[Key, list[tuple[float, socket.socket]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def take(self, key: Key) -> socket.socket | None:
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                since, sock = idle.pop()
            if now - since < KEEP_ALIVE and not _readable(sock):
                return sock
            sock.close()  # expired, or the server closed it (or sent what it should not)

    def give(self, key: Key, sock: socket.socket) -> None:
        with self._lock:
            if self._closed:  # a body closed after the client was
                dropped = [(0.0, sock)]
            else:
                idle = self._idle.setdefault(key, [])
                idle.append((time.monotonic(), sock))
                dropped = idle[:-MAX_IDLE]
                del idle[:-MAX_IDLE]
        for _, old in dropped:
            old.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
            self._closed = True
        for socks in idle.values():
            for _, sock in socks:
                sock.close()


def _readable(sock: socket.socket) -> bool:
    """An idle connection with something to read has been closed (or spoiled) by the
    server; httpcore makes the same check."""
    try:
        if sys.platform == "win32" or not hasattr(select, "poll"):
            return bool(select.select([sock], [], [], 0)[0])
        poll = select.poll()
        poll.register(sock, select.POLLIN)
        return bool(poll.poll(0))
    except (OSError, ValueError):
        return True


class Transport(httpx.BaseTransport):
    """HTTP/1.1 over http.client, pooled; for ``httpx.Client(transport=…)``."""

    def __init__(self, socket_options: list[tuple[int, int, int]] | None = None) -> None:
        self._options = socket_options or []
        self._pool = _Pool()
        self._tls: ssl.SSLContext | None = None
        self._tls_lock = threading.Lock()

    def close(self) -> None:
        self._pool.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{url.scheme}://'."
            )
        key: Key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        head = _head(request)
        sock = self._pool.take(key)
        if sock is not None:
            try:
                return self._exchange(key, sock, request, head, timeouts, reused=True)
            except _Stale:  # closed by the server as the request went out: a new one
                # ... or after it acted on it: sent again only if that does no harm
                # (RFC 9110, 9.2.2), as httpcore never sends a request twice
                replayable = request.method in _REPLAYABLE or request.extensions.get(
                    "llmcli.replayable", False
                )
                if not (replayable and isinstance(request.stream, httpx.ByteStream)):
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response.", request=request
                    ) from None
        sock = self._connect(key, request, timeouts.get("connect"))
        return self._exchange(key, sock, request, head, timeouts, reused=False)

    def _connect(self, key: Key, request: httpx.Request, timeout: float | None) -> socket.socket:
        scheme, host, port = key
        try:
            sock = socket.create_connection((host, port), timeout)
        except TimeoutError as e:
            raise httpx.ConnectTimeout(str(e) or "timed out", request=request) from e
        except OSError as e:
            raise httpx.ConnectError(str(e), request=request) from e
        try:
            for option in self._options:
                sock.setsockopt(*option)
            if scheme == "https":
                sni = request.extensions.get("sni_hostname") or host
                sock = self._context().wrap_socket(sock, server_hostname=sni)
        except TimeoutError as e:
            sock.close()
            raise httpx.ConnectTimeout(str(e) or "timed out", request=request) from e
        except OSError as e:  # ssl.SSLError among them
            sock.close()
            raise httpx.ConnectError(str(e), request=request) from e
        return sock

    def _context(self) -> ssl.SSLContext:
        with self._tls_lock:
            if self._tls is None:
                context = httpx.create_ssl_context()
                context.set_alpn_protocols(["http/1.1"])
                self._tls = context
            return self._tls

    def _exchange(
        self,
        key: Key,
        sock: socket.socket,
        request: httpx.Request,
        head: bytes,
        timeouts: dict[str, float | None],
        *,
        reused: bool,
    ) -> httpx.Response:
        try:
            sock.settimeout(timeouts.get("write"))
            write_error = _send(sock, request, head)
            sock.settimeout(timeouts.get("read"))
            response = _Response(sock, request.method)
            try:
                response.begin()
            except http.client.RemoteDisconnected as e:
                if reused:
                    raise _Stale from e
                if write_error is not None:
                    raise write_error from None
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from e
            except _CutHead as e:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from e
            except (http.client.HTTPException, ValueError) as e:
                raise httpx.RemoteProtocolError(
                    f"malformed response head: {e}", request=request
                ) from e
            except TimeoutError as e:
                raise httpx.ReadTimeout(str(e) or "timed out", request=request) from e
            except OSError as e:
                if reused and isinstance(e, ConnectionResetError):
                    raise _Stale from e
                raise httpx.ReadError(str(e), request=request) from e
            problem = _framing_problem(response)
            if problem is not None:
                raise httpx.RemoteProtocolError(problem, request=request)
        except BaseException:
            sock.close()
            raise
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.getheaders()]
        version = _VERSIONS.get(response.version, b"HTTP/1.1")
        return httpx.Response(
            response.status,
            headers=headers,
            stream=_Body(self._pool, key, sock, response, request),
            extensions={
                "http_version": version,
                "reason_phrase": response.reason.encode("latin-1", "replace"),
                "network_stream": _NetworkStream(sock),
            },
        )


class _CutHead(http.client.HTTPException):
    """The connection ended inside the response's head."""


class _HeadFile:
    """The response's file while its head is read: a line cut short by the connection's
    end is an error, where http.client would take it for the end of the head."""

    def __init__(self, fp: IO[bytes]) -> None:
        self._fp = fp
        self._lines = 0

    def readline(self, limit: int = -1) -> bytes:
        line = self._fp.readline(limit)
        # b"" before any line is http.client's RemoteDisconnected; a line of ``limit``
        # bytes its LineTooLong
        if not line.endswith(b"\n") and (line or self._lines) and len(line) != limit:
            raise _CutHead("incomplete response head")
        self._lines += 1
        return line

    def close(self) -> None:
        self._fp.close()


class _Response(http.client.HTTPResponse):
    """http.client's head parser, strict where it is lenient: the head must end in its
    blank line, and every 1xx (103 Early Hints …) is skipped as 100 is (RFC 9110, 15.2)."""

    def __init__(self, sock: socket.socket, method: str) -> None:
        super().__init__(sock, method=method)
        self._file = self.fp
        self.fp = _HeadFile(self._file)  # type: ignore[assignment]

    def begin(self) -> None:
        try:
            super().begin()
        finally:
            if self.fp is not None:  # None: http.client closed it (a bad status line)
                self.fp = self._file

    def _read_status(self) -> tuple[str, int, str]:
        version, status, reason = super()._read_status()  # type: ignore[misc]
        if 101 < status < 200:  # begin() skips a 100 and its headers
            status = http.client.CONTINUE
        return version, status, reason


def _framing_problem(response: http.client.HTTPResponse) -> str | None:
    """Why a head http.client accepted cannot frame a body, as h11 rejected it: a line
    that is no header (the email parser takes it and all after it, Transfer-Encoding
    among them, for a body), a coding other than chunked alone, a Content-Length that
    is not one number (http.client would read to the close, or take "1_0" for 10)."""
    msg = response.msg
    if msg.defects or msg.get_payload():
        return "illegal header line"
    codings = msg.get_all("transfer-encoding")
    if codings is not None:
        if len(codings) > 1 or not response.chunked:
            return "Only Transfer-Encoding: chunked is supported"
        return None
    lengths = msg.get_all("content-length")
    if lengths is not None and (len(lengths) > 1 or not _DIGITS.fullmatch(lengths[0].strip())):
        return "bad Content-Length"
    return None


class _Stale(Exception):
    """A pooled connection the server had closed: the request goes on a new one."""


def _head(request: httpx.Request) -> bytes:
    """The request line and headers, checked as h11 checks them."""
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if not _TOKEN.fullmatch(name):
            raise httpx.LocalProtocolError(f"Illegal header name {name!r}", request=request)
        if _BAD_VALUE.search(value):
            raise httpx.LocalProtocolError(f"Illegal header value {value!r}", request=request)
        lines.append(b"%s: %s\r\n" % (name, value))
    lines.append(b"\r\n")
    return b"".join(lines)


def _send(sock: socket.socket, request: httpx.Request, head: bytes) -> httpx.TransportError | None:
    """Head and body out. A server may answer (413 …) and close before the body is all
    sent: that write error is returned, and the answer read, as httpcore does."""
    chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
    declared = request.headers.get("content-length")
    left = int(declared) if declared and declared.isdigit() and not chunked else None
    pending = head
    try:
        stream = request.stream
        assert isinstance(stream, httpx.SyncByteStream)
        for part in stream:
            if not part:
                continue
            if left is not None:
                left -= len(part)
                if left < 0:
                    raise httpx.LocalProtocolError(
                        "Too much data for declared Content-Length", request=request
                    )
            if chunked:
                part = b"%x\r\n%s\r\n" % (len(part), part)
            if pending:
                if len(pending) + len(part) <= BLOCK:
                    pending += part
                    continue
                sock.sendall(pending)
                pending = b""
            sock.sendall(part)
        if left:
            raise httpx.LocalProtocolError(
                "Too little data for declared Content-Length", request=request
            )
        if chunked:
            pending += b"0\r\n\r\n"
        if pending:
            sock.sendall(pending)
    except TimeoutError as e:
        raise httpx.WriteTimeout(str(e) or "timed out", request=request) from e
    except OSError as e:
        return httpx.WriteError(str(e), request=request)
    return None


class _Body(httpx.SyncByteStream):
    """A response body as it arrives, in blocks; the connection back to the pool (or
    closed) when it is closed."""

    def __init__(
        self,
        pool: _Pool,
        key: Key,
        sock: socket.socket,
        response: http.client.HTTPResponse,
        request: httpx.Request,
    ) -> None:
        self._pool = pool
        self._key = key
        self._sock: socket.socket | None = sock
        self._response = response
        self._request = request
        self._reusable = False

    def __iter__(self) -> Iterator[bytes]:
        response, request = self._response, self._request
        fp = response.fp
        if fp is None or response.length == 0:  # HEAD, 204, 304 (chunked or not): no body
            self._reusable = not response.will_close
            return
        try:
            if response.chunked:
                decoder = ChunkedDecoder()
                while not decoder.done:
                    data = fp.read1(BLOCK)
                    if not data:
                        raise httpx.RemoteProtocolError(
                            "peer closed connection without sending complete message body: "
                            "incomplete chunked read",
                            request=request,
                        )
                    payload = decoder.feed(data)
                    if payload:
                        yield payload
                self._reusable = not decoder.extra and not response.will_close
            elif response.length is not None:
                length = left = response.length
                while left:
                    data = fp.read1(min(BLOCK, left))
                    if not data:
                        raise httpx.RemoteProtocolError(
                            "peer closed connection without sending complete message body: "
                            f"received {length - left} bytes, expected {length}",
                            request=request,
                        )
                    left -= len(data)
                    yield data
                self._reusable = not response.will_close
            else:  # delimited by the connection's close
                while data := fp.read1(BLOCK):
                    yield data
        except ChunkError as e:
            raise httpx.RemoteProtocolError(str(e), request=request) from e
        except TimeoutError as e:
            raise httpx.ReadTimeout(str(e) or "timed out", request=request) from e
        except OSError as e:
            raise httpx.ReadError(str(e), request=request) from e

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self._response.close()
        if self._reusable:
            self._pool.give(self._key, sock)
        else:
            sock.close()
