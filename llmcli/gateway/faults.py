"""Fault injection for the offline gateway: parse a fault spec and count its requests.

A spec is ``;``-separated ``key=value`` items (a bare ``key`` means true), given to the
server as a whole (``start(faults=…)``) or per request in the ``X-Mock-Fault`` header,
which wins. ``times=N`` / ``every=N`` gate the whole spec: a request carrying it is
faulty only while the spec's counter says so (the first N requests, or requests N, 2N…).
Counters are kept per spec string, across the server, under a lock.

``content_type=TYPE`` (percent-decoded) is the Content-Type of a ``body=`` answer, so a
test can serve an event stream labelled as JSON, or JSON labelled as an event stream.
``redirect=URL`` (percent-decoded like ``body=``) answers ``307 Temporary Redirect`` with
``Location: URL`` (``status=`` picks another 3xx), before any auth check: a client must
not follow it to another host with its credentials.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import unquote

__all__ = ["NO_FAULTS", "Counters", "FaultError", "Faults", "parse"]


class FaultError(ValueError):
    """A fault spec that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Faults:
    """One parsed fault spec; the defaults mean "no fault"."""

    spec: str = ""
    status: int | None = None
    times: int | None = None
    every: int | None = None
    retry_after: str | None = None
    reset: str | None = None
    html: bool = False
    body: str | None = None
    content_type: str | None = None
    slow_bytes: int | None = None
    slow_ms: float = 0.0
    cut: int | None = None
    eof: int | None = None
    no_done: bool = False
    malformed: int | None = None
    error_after: int | None = None
    split_utf8: bool = False
    delay_ms: float = 0.0
    comment: bool = False
    crlf: bool = False
    redirect: str | None = None

    @property
    def gated(self) -> bool:
        """Whether a counter decides which requests the spec applies to."""
        return self.times is not None or self.every is not None

    @property
    def replaces_body(self) -> bool:
        """Whether the response is an injected error/replacement instead of a reply."""
        return (
            self.status is not None
            or self.html
            or self.body is not None
            or self.redirect is not None
        )

    @property
    def pause_ms(self) -> float:
        """Milliseconds to sleep between two writes of a response body."""
        if self.slow_bytes is not None:
            return self.slow_ms
        return 2.0 if self.split_utf8 else 0.0

    def headers(self) -> list[tuple[str, str]]:
        """Extra response headers this spec asks for (Retry-After, rate-limit reset)."""
        out: list[tuple[str, str]] = []
        if self.retry_after is not None:
            out.append(("Retry-After", self.retry_after))
        if self.reset is not None:
            out.append(("x-ratelimit-limit-requests", "60"))
            out.append(("x-ratelimit-remaining-requests", "0"))
            out.append(("x-ratelimit-reset-requests", f"{self.reset}s"))
        return out


NO_FAULTS = Faults()

_FLAGS = {"html", "no_done", "split_utf8", "comment", "crlf"}
_COUNTS = {"times", "every", "cut", "eof", "malformed", "error_after"}
_TRUE = {"", "1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _int(key: str, value: str, minimum: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise FaultError(f"{key}: expected an integer, got {value!r}") from None
    if n < minimum:
        raise FaultError(f"{key}: must be at least {minimum}, got {n}")
    return n


def _number(key: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise FaultError(f"{key}: expected a number, got {value!r}") from None
    if not x >= 0:
        raise FaultError(f"{key}: must not be negative, got {value!r}")
    return x


def parse(spec: str | None) -> Faults:
    """Parse a fault spec; ``None`` or an empty spec gives ``NO_FAULTS``."""
    spec = (spec or "").strip()
    if not spec:
        return NO_FAULTS
    values: dict[str, object] = {"spec": spec}
    for raw in spec.split(";"):
        item = raw.strip()
        if not item:
            continue
        key, eq, value = item.partition("=")
        key, value = key.strip().lower().replace("-", "_"), value.strip()
        if key in _FLAGS:
            if value.lower() not in _TRUE | _FALSE:
                raise FaultError(f"{key}: expected a boolean, got {value!r}")
            values[key] = value.lower() in _TRUE
        elif key == "malformed" and not eq:
            values[key] = 1
        elif not eq:
            raise FaultError(f"{key}: needs a value ({key}=…)")
        elif key == "status":
            values[key] = _int(key, value, 100)
            if not 100 <= int(value) <= 599:
                raise FaultError(f"status: must be 100-599, got {value}")
        elif key in _COUNTS:
            minimum = 1 if key in {"times", "every", "malformed"} else 0
            values[key] = _int(key, value, minimum)
        elif key in {"retry_after", "reset"}:
            _number(key, value)
            values[key] = value
        elif key in ("body", "content_type"):
            values[key] = unquote(value)
        elif key == "redirect":
            if not value:
                raise FaultError("redirect: needs a URL")
            values[key] = unquote(value)
        elif key == "slow":
            size, colon, ms = value.partition(":")
            values["slow_bytes"] = _int("slow", size, 1)
            values["slow_ms"] = _number("slow", ms) if colon else 0.0
        elif key == "delay":
            values["delay_ms"] = _number(key, value)
        else:
            raise FaultError(f"unknown fault {key!r}")
    return Faults(**values)  # type: ignore[arg-type]


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
        if faults.times is not None and n > faults.times:
            return False
        return faults.every is None or n % faults.every == 0

    def count(self, spec: str) -> int:
        """Requests seen so far carrying ``spec`` (gated specs only)."""
        with self._lock:
            return self._seen.get(spec.strip(), 0)
