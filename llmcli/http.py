"""The thin HTTP core: one httpx client per run, time limits, retries, streamed bytes.

A request is retried (``--retries``, exponential backoff with full jitter) on connection
errors, 408, 429 and 5xx, waiting at least what ``Retry-After`` / ``retry-after-ms`` /
``x-ratelimit-reset-*`` ask — but only before any of the response body has been handed
to the caller, so nothing is ever printed twice. Errors become ``llmcli.errors`` types
with one line that names the status, the gateway, the server's own message and the
request, with every secret redacted.
"""

from __future__ import annotations

import random
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TypeVar

from llmcli.errors import (
    LlmcliError,
    ProtocolError,
    TemporaryError,
    UnavailableError,
    error_for_status,
)

# httpx/__init__.py imports its optional command-line tool (httpx._main), and with it rich
# and pygments, whenever they are installed: ~70 ms of every run for nothing we use. A None
# entry in sys.modules makes that import fail at once, into httpx's own fallback.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

MAX_WAIT = 60.0  # a server asking for a longer wait is answered at once, with its time
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)
AUTH_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})
REDACTED = "***"

Log = Callable[[str], None]
# per-request state rides on httpx's request/response extensions, so batches sent from
# several threads through one client do not share it
_ORIGIN = "llmcli.origin"
_DEADLINE = "llmcli.deadline"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    gateway: str = ""
    secrets: tuple[str, ...] = ()


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


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redacted_headers(headers: Mapping[str, str], secrets: tuple[str, ...]) -> dict[str, str]:
    shown = {}
    for name, value in headers.items():
        if name.lower() in SENSITIVE_HEADERS:
            scheme, sep, _ = value.partition(" ")
            value = f"{scheme} {REDACTED}" if sep and scheme.lower() == "bearer" else REDACTED
        shown[name] = redact(value, secrets)
    return shown


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_wait(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` or ``x-ratelimit-reset-*`` value.

    Accepts seconds (``"1"``, ``"0.5"``), Go-style durations (``"6m0s"``, ``"20ms"``,
    as OpenAI sends), an HTTP date, or a Unix timestamp.
    """
    value = value.strip()
    now = time.time() if now is None else now
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, number - now) if number > 1e9 else max(0.0, number)
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
        return sum(float(n) * scale[u] for n, u in parts)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def server_wait(headers: httpx.Headers) -> float | None:
    """How long the server asks us to wait, if it says."""
    if ms := headers.get("retry-after-ms"):
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    if after := headers.get("retry-after"):
        wait = parse_wait(after)
        if wait is not None:
            return wait
    resets = []
    for name, value in headers.items():
        if name.startswith("x-ratelimit-reset"):
            remaining = headers.get(name.replace("reset", "remaining", 1))
            wait = parse_wait(value)
            if wait is not None and remaining in (None, "0"):
                resets.append(wait)
    return max(resets) if resets else None


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5 s, 1 s, 2 s … capped at 8 s."""
    return min(8.0, 0.5 * 2.0 ** min(attempt, 8)) * random.uniform(0.5, 1.0)


_TAG = re.compile(rb"<[^>]*>")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def ratelimit_summary(headers: httpx.Headers) -> str:
    """``x-ratelimit-*`` headers in words, for a 429 that outlasted the retries."""
    parts = []
    for kind in ("requests", "tokens"):
        limit = headers.get(f"x-ratelimit-limit-{kind}")
        remaining = headers.get(f"x-ratelimit-remaining-{kind}")
        reset = headers.get(f"x-ratelimit-reset-{kind}")
        if limit or remaining or reset:
            text = f"{remaining or '?'} of {limit or '?'} {kind} left"
            parts.append(f"{text}, resets in {reset}" if reset else text)
    return "; ".join(parts)


def advice(status: int, detail: str, gateway: str, headers: httpx.Headers) -> str:
    """What to do about an error status, in a few words."""
    said = detail.lower()
    if status == 402 and not any(w in said for w in ("balance", "credit", "quota", "fund")):
        return "insufficient balance: add credit to the account"
    if status in (401, 403):
        return f"check the key: `llmcli gateways` shows where {gateway}'s comes from"
    if status == 404 and "model" in said:
        return f"`llmcli models -g {gateway}` lists the models"
    if status == 429:
        return ratelimit_summary(headers)
    return ""


def error_text(body: bytes, content_type: str) -> str:
    """The server's own words from an error body, in any shape the gateways use.

    JSON: ``{"error": {"message", "type", "code"}}`` (OpenAI, seeds 002-004),
    ``{"type": "error", "error": {...}}`` (Anthropic), ``{"error": "text"}``,
    ``{"message", "type"}``, ``{"detail": ...}``; otherwise HTML (its title) or text.
    """
    import orjson

    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, str):
            return inner
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("detail") or data.get("message")
            extras = [str(inner[k]) for k in ("type", "code") if inner.get(k)]
            extras = [e for e in extras if e not in ("error", message)]
            text = str(message) if message else ""
            if extras:
                text = f"{text} [{', '.join(dict.fromkeys(extras))}]".strip()
            if text:
                return text
        return orjson.dumps(data).decode()[:300]
    if "html" in content_type or body.lstrip()[:1] == b"<":
        title = _TITLE.search(body)
        raw = title.group(1) if title else _TAG.sub(b" ", body)
        return " ".join(raw.decode("utf-8", "replace").split())[:300] or "(HTML error page)"
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:300] if text else "(empty body)"


def status_line(status: int, reason: str = "") -> str:
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = {529: "Overloaded"}.get(status, "")
    return f"{status} {reason}".strip()


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


class Client:
    """One httpx client for the run. Use as a context manager."""

    def __init__(self, limits: Limits, log: Log, *, verbose: bool = False) -> None:
        self.limits = limits
        self.log = log
        self.verbose = verbose
        self.timing = Timing()
        self.last_headers: httpx.Headers | None = None
        timeout = httpx.Timeout(limits.timeout, connect=limits.connect_timeout)
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            trust_env=True,
            transport=_LazyTransport(),
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
            built = self._http.build_request(
                request.method, request.url, headers=dict(request.headers), content=request.body
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
        except httpx.TransportError as e:
            raise _Retry(self._transport_error(request, e), None) from e
        self.last_headers = response.headers
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
