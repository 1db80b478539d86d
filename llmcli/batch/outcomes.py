"""What a provider batch says: its status summary, and its results as ``batch run``'s
output rows (DESIGN.md, "Batch runs"). Pure, no I/O.

OpenAI's output and error files already hold output rows. Anthropic's results are
``{"custom_id", "result": {"type": …}}`` lines, converted so one reader serves both:

- ``succeeded``: ``response: {status_code: 200, request_id: "", body: message}``
- ``errored``: ``response: {status_code, request_id, body: the error}``, the status that
  the error type has on the live API (``invalid_request_error`` 400 …)
- ``canceled`` / ``expired``: ``response: null, error: {code: "batch_cancelled" /
  "batch_expired", message}``, OpenAI's codes for the same fates (temporary: a new batch
  or ``batch run --resume`` can still answer them)
"""

from __future__ import annotations

import hashlib
from typing import Any

from llmcli.batch import results

JSON = dict[str, Any]

#: statuses after which nothing changes
ENDED = {"openai": {"completed", "failed", "expired", "cancelled"}, "anthropic": {"ended"}}
#: Anthropic error types and the HTTP status each has on the live API
ANTHROPIC_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
#: why OpenAI fails a whole batch for a while, not for what its lines say
PASSING_FAILURES = frozenset({"token_limit_exceeded", "rate_limit_exceeded", "server_error"})
EXPIRED = "This request could not be executed before the completion window expired."
CANCELLED = "This request was cancelled before it was executed."


def stable_id(*parts: str) -> str:
    """A row id made from what the row is, so that fetching twice writes the same line."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=12).hexdigest()
    return "batch_req_" + digest


def api_of_id(batch_id: str) -> str:
    """The API an id belongs to, by its shape (``msgbatch_…`` is Anthropic's)."""
    return "anthropic" if batch_id.startswith("msgbatch_") else "openai"


def ended(api: str, batch: JSON) -> bool:
    return _status(api, batch) in ENDED[api]


def _status(api: str, batch: JSON) -> str:
    key = "processing_status" if api == "anthropic" else "status"
    return str(batch.get(key) or "")


def _count(counts: JSON, *keys: str) -> int:
    return sum(v for k in keys if isinstance(v := counts.get(k), int))


def summary(api: str, gateway: str, batch: JSON) -> JSON:
    """One status line: the same keys for both APIs, the provider's counts kept."""
    counts = batch.get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    if api == "anthropic":
        rows = _count(counts, "processing", "succeeded", "errored", "canceled", "expired")
        ok, failed = _count(counts, "succeeded"), _count(counts, "errored", "canceled", "expired")
        endpoint = "/v1/messages"
    else:
        rows, ok = _count(counts, "total"), _count(counts, "completed")
        failed = _count(counts, "failed")
        endpoint = str(batch.get("endpoint") or "")
    return {
        "id": batch.get("id"),
        "api": api,
        "gateway": gateway,
        "endpoint": endpoint,
        "status": _status(api, batch),
        "ended": ended(api, batch),
        "rows": rows,
        "succeeded": ok,
        "failed": failed,
        "counts": counts,
    }


def progress(api: str, batch: JSON) -> str:
    """``in_progress 12/50`` for a progress line."""
    line = summary(api, "", batch)
    done = line["succeeded"] + line["failed"]
    return f"{line['status']} {done}/{line['rows']}" if line["rows"] else line["status"]


def custom_id(line: Any) -> str | None:
    value = line.get("custom_id") if isinstance(line, dict) else None
    return value if isinstance(value, str) else None


def from_anthropic(line: JSON) -> JSON:
    """One Anthropic result line as an output row."""
    cid = custom_id(line) or ""
    result = line.get("result")
    kind = result.get("type") if isinstance(result, dict) else None
    if kind == "succeeded" and isinstance(result, dict):
        return results.answered(cid, 200, "", result.get("message"))
    if kind == "errored" and isinstance(result, dict):
        error = result.get("error")
        if not isinstance(error, dict):
            return results.failed(
                cid, "protocol_error", f"an errored result without an error: {error!r:.80}"
            )
        inner = error.get("error")
        kind_of = inner.get("type") if isinstance(inner, dict) else None
        status = ANTHROPIC_STATUS.get(str(kind_of), 500)
        body = {k: v for k, v in error.items() if k != "request_id"}
        return results.answered(cid, status, str(error.get("request_id") or ""), body)
    if kind == "canceled":
        return results.failed(cid, "batch_cancelled", CANCELLED)
    if kind == "expired":
        return results.failed(cid, "batch_expired", EXPIRED)
    return results.failed(cid, "protocol_error", f"a result of unknown type {kind!r}")


def not_answered(cid: str, api: str, batch: JSON) -> JSON:
    """The row of a request the batch's results do not hold."""
    if api == "openai" and batch.get("status") == "failed":
        errors = batch.get("errors")
        data = errors.get("data") if isinstance(errors, dict) else None
        first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        message = str(first.get("message") or "the batch failed validation")
        line = f" (line {first['line']})" if first.get("line") is not None else ""
        # a limit of the account (token_limit_exceeded …) passes: the row may be sent again
        code = "batch_failed" if first.get("code") in PASSING_FAILURES else "invalid_request"
        return results.failed(cid, code, f"batch {batch.get('id')} failed{line}: {message}")
    if _status(api, batch) in ("expired",):
        return results.failed(cid, "batch_expired", EXPIRED)
    if _status(api, batch) in ("cancelled",):
        return results.failed(cid, "batch_cancelled", CANCELLED)
    return results.failed(cid, "batch_missing", f"batch {batch.get('id')} has no result for it")
