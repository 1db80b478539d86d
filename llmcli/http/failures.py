"""What a failed request says: one line naming the status or what broke, the gateway,
the server's own words, advice, and the request, every secret redacted (DESIGN.md,
"Errors and exit codes"). The exit code comes with the error's type."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from llmcli.errors import (
    LlmcliError,
    ProtocolError,
    TemporaryError,
    UnavailableError,
    error_for_status,
)
from llmcli.http.retry import server_wait
from llmcli.http.status import advice, error_text, status_line
from llmcli.redaction import redact

if TYPE_CHECKING:
    import httpx

    from llmcli.http.request import Request

__all__ = ["late", "request_id", "status_error", "transport_error"]


def _version_hint(url: str) -> str:
    """A 404 from a URL without a version prefix: base URLs include it (``…/v1``)."""
    import re
    from urllib.parse import urlsplit

    path = urlsplit(url).path
    if re.search(r"/v\d+(beta\d*|alpha\d*)?(/|$)", path) or path.endswith(".php"):
        return ""
    return "a base URL includes its version prefix: try --base-url …/v1"


def status_error(request: Request, response: httpx.Response, body: bytes) -> LlmcliError:
    """The error of a 4xx/5xx answer: one line with the status, the gateway, the
    server's own words (``body`` already scrubbed), advice, and the request."""
    status = response.status_code
    reason = status_line(status, response.reason_phrase)
    detail = error_text(body, response.headers.get("content-type", ""))
    source = f" from {request.gateway}" if request.gateway else ""
    wait = server_wait(response.headers)
    notes = []
    if wait is not None and status in (408, 429):  # a wait under a second, in ms
        notes.append(
            f"retry after {wait:.0f}s" if wait >= 1 else f"retry after {wait * 1000:.0f}ms"
        )
    notes.append(advice(status, detail, request.gateway, response.headers, request.no_key))
    if status == 404 and "model" not in detail.lower():
        notes.append(_version_hint(request.url))
    tail = "".join(f"; {note}" for note in notes if note)
    message = f"{reason}{source}: {detail}{tail} ({request.method} {request.url})"
    error = error_for_status(status)(redact(message, request.secrets))
    error.status, error.body = status, body
    error.request_id = request_id(response.headers)
    return error


def transport_error(
    request: Request, e: httpx.TransportError, deadline: float | None, timeout: float | None
) -> LlmcliError:
    """The error of a request the network failed: past its deadline, whatever broke, the
    deadline's (75); else a timeout (75), no connection (69), or a broken one (76)."""
    import httpx  # loaded already: the session sent the request

    where = f"({request.method} {request.url})"
    if deadline is not None and time.perf_counter() >= deadline - 0.01:
        error: LlmcliError = TemporaryError(late(request, timeout))  # whatever it broke
    elif isinstance(e, httpx.TimeoutException):
        what = "connect timeout" if isinstance(e, httpx.ConnectTimeout) else "timed out"
        error = TemporaryError(f"{what} talking to {request.gateway} {where}")
    elif isinstance(e, httpx.ConnectError):
        error = UnavailableError(f"cannot connect to {request.gateway}: {e} {where}")
    else:
        error = ProtocolError(f"connection to {request.gateway} broke: {e!s} {where}")
    error.message = redact(error.message, request.secrets)
    return error


def late(request: Request, timeout: float | None) -> str:
    """What a request past its deadline (--timeout) says."""
    return redact(
        f"no complete answer from {request.gateway} within --timeout "
        f"{timeout or 0:g}s ({request.method} {request.url})",
        request.secrets,
    )


def request_id(headers: httpx.Headers) -> str:
    """The id the server gave the request (OpenAI: x-request-id; Anthropic: request-id)."""
    return headers.get("x-request-id") or headers.get("request-id") or ""
