"""Texts as a Responses stream assembles them: kept in pieces (``llmcli.protocol.parts``)
or, when the text need not be kept (``-o text``, ``sse``, ``jsonl``), as its length and
hash only (``Digest``), enough to check the final text against. No I/O."""

from __future__ import annotations

import hashlib
from typing import Any

from llmcli.protocol.parts import Parts, append

JSON = dict[str, Any]


class Digest:
    """A text not kept (``keep_text=False``): its length and hash, to check it by."""

    __slots__ = ("_hash", "length")

    def __init__(self, first: str = "") -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self.length = 0
        self.add(first)

    def add(self, text: str) -> None:
        self._hash.update(text.encode("utf-8", "surrogatepass"))
        self.length += len(text)

    def matches(self, text: str) -> bool:
        other = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16)
        return len(text) == self.length and other.digest() == self._hash.digest()


def grow(target: JSON, key: str, text: str, keep: bool) -> None:
    """Add a delta's text to ``target[key]``: kept in pieces, or as a ``Digest``."""
    if keep:
        append(target, key, text)
        return
    held = target.get(key)
    if not isinstance(held, Digest):
        held = target[key] = Digest(held if isinstance(held, str) else "")
    held.add(text)


def joined(value: Any) -> Any:
    """A copy of an assembled value with its texts as strings (a text not kept: "")."""
    if isinstance(value, Parts):
        return "".join(value)
    if isinstance(value, Digest):
        return ""
    if isinstance(value, dict):
        return {k: joined(v) for k, v in value.items()}
    if isinstance(value, list):
        return [joined(v) for v in value]
    return value
