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


#: keys whose value names an entry or its kind: replaced, never joined
_NAMES = frozenset({"index", "type"})


def merge(target: dict[str, Any], key: str, value: Any) -> None:
    """One delta field merged into what arrived before it, as the openai SDK's
    ``accumulate_delta`` merges a field it has no special rule for (``delta.audio``:
    its id, then pieces of its data and transcript): strings joined, numbers added,
    objects key by key, lists of objects entry by entry by their ``index``, other
    lists extended; ``index`` and ``type`` replaced; a value of another kind ignored.
    Values are copied in, so a later merge never changes an event already parsed."""
    old = target.get(key)
    if old is None or key in _NAMES:
        target[key] = _copy(value)
    elif isinstance(value, str) and isinstance(old, str | Parts):
        append(target, key, value)
    elif _number(value) and _number(old):
        target[key] = old + value
    elif isinstance(value, dict) and isinstance(old, dict):
        for name, part in value.items():
            merge(old, name, part)
    elif isinstance(value, list) and isinstance(old, list):
        for entry in value:  # an entry's index is its place in the list, as in the SDK
            index = entry.get("index") if isinstance(entry, dict) else None
            same = old[index] if type(index) is int and 0 <= index < len(old) else None
            if isinstance(same, dict):
                for name, part in entry.items():
                    merge(same, name, part)
            else:
                old.append(_copy(entry))
    # a value of another kind (null after an object …) leaves what arrived, as the SDK does


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
