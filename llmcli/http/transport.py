"""The httpx transport llmcli sends through: HTTP/1.1 on the standard library's http.client.

httpx's own transport (httpcore and h11) turns every chunk of a chunked body into an
event and a generator step, ~7 µs each: most of what a streamed token costs. Here
http.client sends nothing and parses only the status line and headers; the body is read
from the socket in blocks of up to 64 KiB and its chunk framing undone a block at a time
(``llmcli.http.chunked``), so a stream that arrives faster than it is read costs one step per
block, not per token. httpx above it still follows redirects, applies timeouts and
decodes content; its exceptions are raised here with the messages httpcore gives.

The head is checked as h11 checked it (``llmcli.http.response_head``). Connections are kept
alive and pooled per origin (``llmcli.http.connections``), so a batch of requests does not
reconnect for each; one is reused only after its body was read to the end. A request
that meets a pooled connection that dies before any answer is never sent again here: it
is ``StaleConnection``, which ``llmcli.http.session`` counts as a retry (the server may have read
it). Every connection a request uses is watched (``llmcli.http.watchdog``) from the moment it
is taken, TLS handshake included, until its body is closed: the request's deadline
(``DEADLINE``) bounds all of it. The CA bundle is loaded on the first https request only
(~30 ms a run to a local gateway never needs). A URL that goes through a proxy of the
environment is sent by httpx's own transport instead, which honours it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Iterator

import httpx

from llmcli.http.chunked import ChunkedDecoder, ChunkError
from llmcli.http.connections import Key, NetworkStream, Pool
from llmcli.http.response_head import CutHead, Response, framing_problem
from llmcli.http.watchdog import Watch, Watchdog
from llmcli.http.wire import WireError, request_head

__all__ = ["BLOCK", "DEADLINE", "StaleConnection", "Transport"]

BLOCK = 64 << 10  # bytes asked of the socket per read
_VERSIONS = {10: b"HTTP/1.0", 11: b"HTTP/1.1"}
_NO_ANSWER = "Server disconnected without sending a response."
_LATE = "the request's deadline passed"
#: the request extension that carries its deadline (``time.perf_counter()``), or None
DEADLINE = "llmcli.deadline"


class StaleConnection(httpx.RemoteProtocolError):
    """A kept-alive connection ended before any of the answer arrived: the server closed
    it as the request went out, or after it read (and maybe acted on) the request.
    Sending again is a retry like any other, counted and only where allowed."""


class Transport(httpx.BaseTransport):
    """HTTP/1.1 over http.client, pooled; for ``httpx.Client(transport=…)``."""

    def __init__(
        self,
        socket_options: list[tuple[int, int, int]] | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        self._options = socket_options or []
        self._watchdog = watchdog or Watchdog()
        self._pool = Pool()
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
        deadline: float | None = request.extensions.get(DEADLINE)
        head = _head(request)
        sock = self._pool.take(key)
        reused = sock is not None
        if sock is None:
            sock, watch = self._connect(key, request, timeouts.get("connect"), deadline)
        else:
            watch = self._watch(deadline, sock)
        try:
            return self._exchange(key, sock, request, head, timeouts, watch, reused=reused)
        except BaseException as e:
            sock.close()
            self._watchdog.cancel(watch)
            if watch.fired and isinstance(e, (httpx.TransportError, OSError)):
                raise httpx.ReadTimeout(_LATE, request=request) from e
            raise

    def _watch(self, deadline: float | None, sock: socket.socket) -> Watch:
        """From the moment a connection is taken until its body is closed, the request's
        deadline holds (``llmcli.http.watchdog``): request, head, interim answers, body."""
        return Watch(None) if deadline is None else self._watchdog.watch(deadline, sock)

    def _connect(
        self, key: Key, request: httpx.Request, timeout: float | None, deadline: float | None
    ) -> tuple[socket.socket, Watch]:
        scheme, host, port = key
        try:
            sock = socket.create_connection((host, port), timeout)
        except TimeoutError as e:
            raise httpx.ConnectTimeout(str(e) or "timed out", request=request) from e
        except OSError as e:
            raise httpx.ConnectError(str(e), request=request) from e
        watch = self._watch(deadline, sock)
        try:
            for option in self._options:
                sock.setsockopt(*option)
            if scheme == "https":  # the handshake under the watch too: on the TLS socket
                sni = request.extensions.get("sni_hostname") or host
                sock = self._context().wrap_socket(
                    sock, server_hostname=sni, do_handshake_on_connect=False
                )
                self._watchdog.move(watch, sock)
                sock.do_handshake()
        except OSError as e:  # ssl.SSLError and TimeoutError among them
            sock.close()
            self._watchdog.cancel(watch)
            if watch.fired:
                raise httpx.ReadTimeout(_LATE, request=request) from e
            if isinstance(e, TimeoutError):
                raise httpx.ConnectTimeout(str(e) or "timed out", request=request) from e
            raise httpx.ConnectError(str(e), request=request) from e
        return sock, watch

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
        watch: Watch,
        *,
        reused: bool,
    ) -> httpx.Response:
        sock.settimeout(timeouts.get("write"))
        write_error = _send(sock, request, head)
        sock.settimeout(timeouts.get("read"))
        response = Response(sock, request.method)
        try:
            response.begin()
        except http.client.RemoteDisconnected as e:
            if reused and not watch.fired:
                raise StaleConnection(_NO_ANSWER, request=request) from e
            if write_error is not None:
                raise write_error from None
            raise httpx.RemoteProtocolError(_NO_ANSWER, request=request) from e
        except CutHead as e:
            raise httpx.RemoteProtocolError(_NO_ANSWER, request=request) from e
        except (http.client.HTTPException, ValueError) as e:
            shown = " ".join(str(e).split())[:300]  # the server's words: one line, bounded
            raise httpx.RemoteProtocolError(
                f"malformed response head: {shown}", request=request
            ) from e
        except TimeoutError as e:
            raise httpx.ReadTimeout(str(e) or "timed out", request=request) from e
        except OSError as e:
            if reused and isinstance(e, ConnectionResetError) and not watch.fired:
                raise StaleConnection(_NO_ANSWER, request=request) from e
            raise httpx.ReadError(str(e), request=request) from e
        problem = framing_problem(response)
        if problem is not None:
            raise httpx.RemoteProtocolError(problem, request=request)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.getheaders()]
        version = _VERSIONS.get(response.version, b"HTTP/1.1")
        return httpx.Response(
            response.status,
            headers=headers,
            stream=_Body(self._pool, key, sock, response, request, self._watchdog, watch),
            extensions={
                "http_version": version,
                "reason_phrase": response.reason.encode("latin-1", "replace"),
                "network_stream": NetworkStream(sock),
            },
        )


def _head(request: httpx.Request) -> bytes:
    """The request line and headers, checked as h11 checks them."""
    try:
        return request_head(
            request.method.encode("ascii"), request.url.raw_path, request.headers.raw
        )
    except WireError as e:
        raise httpx.LocalProtocolError(str(e), request=request) from None


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
        pool: Pool,
        key: Key,
        sock: socket.socket,
        response: http.client.HTTPResponse,
        request: httpx.Request,
        watchdog: Watchdog,
        watch: Watch,
    ) -> None:
        self._pool = pool
        self._watchdog = watchdog
        self._watch = watch
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
        except (TimeoutError, httpx.RemoteProtocolError) as e:
            if isinstance(e, TimeoutError) or self._watch.fired:  # an end the deadline made
                raise httpx.ReadTimeout(str(e) or "timed out", request=request) from e
            raise
        except OSError as e:
            if self._watch.fired:
                raise httpx.ReadTimeout(_LATE, request=request) from e
            raise httpx.ReadError(str(e), request=request) from e

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self._watchdog.cancel(self._watch)  # before the socket can go back to the pool
        self._response.close()
        if self._reusable and not self._watch.fired:
            self._pool.give(self._key, sock)
        else:
            sock.close()
