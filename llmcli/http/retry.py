"""Whether a failed request is tried again, and after how long.

Pure functions of status and headers (no I/O): ``Retry-After`` / ``retry-after-ms`` /
``x-ratelimit-reset-*`` waits, and exponential backoff with jitter.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 60.0  # a server asking for a longer wait is answered at once, with its time


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


def slow_down(headers: Mapping[str, str], in_flight: int) -> float | None:
    """How long to hold new requests before the 429 comes: when a rate-limit window has
    fewer requests or tokens left than requests are in flight, until it resets.

    OpenAI: ``x-ratelimit-remaining-{requests,tokens}`` with ``x-ratelimit-reset-*``
    (Go durations); Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,
    output-tokens}-remaining`` with ``-reset`` (an RFC 3339 time).
    """
    waits = []
    for kind in ("requests", "tokens"):
        remaining = headers.get(f"x-ratelimit-remaining-{kind}")
        reset = headers.get(f"x-ratelimit-reset-{kind}")
        if remaining is not None and reset and _fewer(remaining, in_flight, kind):
            waits.append(parse_wait(reset))
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        remaining = headers.get(f"anthropic-ratelimit-{kind}-remaining")
        reset = headers.get(f"anthropic-ratelimit-{kind}-reset")
        if remaining is not None and reset and _fewer(remaining, in_flight, kind):
            waits.append(_until(reset))
    found = [w for w in waits if w is not None]
    return min(max(found), 60.0) if found else None


def _fewer(remaining: str, in_flight: int, kind: str) -> bool:
    try:
        left = int(remaining)
    except ValueError:
        return False
    return left <= 0 if kind != "requests" else left < max(in_flight, 1)


def _until(stamp: str) -> float | None:
    from datetime import datetime

    try:
        when = datetime.fromisoformat(stamp.strip())
    except ValueError:
        return parse_wait(stamp)
    if when.tzinfo is None:
        return None
    return _positive(when.timestamp() - time.time())
