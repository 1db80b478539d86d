"""The values of fault spec items: integers, numbers, sizes and shares, each checked.

Kept apart from ``faults`` (what the items mean) so each stays small; every problem is a
``FaultError`` that names the key and quotes the value, which ``llmcli serve`` shows as
a usage error and the gateway as a 400 to an ``X-Mock-Fault`` header.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["FaultError", "integer", "number", "share", "size"]


class FaultError(ValueError):
    """A fault spec that cannot be parsed."""


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def integer(key: str, value: str, minimum: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise FaultError(f"{key}: expected an integer, got {value!r}") from None
    if n < minimum:
        raise FaultError(f"{key}: must be at least {minimum}, got {n}")
    return n


def number(key: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise FaultError(f"{key}: expected a number, got {value!r}") from None
    if not 0 <= x < float("inf"):
        raise FaultError(f"{key}: must be a number from 0, got {value!r}")
    return x


def size(key: str, value: str) -> int:
    """A SIZE: bytes, with an optional ``k``, ``M`` or ``G`` suffix (KiB, MiB, GiB)."""
    digits, unit = (value[:-1], value[-1:].lower()) if value[-1:].isalpha() else (value, "")
    if unit not in _UNITS or not (digits.isascii() and digits.isdigit()):
        raise FaultError(f"{key}: expected a size (bytes, or with k, M or G), got {value!r}")
    return int(digits) * _UNITS[unit]


def share(value: str) -> Fraction:
    """P of ``share=P``, exactly (``0.3`` is 3/10, not the float below it)."""
    try:
        p = Fraction(value)
    except (ValueError, ZeroDivisionError):
        p = Fraction(-1)
    if not 0 < p <= 1:
        raise FaultError(f"share: expected a number above 0 and at most 1, got {value!r}")
    return p
