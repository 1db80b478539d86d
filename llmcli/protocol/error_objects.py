"""Error objects as servers send them in place of an answer: inside a 2xx body (seeds
002-004 answer errors with a 200) or as a stream's event. One reading for every dialect
and request kind: the commands raise them, a batch row that holds one did not succeed.
No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmcli.errors import (
    DataError,
    LlmcliError,
    NotAllowedError,
    TemporaryError,
    UnavailableError,
    error_for_status,
)


def stream_error(error: Any, where: str) -> LlmcliError:
    """The error type for an ``error`` object a server sent inside a 200 response."""
    if isinstance(error, Mapping):
        message = str(error.get("message") or error.get("type") or "error")
        kind = f"{error.get('type', '')} {error.get('code', '')}".lower()
        extras = [str(error[k]) for k in ("type", "code") if error.get(k)]
        extras = [e for e in dict.fromkeys(extras) if e != message]
        if extras:
            message += f" [{', '.join(extras)}]"
        status = str(error.get("code") or error.get("status") or "")
    else:
        message, kind, status = str(error), str(error).lower(), ""
    text = f"error from {where}: {message}"
    if status.isdigit() and 400 <= int(status) < 600:
        return error_for_status(int(status))(text)
    if "rate" in kind or "429" in kind:
        return TemporaryError(text)
    if any(k in kind for k in ("auth", "permission", "401", "403", "402", "balance")):
        return NotAllowedError(text)
    if "invalid" in kind or "not_found" in kind or "400" in kind or "404" in kind:
        return DataError(text)
    return UnavailableError(text)


def carried_error(body: Any) -> Any:
    """The error a 2xx JSON body carries in place of its data, or None: OpenAI's
    ``{"error": …}`` with no ``choices``/``data`` (seeds 002-004 send it with a 200), an
    Anthropic ``{"type": "error", …}``. The commands raise it; a batch row that holds one
    did not succeed (``llmcli.batch.results.succeeded``)."""
    if not isinstance(body, dict):
        return None
    if body.get("type") == "error":
        return body.get("error") or body
    error = body.get("error")
    if error and not body.get("choices") and not body.get("data") and body.get("type") != "message":
        return error
    return None


def check_error(body: Any, where: str) -> None:
    """Raise the error a 200 answer may carry instead of its data."""
    error = carried_error(body)
    if error is not None:
        raise stream_error(error, where)
