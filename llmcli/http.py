"""The thin HTTP core: one httpx client per run, time limits, retries, streamed bytes.

A request is retried (``--retries``, exponential backoff with full jitter) on connection
errors, 408, 429 and 5xx, waiting at least what ``Retry-After`` / ``retry-after-ms`` /
``x-ratelimit-reset-*`` ask — but only before any of the response body has been handed
to the caller, so nothing is ever printed twice. Errors become ``llmcli.errors`` types
with one line that names the status, the gateway, the server's own message and the
request, with every secret redacted.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from llmcli.errors import (
    LlmcliError,
    ProtocolError,
    TemporaryError,
    UnavailableError,
    UsageError,
    error_for_status,
)
from llmcli.policy import (
    MAX_WAIT,
    advice,
    backoff,
    error_text,
    retryable_status,
    server_wait,
    status_line,
)
from llmcli.wire import AUTH_HEADERS, Body, Request, redact, redacted_headers

# httpx/__init__.py imports its optional command-line tool (httpx._main), and with it rich
# and pygments, whenever they are installed: ~70 ms of every run for nothing we use. A None
# entry in sys.modules makes that import fail at once, into httpx's own fallback.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

Log = Callable[[str], None]
# per-request state rides on httpx's request/response extensions, so batches sent from
# several threads through one client do not share it
_ORIGIN = "llmcli.origin"
_DEADLINE = "llmcli.deadline"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Limits:
    timeout: float | None = 600.0
    connect_timeout: float | None = 10.0
    retries: int = 2


@dataclass(slots=True)
class Timing:
    start: float = field(default_factory=time.perf_counter)
    first_byte: float | None = None
    end: float | None = None

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes


class _Retry(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, error: LlmcliError, wait: float | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait


class _LazyTransport(httpx.BaseTransport):
    """httpx's transports, made on first use, one per scheme.

    A verifying transport loads the CA bundle when it is built (~30 ms), which a run that
    talks plain http to a local gateway never needs: plain http never uses TLS, so its
    transport is built without a CA bundle; https gets httpx's verifying default.
    """

    def __init__(self) -> None:
        self._by_scheme: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        transport = self._by_scheme.get(scheme)
        if transport is None:
            plain = scheme == "http"
            transport = httpx.HTTPTransport(verify=not plain)
            self._by_scheme[scheme] = transport
        return transport.handle_request(request)

    def close(self) -> None:
        for transport in self._by_scheme.values():
            transport.close()


def _proxy_in_environment() -> bool:
    names = ("http_proxy", "https_proxy", "all_proxy")
    return any(os.environ.get(n) or os.environ.get(n.upper()) for n in names)


class Client:
    """One httpx client for the run. Use as a context manager."""

    def __init__(self, limits: Limits, log: Log, *, verbose: bool = False) -> None:
        self.limits = limits
        self.log = log
        self.verbose = verbose
        self.timing = Timing()
        timeout = httpx.Timeout(limits.timeout, connect=limits.connect_timeout)
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            trust_env=True,
            # with a proxy in the environment, httpx's own transport honours it
            transport=None if _proxy_in_environment() else _LazyTransport(),
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )
        self.received = 0
        self._secrets: tuple[str, ...] = ()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _on_request(self, request: httpx.Request) -> None:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        first = request.extensions.setdefault(_ORIGIN, origin)  # redirects carry it along
        if origin != first:  # a redirect to another host gets no credentials
            for name in AUTH_HEADERS:
                request.headers.pop(name, None)
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

    def _fail(self, request: Request, response: httpx.Response, body: bytes) -> LlmcliError:
        status = response.status_code
        reason = status_line(status, response.reason_phrase)
        detail = error_text(body, response.headers.get("content-type", ""))
        source = f" from {request.gateway}" if request.gateway else ""
        wait = server_wait(response.headers)
        notes = [f"retry after {wait:.0f}s"] if wait is not None and status in (408, 429) else []
        notes.append(advice(status, detail, request.gateway, response.headers))
        tail = "".join(f"; {note}" for note in notes if note)
        message = f"{reason}{source}: {detail}{tail} ({request.method} {request.url})"
        return error_for_status(status)(redact(message, request.secrets))

    def _transport_error(self, request: Request, e: httpx.TransportError) -> LlmcliError:
        where = f"({request.method} {request.url})"
        if isinstance(e, httpx.TimeoutException):
            what = "connect timeout" if isinstance(e, httpx.ConnectTimeout) else "timed out"
            error: LlmcliError = TemporaryError(f"{what} talking to {request.gateway} {where}")
        elif isinstance(e, httpx.ConnectError):
            error = UnavailableError(f"cannot connect to {request.gateway}: {e} {where}")
        else:
            error = ProtocolError(f"connection to {request.gateway} broke: {e!s} {where}")
        error.message = redact(error.message, request.secrets)
        return error

    def _attempt(self, request: Request) -> httpx.Response:
        """One try: a 2xx response with its body unread, or ``_Retry``/a final error."""
        deadline = time.perf_counter() + self.limits.timeout if self.limits.timeout else None
        try:
            headers = dict(request.headers)
            content: bytes | Iterator[bytes] | None = None
            if isinstance(request.body, Body):  # attachments stream in; length known
                headers["Content-Length"] = str(len(request.body))
                content = iter(request.body)
            else:
                content = request.body
            built = self._http.build_request(
                request.method, request.url, headers=headers, content=content
            )
            response = self._http.send(built, stream=True)
            response.extensions[_DEADLINE] = deadline
        except httpx.TooManyRedirects as e:
            raise ProtocolError(
                redact(
                    f"too many redirects from {request.gateway} ({request.method} {request.url})",
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
            raise _Retry(self._transport_error(request, e), None) from e
        if response.status_code < 400:
            return response
        try:
            body = response.read()[:65536]
        except httpx.HTTPError:
            body = b""
        finally:
            response.close()
        error = self._fail(request, response, body)
        if not retryable_status(response.status_code):
            raise error
        raise _Retry(error, server_wait(response.headers))

    def _with_retries(self, request: Request, attempt: Callable[[], _T]) -> _T:
        self._secrets = request.secrets
        for number in range(self.limits.retries + 1):
            try:
                return attempt()
            except _Retry as retry:
                last = number >= self.limits.retries
                if last or (retry.wait is not None and retry.wait > MAX_WAIT):
                    raise retry.error from retry.__cause__
                delay = retry.wait if retry.wait is not None else backoff(number)
                summary = retry.error.message.rsplit(" (", 1)[0]
                self.log(
                    f"llmcli: {summary}; retry {number + 1}/{self.limits.retries} in {delay:.1f}s"
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    @contextmanager
    def open(self, request: Request) -> Iterator[httpx.Response]:
        """A 2xx response, its body not yet read, for streaming; retried as needed."""
        response = self._with_retries(request, lambda: self._attempt(request))
        try:
            yield response
        finally:
            response.close()

    def send(self, request: Request) -> Reply:
        """The whole response of a non-streaming request, retried while nothing is out."""

        def attempt() -> Reply:
            response = self._attempt(request)
            try:
                body = b"".join(self.iter_bytes(request, response))
            except (TemporaryError, ProtocolError) as e:
                raise _Retry(e, None) from e
            finally:
                response.close()
            return Reply(response.status_code, response.headers, body)

        return self._with_retries(request, attempt)

    def iter_bytes(self, request: Request, response: httpx.Response) -> Iterator[bytes]:
        """The body as it arrives, one network read at a time; errors typed."""
        deadline = response.extensions.get(_DEADLINE)
        try:
            for chunk in response.iter_bytes():
                if deadline is not None and time.perf_counter() > deadline:
                    raise TemporaryError(
                        redact(
                            f"{request.gateway} took longer than --timeout "
                            f"{self.limits.timeout:g}s ({request.method} {request.url})",
                            request.secrets,
                        )
                    )
                if chunk:
                    self.timing.mark_first_byte()
                    self.received += len(chunk)
                    yield chunk
        except httpx.TimeoutException as e:
            raise TemporaryError(
                redact(
                    f"timed out reading from {request.gateway} ({request.method} {request.url})",
                    request.secrets,
                )
            ) from e
        except httpx.TransportError as e:
            raise ProtocolError(
                redact(
                    f"connection to {request.gateway} broke mid-response: "
                    f"{e or type(e).__name__} ({request.method} {request.url})",
                    request.secrets,
                )
            ) from e
        finally:
            self.timing.end = time.perf_counter()
            if self.verbose:
                self.log(
                    f"* {self.received} bytes in "
                    f"{(self.timing.end - self.timing.start) * 1000:.0f} ms"
                )
