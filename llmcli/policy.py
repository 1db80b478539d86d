"""What to make of a failed response: retry or not, how long to wait, what to say.

Pure functions of status, headers and body (no I/O): ``Retry-After`` / ``retry-after-ms``
/ ``x-ratelimit-reset-*`` waits, exponential backoff with jitter, and one line of the
server's own words from any error-body shape the gateways use, plus what to do about it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from http import HTTPStatus

MAX_WAIT = 60.0  # a server asking for a longer wait is answered at once, with its time


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_wait(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` or ``x-ratelimit-reset-*`` value.

    Accepts seconds (``"1"``, ``"0.5"``), Go-style durations (``"6m0s"``, ``"20ms"``,
    as OpenAI sends), an HTTP date, or a Unix timestamp. A value that asks for no wait
    at all (zero, negative, ``nan``, a date in the past) is no advice: None, and the
    caller backs off as usual, as the OpenAI SDK does.
    """
    value = value.strip()
    now = time.time() if now is None else now
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        return _positive(number - now if number > 1e9 else number)
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value:
        scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
        return _positive(sum(float(n) * scale[u] for n, u in parts))
    try:
        return _positive(parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _positive(seconds: float) -> float | None:
    return seconds if 0 < seconds < float("inf") else None


def server_wait(headers: Mapping[str, str]) -> float | None:
    """How long the server asks us to wait, if it says."""
    if ms := headers.get("retry-after-ms"):
        try:
            wait = _positive(float(ms) / 1000)
        except ValueError:
            wait = None
        if wait is not None:
            return wait
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


def ratelimit_summary(headers: Mapping[str, str]) -> str:
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


def advice(status: int, detail: str, gateway: str, headers: Mapping[str, str]) -> str:
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
