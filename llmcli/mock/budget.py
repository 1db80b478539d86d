"""The ``budget=N:SECONDS`` rate limit: N requests per window of SECONDS, and the rate-limit
headers of OpenAI and Anthropic that tell a client how much of the window is left.

A window opens with the first request of its spec and the next ones follow back to back
(SECONDS apart, whether requests come or not), so a client that waits what ``Retry-After``
says lands in a fresh window. Windows are kept per spec string under a lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .faults import Faults

__all__ = ["Budgets", "Verdict", "go_duration", "rfc3339"]

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the budget says about one request: its headers, and when it is over budget,
    the message of its 429."""

    headers: Headers
    refusal: str | None


def go_duration(seconds: float) -> str:
    """``seconds`` as Go's ``time.Duration`` prints it (OpenAI's ``x-ratelimit-reset-*``),
    rounded up to a millisecond: ``0s``, ``250ms``, ``1.5s``, ``1m30s``, ``1h0m0s``."""
    ms = max(0, math.ceil(seconds * 1000 - 1e-6))
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def rfc3339(epoch: float) -> str:
    """A Unix time as RFC 3339 in UTC, to the millisecond rounded up (Anthropic's
    ``anthropic-ratelimit-*-reset``): ``2026-01-01T00:00:01.500Z``."""
    when = datetime.fromtimestamp(math.ceil(epoch * 1000) / 1000, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Budgets:
    """The open window of every spec that has a ``budget``; ``clock`` and ``wall`` are
    the monotonic and Unix clocks (tests may pass their own)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # spec -> (start, requests)

    def take(self, faults: Faults, anthropic: bool) -> Verdict | None:
        """Count one request against its spec's budget (None: the spec has none)."""
        if faults.budget is None:
            return None
        limit, seconds = faults.budget
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(faults.spec, (now, 0))
            if now - start >= seconds:
                start, used = start + (now - start) // seconds * seconds, 0
            used += 1
            self._windows[faults.spec] = (start, used)
        left = max(0.0, start + seconds - now)
        over = used > limit
        remaining = str(max(0, limit - used))
        headers = [
            ("x-ratelimit-limit-requests", str(limit)),
            ("x-ratelimit-remaining-requests", remaining),
            ("x-ratelimit-reset-requests", go_duration(left)),
        ]
        if anthropic:
            headers += [
                ("anthropic-ratelimit-requests-limit", str(limit)),
                ("anthropic-ratelimit-requests-remaining", remaining),
                ("anthropic-ratelimit-requests-reset", rfc3339(self._wall() + left)),
            ]
        if not over:
            return Verdict(headers, None)
        headers += [
            ("Retry-After", str(max(1, math.ceil(left)))),
            ("retry-after-ms", str(max(1, math.ceil(left * 1000)))),
        ]
        return Verdict(headers, f"rate limit reached: {limit} requests per {seconds:g} s")
