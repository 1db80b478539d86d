"""Client-side rate limits of a batch run: ``--rpm`` and ``--tpm`` as token buckets.

A bucket holds up to a minute's worth and refills continuously; a request takes one
request and its estimated tokens (``lines.estimate_tokens``) before it is sent, waiting
for them when the bucket is short. Shared by every worker of the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Bucket:
    """``per_minute`` units a minute, at most a minute's worth at once."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.level = float(per_minute)
        self._clock = clock
        self._stamp = clock()

    def wait_for(self, amount: float) -> float:
        """Take ``amount`` (more than the capacity counts as all of it); the seconds to
        wait before the request may go."""
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now
        self.level -= min(amount, self.capacity)
        return max(0.0, -self.level / self.rate)


class RateLimits:
    """``--rpm`` and ``--tpm`` together; ``acquire`` blocks until a request may go."""

    def __init__(self, rpm: float | None, tpm: float | None) -> None:
        self.requests = Bucket(rpm) if rpm else None
        self.tokens = Bucket(tpm) if tpm else None
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> None:
        wait = self.take(tokens)
        if wait > 0:
            time.sleep(wait)

    def take(self, tokens: int) -> float:
        """A request's place, taken now: the seconds to wait before it may go (an event
        loop waits them with ``asyncio.sleep``)."""
        with self._lock:  # places are taken in order; the waits overlap
            wait = self.requests.wait_for(1) if self.requests else 0.0
            if self.tokens:
                wait = max(wait, self.tokens.wait_for(tokens))
        return wait
