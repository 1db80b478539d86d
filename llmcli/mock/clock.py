"""The offline gateway's clock: real time, plus an offset that only a test moves.

Batches progress and ``budget`` windows pass by this clock. A test that wants a batch
still running when it looks, and ended later, creates it with a long ``batch_seconds``
and moves the clock on (``RunningGateway.advance_clock``) instead of sleeping: what it
sees then follows from what it did, not from how fast a loaded machine ran it. The
transport faults (``delay``, ``jitter``, ``slow``, ``hold`` …) keep real time, since they
are about what a client lives through while it waits.

The offset starts at 0, so ``llmcli serve`` and ``-g mock`` run on real time. It belongs
to one gateway and lives in memory: a process that talks to the gateway over HTTP sees
it, another gateway given the same ``batch_dir`` keeps its own.
"""

from __future__ import annotations

import threading
import time

__all__ = ["Clock"]


class Clock:
    """Unix and monotonic time, both ``offset`` seconds ahead of the real ones."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (never back: windows and batches only go on);
        ``ValueError`` for a negative or non-finite ``seconds``."""
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"advance: expected seconds from 0 on, got {seconds}")
        with self._lock:
            self.offset += seconds

    def wall(self) -> float:
        """Unix time on this clock."""
        return time.time() + self.offset

    def monotonic(self) -> float:
        """``time.monotonic()`` on this clock."""
        return time.monotonic() + self.offset
