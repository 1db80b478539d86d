"""Which requests a fault spec applies to (``times``, ``every``, ``share``), and the
``jitter`` delay of a request: both decided by counting, never by chance, so a test that
injects "30% of requests get 429" or shuffled completion times sees the same run twice.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .faults import NO_FAULTS

if TYPE_CHECKING:
    from .faults import Faults

__all__ = ["Counters", "jitter_ms"]

_MASK = (1 << 64) - 1


@dataclass(slots=True)
class Counters:
    """How many requests carried each gated spec; decides which of them are faulty."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: dict[str, int] = field(default_factory=dict)

    def applies(self, faults: Faults) -> bool:
        """Count this request against its spec; whether the spec applies to it."""
        if not faults.gated:
            return faults is not NO_FAULTS
        with self._lock:
            n = self._seen.get(faults.spec, 0) + 1
            self._seen[faults.spec] = n
        return gate(faults, n)

    def count(self, spec: str) -> int:
        """Requests seen so far carrying ``spec`` (gated specs only)."""
        with self._lock:
            return self._seen.get(spec.strip(), 0)


def gate(faults: Faults, n: int) -> bool:
    """Whether the ``n``-th request (from 1) carrying ``faults`` passes all its gates.

    ``share=P`` takes request n when floor(nP) steps up: exactly floor(NP) of the first N
    requests, spread evenly, the first of them at n = ceil(1/P).
    """
    if faults.times is not None and n > faults.times:
        return False
    if faults.every is not None and n % faults.every:
        return False
    p = faults.share
    return p is None or math.floor(n * p) != math.floor((n - 1) * p)


def jitter_ms(number: int, most: float) -> float:
    """A delay from 0 to ``most`` ms for request ``number``: SplitMix64 of the number, so
    it looks random (neighbours differ) but every run draws the same."""
    if not most:
        return 0.0
    z = (number * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return most * ((z ^ (z >> 31)) / _MASK)
