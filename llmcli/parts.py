"""Text that arrives in pieces, as stream assembly collects it. Pure, no I/O.

A streamed reply's text comes a few characters per event. Growing a string held in the
assembled object (``message["content"] += piece``) copies the whole text so far for every
piece: quadratic time on a long stream. So the pieces of each text field are collected in
a ``Parts`` list where the string will be (``append``) and joined once, when the assembled
object is read (``joined``): linear time, however long the stream.
"""

from __future__ import annotations

from typing import Any


class Parts(list[str]):
    """The pieces of one text field, in the order they arrived."""


def append(target: dict[str, Any], key: str, text: str) -> None:
    """Add ``text`` to ``target[key]``: a string already there is its first piece, any
    other value (None, a number…) is replaced."""
    parts = target.get(key)
    if not isinstance(parts, Parts):
        parts = target[key] = Parts([parts] if isinstance(parts, str) else [])
    parts.append(text)


def joined(value: Any) -> Any:
    """A copy of an assembled value with every ``Parts`` joined into its string; the
    dicts and lists on the way are copied, other values shared."""
    if isinstance(value, Parts):
        return "".join(value)
    if isinstance(value, dict):
        return {k: joined(v) for k, v in value.items()}
    if isinstance(value, list):
        return [joined(v) for v in value]
    return value
