"""One rate governor shared by every worker of a run (``embed --parallel``, batch runs).

A 429 or 503 that names its wait (``Retry-After`` and kin) means the server is
overloaded for everyone, not for one request: the governor pauses every worker until
that time has passed and halves how many requests may be in flight; each success after
that lets one more in again (additive increase, multiplicative decrease, as TCP does).
The request that was told to wait is tried again when the pause ends, for as long as
its own waiting stays under ``max_wait`` (DESIGN.md, "Batch runs": ``--max-wait``,
default 600 s) — time, not a count, so a long storm slows a run instead of killing it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DEFAULT_MAX_WAIT = 600.0


class Halted(Exception):
    """The run was stopped (``Governor.halt``): no request may start any more."""


class Governor:
    """Pauses and concurrency shared by threads; ``slot()`` around every attempt."""

    def __init__(
        self,
        parallel: int,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parallel = max(parallel, 1)
        self.max_wait = max_wait
        self.limit = self.parallel
        self.in_flight = 0
        self.resume_at = 0.0
        self.pauses = 0
        self._clock = clock
        self._successes = 0
        self._halted = False
        self._cond = threading.Condition()

    def halt(self) -> None:
        """No request starts from now on: every ``slot()`` raises ``Halted`` (a 401/402/403
        stopped a batch run; the workers waiting out a pause or a backoff send nothing)."""
        with self._cond:
            self._halted = True
            self._cond.notify_all()

    def reopen(self) -> None:
        """Requests may start again (the stopped run is over: a client and its governor
        can serve the next one)."""
        with self._cond:
            self._halted = False

    @contextmanager
    def slot(self) -> Iterator[int]:
        """Wait for the pause to end and for a place among the requests in flight; gives
        the number of pauses so far, for ``pause``."""
        with self._cond:
            while True:
                wait = self.resume_at - self._clock()
                if self._halted:
                    raise Halted
                if wait > 0:
                    self._cond.wait(wait)
                elif self.in_flight >= self.limit:
                    self._cond.wait()
                else:
                    break
            self.in_flight += 1
            ticket = self.pauses
        try:
            yield ticket
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()

    def enter(self) -> int | None:
        """``slot`` for an event loop, which waits itself: a place among the requests in
        flight, taken now if the pause is over and one is free (the ticket ``slot`` gives;
        ``leave`` gives it back), or None."""
        with self._cond:
            if self._halted:
                raise Halted
            if self.resume_at > self._clock() or self.in_flight >= self.limit:
                return None
            self.in_flight += 1
            return self.pauses

    def leave(self, succeeded: bool = False) -> bool:
        """The request ``enter`` let in is over (``succeeded``: with a 2xx, as
        ``succeeded()``, under the same lock); True when one more may now be in flight
        than before (the limit grew)."""
        with self._cond:
            self.in_flight -= 1
            grew = False
            if succeeded and self.limit < self.parallel:
                self._successes += 1
                if self._successes >= self.limit:
                    self._successes = 0
                    self.limit += 1
                    grew = True
            self._cond.notify_all()
            return grew

    def waiting(self) -> float:
        """Seconds left of the pause (an event loop waits them itself); ``Halted`` once
        the run was stopped."""
        with self._cond:
            if self._halted:
                raise Halted
            return self.resume_at - self._clock()

    def pause(self, seconds: float, ticket: int | None = None) -> bool:
        """Everyone waits ``seconds`` from now; True when this starts a new pause (so
        one line is shown for a storm of 429s, not one per worker). A 429 to a request
        sent before the last pause began (its ``ticket`` from ``slot``) is part of the
        same burst: it extends the wait, but starts no new pause and does not halve
        concurrency again (as TCP reduces its window once per window)."""
        with self._cond:
            now = self._clock()
            new = self.resume_at <= now and (ticket is None or ticket == self.pauses)
            self.resume_at = max(self.resume_at, now + seconds)
            if new:
                self.pauses += 1
                self.limit = max(1, self.limit // 2)
                self._successes = 0
            self._cond.notify_all()
            return new

    def hold(self, seconds: float) -> None:
        """New requests wait ``seconds`` (a rate limit about to run out): no 429 came, so
        concurrency stays as it is."""
        with self._cond:
            self.resume_at = max(self.resume_at, self._clock() + seconds)

    def succeeded(self) -> None:
        """One more request may be in flight after ``limit`` successes in a row."""
        with self._cond:
            if self.limit >= self.parallel:
                return
            self._successes += 1
            if self._successes >= self.limit:
                self._successes = 0
                self.limit += 1
                self._cond.notify_all()
