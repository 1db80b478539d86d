"""Whether a failed request is tried again, and after how long.

Pure functions of status and headers (no I/O): ``Retry-After`` / ``retry-after-ms`` /
``x-ratelimit-reset-*`` waits, exponential backoff with jitter, and ``Attempts``: what
comes after each failed attempt of one request (the session's and the batch engine's).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from llmcli.errors import LlmcliError

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


MIN_PAUSE = 0.1  # seconds: the least a governor pause lasts, whatever the server says


@dataclass(frozen=True, slots=True)
class Pause:
    """Every worker waits ``seconds`` (the governor's pause); not counted as a retry."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Again:
    """Try again after ``delay`` seconds; ``line`` says so on stderr."""

    delay: float
    line: str


class Attempts:
    """The retry decisions of one request (``Session._with_retries`` and the batch engine
    share them): pure, the clock given. After each failed attempt, ``after`` says what
    comes next: a ``Pause`` for every worker (a 429/503 naming its wait, with a governor),
    ``Again`` after a delay, or the error to raise — the last attempt's, with how many
    said the same, or why llmcli gave up (the wait would pass --timeout, --max-wait)."""

    def __init__(
        self,
        retries: int,
        deadline: float | None,
        max_wait: float | None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.retries = retries
        self.deadline = deadline  # --timeout, as a ``clock`` time; None: no deadline
        self.max_wait = max_wait  # the governor's --max-wait; None: no governor
        self.number = 0  # retries so far
        self.waited = 0.0  # seconds of pauses so far
        self._clock = clock
        self._said: list[str] = []  # what each failed attempt said, for the retry lines
        #: the error ``after`` gave last says why llmcli gave up (not what the server said)
        self.gave_up = False

    def after(
        self, error: LlmcliError, wait: float | None, status: int | None
    ) -> Pause | Again | LlmcliError:
        """``error`` ended an attempt; ``wait``: what the server asked (0: at once, a
        connection found dead), ``status``: the answer's (None: no answer)."""
        now = self._clock()
        if self.deadline is not None and now >= self.deadline:
            return error
        if self.max_wait is not None and wait is not None and status in (429, 503):
            wait = max(wait, MIN_PAUSE)  # a tiny wait must not become a flood
            self.waited += wait
            if self.waited > self.max_wait:
                self.gave_up = True
                return gave_up(error, f"waited {self.waited - wait:.0f}s")
            if self.deadline is not None and now + wait >= self.deadline:
                self.gave_up = True
                return gave_up(error, "the wait would pass --timeout")
            return Pause(wait)
        self._said.append(summary(error))
        if self.number >= self.retries or (wait is not None and wait > MAX_RETRY_AFTER):
            return counted(error, self._said)
        delay = wait if wait is not None else backoff(self.number)
        if self.deadline is not None and now + delay >= self.deadline:
            self.gave_up = True
            return gave_up(error, f"a retry in {delay:.1f}s would pass --timeout")
        self.number += 1
        said = self._said
        what = "the same again" if len(said) > 1 and said[-1] == said[-2] else said[-1]
        return Again(delay, f"llmcli: {what}; retry {self.number}/{self.retries} in {delay:.1f}s")


def summary(error: LlmcliError) -> str:
    """An error's message without where it happened (the request in parentheses)."""
    return error.message.rsplit(" (", 1)[0]


def counted(error: LlmcliError, said: list[str]) -> LlmcliError:
    """The last attempt's error; when every attempt said the same, with how many did."""
    if len(said) > 1 and len(set(said)) == 1:
        head, _, where = error.message.rpartition(" (")
        if head:
            error.message = f"{head}; {len(said)} attempts, each the same ({where}"
    return error


def gave_up(error: LlmcliError, why: str) -> LlmcliError:
    error.message = f"{summary(error)}; gave up: {why} ({error.message.rsplit(' (', 1)[-1]}"
    return error
