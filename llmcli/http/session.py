"""The thin HTTP core: one httpx client per run, time limits, retries, streamed bytes.

A request is retried (``--retries``, exponential backoff with full jitter) on connection
errors, 408, 429 and 5xx, waiting at least what ``Retry-After`` / ``retry-after-ms`` /
``x-ratelimit-reset-*`` ask — but only before any of the response body has been handed
to the caller, so nothing is ever printed twice. Errors become ``llmcli.errors`` types
with one line that names the status, the gateway, the server's own message and the
request, with every secret redacted.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from llmcli.errors import (
    LlmcliError,
    ProtocolError,
    TemporaryError,
    UsageError,
)
from llmcli.http import decoding
from llmcli.http.failures import late, status_error, transport_error
from llmcli.http.request import Body, Request
from llmcli.http.retry import (
    Attempts,
    Pause,
    retryable_status,
    server_wait,
    slow_down,
    summary,
)
from llmcli.http.status import status_line
from llmcli.http.watchdog import Watchdog
from llmcli.redaction import Scrubber, is_credential_header, redact, redacted_headers, scrub

# httpx/__init__.py imports its optional command-line tool (httpx._main), and with it rich
# and pygments, whenever they are installed: ~70 ms of every run for nothing we use. A None
# entry in sys.modules makes that import fail at once, into httpx's own fallback.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

from llmcli.http.governor import Halted  # noqa: E402
from llmcli.http.proxies import Tracer, proxy_in_environment, proxy_mounts  # noqa: E402
from llmcli.http.transport import DEADLINE, StaleConnection, Transport  # noqa: E402

if TYPE_CHECKING:
    from llmcli.http.cache import ResponseCache
    from llmcli.http.governor import Governor
    from llmcli.http.recording import Recorder

Log = Callable[[str], None]
MAX_BODY = decoding.MAX_BODY
MAX_ERROR_BODY = decoding.MAX_ERROR_BODY
# per-request state rides on httpx's request/response extensions, so batches sent from
# several threads through one client do not share it
_ORIGIN = "llmcli.origin"
_WATCH = "llmcli.watch"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RequestLimits:
    timeout: float | None = 600.0
    connect_timeout: float | None = 10.0
    retries: int = 2


@dataclass(slots=True)
class Timing:
    start: float = field(default_factory=time.perf_counter)
    first_byte: float | None = None
    end: float | None = None
    #: the head of the last answer (a gateway may report the request's cost in it)
    headers: httpx.Headers | None = None
    #: with --cache: "hit" when the last answer came from it, else "miss"
    cache: str | None = None

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    #: answered by --cache, not by the server
    cached: bool = False


class _Retry(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, error: LlmcliError, wait: float | None, status: int | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait
        self.status = status


#: with Nagle's algorithm a request's body can wait for the server's delayed ACK of its
#: headers (up to 40 ms on Linux) — asyncio, and so the async SDKs, turn it off for every
#: connection; so does llmcli
_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class Session:
    """The HTTP session of a run: one httpx client, its pool, deadlines and retries."""

    def __init__(
        self,
        limits: RequestLimits,
        log: Log,
        *,
        verbose: bool = False,
        governor: Governor | None = None,
        recorder: Recorder | None = None,
        reroute: Callable[[str], str] | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.limits = limits
        self.log = log
        self.verbose = verbose
        self.governor = governor
        #: --record: every exchange goes to the cassette; --replay: every URL to the
        #: replaying gateway on loopback, never through a proxy (``llmcli.http.recording``)
        self.recorder = recorder
        self.reroute = reroute
        #: --cache: answers kept on disk (``llmcli.http.cache``)
        self.cache = cache
        self.timing = Timing()
        timeout = httpx.Timeout(limits.timeout, connect=limits.connect_timeout)
        self._watchdog = Watchdog()
        # ours sends every request, each connection watched from the request's first byte
        # to the body's last; a URL a proxy of the environment takes (NO_PROXY honoured)
        # goes through httpx's own transport, connections watched as they are made
        # (``Tracer``), none kept alive (a watch must never outlive its request's use)
        self._proxied = proxy_in_environment() and not reroute
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            trust_env=reroute is None,
            transport=Transport(_NODELAY, self._watchdog),
            mounts=proxy_mounts() if self._proxied else None,
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )
        self.received = 0
        self._secrets: tuple[str, ...] = ()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _on_request(self, request: httpx.Request) -> None:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        first = request.extensions.setdefault(_ORIGIN, origin)  # redirects carry it along
        if origin != first:  # a redirect to another origin gets no credentials
            for name in [n for n in request.headers if is_credential_header(n)]:
                del request.headers[name]
        if self.verbose:
            self.log(f"> {request.method} {redact(str(request.url), self._secrets)}")
            for name, value in redacted_headers(request.headers, self._secrets).items():
                self.log(f"> {name}: {value}")

    def _on_response(self, response: httpx.Response) -> None:
        if self.verbose:
            elapsed = (time.perf_counter() - self.timing.start) * 1000
            self.log(f"< {response.http_version} {status_line(response.status_code)}")
            for name, value in redacted_headers(response.headers, self._secrets).items():
                self.log(f"< {name}: {value}")
            self.log(f"* headers after {elapsed:.0f} ms")
        if response.has_redirect_location:
            # httpx reads a redirect's body whole before it follows (a 1 GiB body, a
            # gzip bomb): nobody needs it, so it is not read at all, and the connection
            # is closed rather than drained
            response.close()
            response._content = b""

    def _timeout(self, deadline: float | None) -> httpx.Timeout:
        """Each attempt may use what is left of the request's deadline, no more."""
        connect = self.limits.connect_timeout
        if deadline is None:  # unbounded (a batch file's transfer): each read, --timeout
            return httpx.Timeout(self.limits.timeout, connect=connect)
        left = max(deadline - time.perf_counter(), 0.001)
        return httpx.Timeout(left, connect=min(connect, left) if connect else left)

    def _build(self, request: Request, deadline: float | None) -> httpx.Request:
        headers = dict(request.headers)
        headers.setdefault("Accept-Encoding", decoding.ACCEPT_ENCODING)
        content: bytes | Iterator[bytes] | None = None
        if isinstance(request.body, Body):  # attachments stream in; length known
            headers["Content-Length"] = str(len(request.body))
            content = iter(request.body)
        else:
            content = request.body
        return self._http.build_request(
            request.method,
            request.url if self.reroute is None else self.reroute(request.url),
            headers=headers,
            content=content,
            timeout=self._timeout(deadline),
            extensions={DEADLINE: deadline},
        )

    def _send(self, built: httpx.Request, deadline: float | None) -> httpx.Response:
        """httpx's send; through a proxy, every connection it makes watched (``Tracer``)."""
        if not self._proxied or deadline is None:
            return self._http.send(built, stream=True)
        tracer = built.extensions["trace"] = Tracer(self._watchdog, deadline)
        try:
            response = self._http.send(built, stream=True)
        except BaseException:
            tracer.cancel()
            raise
        response.extensions[_WATCH] = tracer
        return response

    def _attempt(self, request: Request, deadline: float | None) -> httpx.Response:
        """One try: a 2xx response with its body unread, or ``_Retry``/a final error."""
        try:
            response = self._send(self._build(request, deadline), deadline)
        except httpx.TooManyRedirects as e:
            raise ProtocolError(
                redact(
                    f"too many redirects from {request.gateway} ({request.method} {request.url})",
                    request.secrets,
                )
            ) from e
        except httpx.UnsupportedProtocol as e:  # a redirect to file:, ftp: …: never followed
            raise ProtocolError(
                redact(
                    f"{request.gateway} redirected to a URL llmcli does not follow ({e}; only "
                    f"http and https) ({request.method} {request.url})",
                    request.secrets,
                )
            ) from e
        except httpx.LocalProtocolError as e:  # ours, not the network's: never retried
            raise UsageError(redact(f"cannot send this request: {e}", request.secrets)) from e
        except httpx.StreamConsumed as e:
            raise ProtocolError(
                f"{request.gateway} redirected a request whose body was already sent "
                f"(attachments); use the final URL ({request.method} {request.url})"
            ) from e
        except httpx.TransportError as e:
            failure = transport_error(request, e, deadline, self.limits.timeout)
            if request.once and not isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout)):
                raise failure from e  # it may have been acted on: never twice
            # a kept-alive connection that died under the request: a retry (counted: the
            # server may have read it), but no reason to wait before it
            raise _Retry(failure, 0.0 if isinstance(e, StaleConnection) else None) from e
        if response.status_code < 400:
            self.timing.headers = response.headers
            if self.governor is not None and _ratelimited(response.headers):
                hint = slow_down(response.headers, self.governor.in_flight)
                if hint is not None:
                    self.governor.hold(hint)
            return response
        raise self._refused(request, response, deadline)

    def _refused(
        self, request: Request, response: httpx.Response, deadline: float | None
    ) -> LlmcliError | _Retry:
        """What a 4xx/5xx answer means: its error, to raise or to retry (``_Retry``)."""
        try:  # of an error body, 64 KiB at most is read (DESIGN.md, "Limits"), and
            # scrubbed before anything shortens it or shows it
            body = scrub(decoding.head(_decoded(response), MAX_ERROR_BODY), request.secrets)
        except (httpx.HTTPError, decoding.DecodingError) as e:
            if deadline is not None and time.perf_counter() >= deadline - 0.01:
                raise TemporaryError(late(request, self.limits.timeout)) from e
            body = b""
        finally:
            _close(response)
        if response.headers.get("x-llmcli-replay") == "miss":  # never retried
            from llmcli.http.recording import miss

            raise miss(body, request)
        if self.recorder is not None:
            self.recorder.write(request, response.status_code, response.headers.multi_items(), body)
        error = status_error(request, response, body)
        if not retryable_status(response.status_code) or (
            request.once and response.status_code not in (429, 503)
        ):
            return error
        return _Retry(error, server_wait(response.headers), response.status_code)

    def _with_retries(
        self,
        request: Request,
        attempt: Callable[[float | None], _T],
        halted: Callable[[], bool] | None = None,
    ) -> _T:
        """``attempt`` until it succeeds, within the request's one deadline (--timeout):
        a retry whose wait would pass the deadline is not started. With a governor, a
        429/503 that names its wait pauses every worker and is not counted as a retry.
        ``halted`` (a batch run stopped by a 401): no attempt starts once it says so."""
        self._secrets = request.secrets
        timeout = self.limits.timeout
        deadline = time.perf_counter() + timeout if timeout and request.bounded else None
        governor = self.governor
        plan = Attempts(
            self.limits.retries, deadline, governor.max_wait if governor is not None else None
        )
        ticket = 0
        while True:
            if halted is not None and halted():
                raise Halted
            try:
                if governor is None:
                    return attempt(deadline)
                with governor.slot() as ticket:
                    result = attempt(deadline)
                governor.succeeded()
                return result
            except _Retry as retry:
                step = plan.after(retry.error, retry.wait, retry.status)
                if isinstance(step, LlmcliError):
                    raise step from (None if plan.gave_up else retry.__cause__)
                if isinstance(step, Pause):
                    assert governor is not None
                    if governor.pause(step.seconds, ticket):
                        self.log(
                            f"llmcli: {summary(retry.error)}; pausing all requests "
                            f"for {step.seconds:.1f}s"
                        )
                    continue
                self.log(step.line)
                time.sleep(step.delay)

    @contextmanager
    def open(self, request: Request) -> Iterator[httpx.Response]:
        """A 2xx response, its body not yet read, for streaming; retried as needed."""
        response = self._with_retries(request, lambda deadline: self._attempt(request, deadline))
        try:
            yield response
        finally:
            _close(response)

    def cached(self, request: Request) -> Answer | None:
        """The answer --cache kept for an identical request, or None (no cache, none
        kept, or a request no cache answers)."""
        if self.cache is None or not request.cacheable:
            return None
        hit = self.cache.get(request)
        timing = self.timing
        if hit is None:
            timing.cache = "miss"
            return None
        timing.cache = "hit"
        timing.mark_first_byte()
        timing.end = time.perf_counter()
        timing.headers = httpx.Headers(list(hit.headers))
        if self.recorder is not None:  # a cassette holds every answer the run got
            self.recorder.write(request, hit.status, hit.headers, hit.body)
        return Answer(hit.status, timing.headers, hit.body, cached=True)

    def keep(self, request: Request, answer: Answer) -> None:
        """--cache: keep an answer its reader accepted, for the next identical request."""
        if self.cache is not None and request.cacheable and not answer.cached:
            self.cache.put(
                request, answer.status, answer.headers.multi_items(), answer.body, self.log
            )

    def send(self, request: Request, halted: Callable[[], bool] | None = None) -> Answer:
        """The whole response of a non-streaming request, retried while nothing is out
        (and, with ``halted``, while it says False). With --cache, an identical request
        answered before is answered from it; this answer is kept only when its reader,
        having checked it, says so (``keep``): a 200 may carry an error."""
        hit = self.cached(request)
        if hit is not None:
            return hit

        def attempt(deadline: float | None) -> Answer:
            response = self._attempt(request, deadline)
            try:
                body = self.read_whole(request, self.iter_bytes(request, response))
            except (TemporaryError, ProtocolError) as e:
                if (
                    isinstance(e, _TooLarge)
                    or request.once  # the server took it: sent again, it acts again
                    or (deadline is not None and time.perf_counter() >= deadline)
                ):
                    raise
                raise _Retry(e, None) from e
            finally:
                _close(response)
            return Answer(response.status_code, response.headers, body)

        return self._with_retries(request, attempt, halted)

    def read_whole(self, request: Request, chunks: Iterator[bytes]) -> bytes:
        """A body read whole, up to 256 MiB (counted after decompression)."""
        kept = bytearray()
        for chunk in chunks:
            kept += chunk
            if len(kept) > MAX_BODY:
                raise _TooLarge(
                    redact(
                        f"the answer from {request.gateway} is larger than "
                        f"{MAX_BODY >> 20} MiB ({request.method} {request.url})",
                        request.secrets,
                    )
                )
        return bytes(kept)

    def iter_bytes(self, request: Request, response: httpx.Response) -> Iterator[bytes]:
        """The body as it arrives, decompressed in bounded steps; errors typed."""
        deadline = response.request.extensions.get(DEADLINE)
        tee = self.recorder.tee(request, response) if self.recorder is not None else None
        # an echoed secret is scrubbed before anyone reads the body, a cassette included
        body = _decoded(response)
        if request.secrets:
            body = _scrubbed(body, Scrubber(request.secrets))
        try:
            for chunk in body if tee is None else tee.chunks(body):
                if deadline is not None and time.perf_counter() > deadline:
                    raise TemporaryError(late(request, self.limits.timeout))
                if chunk:
                    self.timing.mark_first_byte()
                    self.received += len(chunk)
                    yield chunk
            if deadline is not None and time.perf_counter() > deadline and _to_close(response):
                # the watchdog ended it: cut, not whole
                raise TemporaryError(late(request, self.limits.timeout))
        except decoding.DecodingError as e:
            raise ProtocolError(
                redact(
                    f"the answer from {request.gateway}: {e} ({request.method} {request.url})",
                    request.secrets,
                )
            ) from None
        except httpx.TransportError as e:
            if deadline is not None and time.perf_counter() >= deadline - 0.01:
                raise TemporaryError(late(request, self.limits.timeout)) from e
            if isinstance(e, httpx.TimeoutException):
                raise TemporaryError(
                    redact(
                        f"timed out reading from {request.gateway} "
                        f"({request.method} {request.url})",
                        request.secrets,
                    )
                ) from e
            raise ProtocolError(
                redact(
                    f"connection to {request.gateway} broke mid-response: "
                    f"{e or type(e).__name__} ({request.method} {request.url})",
                    request.secrets,
                )
            ) from e
        finally:
            if tee is not None:
                tee.close()
            self.timing.end = time.perf_counter()
            if self.verbose:
                self.log(
                    f"* {self.received} bytes in "
                    f"{(self.timing.end - self.timing.start) * 1000:.0f} ms"
                )


class _TooLarge(ProtocolError):
    """A body over its cap: never retried (it would only come again)."""


def _close(response: httpx.Response) -> None:
    tracer = response.extensions.get(_WATCH)
    if tracer is not None:
        tracer.cancel()
    response.close()


def _ratelimited(headers: httpx.Headers) -> bool:
    """Whether an answer says anything of its rate limit (one pass over raw headers)."""
    return any(name[:11] in (b"x-ratelimit", b"anthropic-r") for name, _ in headers.raw)


def _to_close(response: httpx.Response) -> bool:
    """Whether the body ends only where the connection does (no length, not chunked)."""
    headers = response.headers
    return (
        "content-length" not in headers
        and "chunked" not in headers.get("transfer-encoding", "").lower()
    )


def _decoded(response: httpx.Response) -> Iterator[bytes]:
    codings = decoding.decoders(response.headers.get("content-encoding", ""))
    if codings is None:  # br, zstd …: httpx's decoders, when installed
        return response.iter_bytes()
    return decoding.decode(response.iter_raw(), codings)


def _scrubbed(chunks: Iterator[bytes], scrubber: Scrubber) -> Iterator[bytes]:
    for chunk in chunks:
        yield scrubber.feed(chunk)
    yield scrubber.close()
