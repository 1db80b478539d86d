"""Telling linear time from quadratic time in a test, on a busy machine.

A test that runs n items and checks that it finished cannot see quadratic time: an n
that is fast when the work is linear is still fast enough when it is quadratic. Timing
n and 8n items can: linear work takes about 8 times as long, quadratic about 64 times.
The CPU time of this process (not the wall clock), with the garbage collector off while
timing, and the best of a few runs keep other processes' load out of the ratio.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable

FACTOR = 8
#: the most 8n items may take, in multiples of the time of n: linear is ~8, quadratic ~64
CEILING = 3 * FACTOR


def cpu_seconds(work: Callable[[], object]) -> float:
    """The CPU time ``work()`` takes, the collector off (its pauses are not the work's)."""
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        work()
        return time.process_time() - started
    finally:
        gc.enable()


Work = Callable[[], object]


def growth(work_for: Callable[[int], Work], n: int, tries: int = 3) -> float:
    """How many times longer the work ``work_for(FACTOR * n)`` returns takes than that of
    ``work_for(n)`` (only the work is timed, not making its input): the best of a few
    runs of n, and of 8n while one lands between ``CEILING`` and twice that (noise only
    ever adds time, and never that much)."""
    small_work, large_work = work_for(n), work_for(FACTOR * n)
    small = min(cpu_seconds(small_work) for _ in range(tries))
    ratio = math.inf
    for _ in range(tries):
        ratio = min(ratio, cpu_seconds(large_work) / max(small, 1e-9))
        if not CEILING <= ratio < 2 * CEILING:
            break
    return ratio


def assert_linear(work_for: Callable[[int], Work], n: int) -> None:
    """Fail when the work ``work_for(n)`` returns grows faster than linearly in n: it is
    run for n and for 8n items."""
    ratio = growth(work_for, n)
    assert ratio < CEILING, f"{FACTOR}x the items took {ratio:.0f}x the time: not linear"
