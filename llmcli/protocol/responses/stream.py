"""Responses stream assembly: the events of a streaming ``POST /responses`` in, the
``response`` object out. No I/O.

The object is the one the terminal event (``response.completed``, ``.incomplete``)
carries, checked against what the deltas assembled: a text or arguments that differ is a
protocol error (a lost or changed delta). When that object's ``output`` is empty or
missing (as some backends and proxies send it), the output is rebuilt: each item as its
``response.output_item.done`` gave it, else as its deltas assembled it. Text that a
server sends only whole (an ``.done`` event, a done item, the final object without any
delta) is handed out as a piece once, so ``-o text`` prints it.

Real servers differ from the reference: the event's type is read from ``data.type`` (an
``event:`` line is optional), ``sequence_number`` may be absent, ``output_index`` may be
missing (then the item is found by ``item_id``), and unknown events and item types pass
through untouched (they reach ``-o jsonl``/``sse``; the assembly skips them).

Memory stays flat when the text need not be kept (``keep_text=False``: ``-o text``,
``sse``, ``jsonl``): each text is then held as its length and hash only, enough to check
the final text against it. With secrets set, a final text the session scrubbed is
compared with the deltas scrubbed the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from llmcli.errors import ProtocolError
from llmcli.protocol.error_objects import stream_error
from llmcli.protocol.parts import Parts, append
from llmcli.protocol.pieces import Piece
from llmcli.protocol.responses import events, texts
from llmcli.protocol.responses.shapes import JSON, error_event, failure, item_pieces
from llmcli.redaction import REDACTED, redact


class ResponseStream:
    """Feed events (``add``); ``result()`` is the response. ``finished`` once a terminal
    event arrived; a ``failed`` response and an ``error`` event raise."""

    def __init__(
        self, keep_text: bool = True, where: str = "", secrets: tuple[str, ...] = ()
    ) -> None:
        self.keep_text = keep_text
        self.secrets = secrets
        self.where = where
        self.finished = False
        self._snapshot: JSON = {}  # the last lifecycle event's response
        self._final: JSON | None = None
        self._items: dict[int, JSON] = {}  # by output_index, as assembled
        self._done: dict[int, JSON] = {}  # by output_index, as output_item.done gave them
        self._ids: dict[str, int] = {}  # item id -> output_index
        #: how much of each text was handed out as pieces: (index, list, position, field)
        self._shown: dict[tuple[int, str, int, str], int] = {}
        #: how much of each item's text of each kind was handed out: (index, Piece kind)
        self._handed: dict[tuple[int, str], int] = {}

    # feeding ------------------------------------------------------------------------

    def add(self, name: str, data: Any) -> list[Piece]:
        """One event (its SSE name, its parsed data); the text pieces it carried."""
        if not isinstance(data, Mapping):
            raise ProtocolError(f"stream from {self.where}: an event's data is not an object")
        kind = data.get("type")
        kind = kind if isinstance(kind, str) else name
        if kind == "error":
            raise stream_error(error_event(data), self.where)
        if kind in events.DELTAS:
            return self._delta(kind, data)
        if kind in events.ARGUMENTS:
            item = self._item(data)
            if item is not None and isinstance(data.get("delta"), str):
                append(item, events.ARGUMENTS[kind], data["delta"])  # calls are kept, as chat's
            return []
        if kind in events.LIFECYCLE:
            if isinstance(data.get("response"), Mapping):
                self._snapshot = dict(data["response"])
            return []
        if kind == "response.output_item.added":
            return self._added(data)
        if kind in events.PART_ADDED:
            return self._part(kind, data)
        if kind in events.TEXT_DONE:
            return self._text_done(kind, data)
        if kind in events.ARGUMENTS_DONE:
            return self._arguments_done(kind, data)
        if kind == "response.output_item.done":
            return self._item_done(data)
        if kind == "response.output_text.annotation.added":
            self._annotation(data)
            return []
        if kind in events.ENDS or kind in ("response.failed", "response.cancelled"):
            return self._end(kind, data)
        return []  # an event of a kind not known here: it passes through

    def _index(self, data: Mapping[str, Any]) -> int | None:
        index = data.get("output_index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        item_id = data.get("item_id")
        if isinstance(item_id, str):
            if item_id not in self._ids:  # an item never announced: the next place
                self._ids[item_id] = max(self._items.keys() | self._done.keys(), default=-1) + 1
            return self._ids[item_id]
        return max(self._items) if self._items else None

    def _item(self, data: Mapping[str, Any]) -> JSON | None:
        index = self._index(data)
        if index is None:
            return None
        item = self._items.get(index)
        if item is None:  # deltas before (or without) their output_item.added
            item = self._items[index] = {}
            if isinstance(data.get("item_id"), str):
                item["id"] = data["item_id"]
        return item

    def _added(self, data: Mapping[str, Any]) -> list[Piece]:
        item = data.get("item")
        if not isinstance(item, Mapping):
            return []
        index = data.get("output_index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = max(self._items, default=-1) + 1
        self._items[index] = copy.deepcopy(dict(item))
        if isinstance(item.get("id"), str):
            self._ids[item["id"]] = index
        return self._shown_whole(index, self._items[index])

    def _slot(self, item: JSON, key: str, position: Any, kind: str) -> JSON:
        """The part at ``item[key][position]``, made when it was never announced."""
        parts = item.get(key)
        if not isinstance(parts, list):
            parts = item[key] = []
        position = position if isinstance(position, int) and position >= 0 else 0
        while len(parts) <= position:
            parts.append(None)
        if not isinstance(parts[position], dict):
            parts[position] = {"type": events.PART_TYPES.get(kind, "output_text")}
        part: JSON = parts[position]
        return part

    def _delta(self, kind: str, data: Mapping[str, Any]) -> list[Piece]:
        delta = data.get("delta")
        item = self._item(data)
        if item is None or not isinstance(delta, str):
            return []
        key, position_field, field, piece = events.DELTAS[kind]
        position = data.get(position_field, 0)
        texts.grow(self._slot(item, key, position, kind), field, delta, self.keep_text)
        index = self._index(data)
        assert index is not None
        shown = (index, key, position if isinstance(position, int) else 0, field)
        self._shown[shown] = self._shown.get(shown, 0) + len(delta)
        if not piece or not delta:
            return []
        self._handed[(index, piece)] = self._handed.get((index, piece), 0) + len(delta)
        return [Piece(piece, 0, delta)]

    def _part(self, kind: str, data: Mapping[str, Any]) -> list[Piece]:
        item = self._item(data)
        part = data.get("part")
        if item is None or not isinstance(part, Mapping):
            return []
        key, position_field = events.PART_ADDED[kind]
        position = data.get(position_field, 0)
        slot = self._slot(item, key, position, kind)
        index = self._index(data)
        assert index is not None
        pieces = self._settle(index, key, position, part, kind.endswith(".done"))
        for name, value in part.items():
            if not isinstance(slot.get(name), Parts | texts.Digest) or kind.endswith(".done"):
                slot[name] = copy.deepcopy(value)
        return pieces

    def _text_done(self, kind: str, data: Mapping[str, Any]) -> list[Piece]:
        key, position_field, field, _ = events.TEXT_DONE[kind]
        item = self._item(data)
        text = data.get(field if field in data else "text")
        if item is None or not isinstance(text, str):
            return []
        position = data.get(position_field, 0)
        slot = self._slot(item, key, position, kind)
        index = self._index(data)
        assert index is not None
        pieces = self._settle(index, key, position, {"type": slot.get("type"), field: text}, True)
        slot[field] = text
        return pieces

    def _arguments_done(self, kind: str, data: Mapping[str, Any]) -> list[Piece]:
        field = events.ARGUMENTS_DONE[kind]
        item = self._item(data)
        final = data.get(field)
        if item is None or not isinstance(final, str):
            return []
        self._check(item.get(field), final, f"the {field} of output item {self._index(data)}")
        item[field] = final
        if isinstance(data.get("name"), str):
            item.setdefault("name", data["name"])
        return []

    def _annotation(self, data: Mapping[str, Any]) -> None:
        item = self._item(data)
        if item is None or "annotation" not in data:
            return
        position = data.get("content_index", 0)
        part = self._slot(item, "content", position, "response.output_text.delta")
        annotations = part.get("annotations")
        if not isinstance(annotations, list):
            annotations = part["annotations"] = []
        annotations.append(copy.deepcopy(data["annotation"]))

    def _item_done(self, data: Mapping[str, Any]) -> list[Piece]:
        item = data.get("item")
        if not isinstance(item, Mapping):
            return []
        index = data.get("output_index")
        if not isinstance(index, int) or isinstance(index, bool):
            item_id = item.get("id")
            found = self._ids.get(item_id) if isinstance(item_id, str) else None
            index = found if found is not None else max(self._items, default=-1) + 1
        assembled = self._items.get(index)
        if assembled is not None:
            self._check_item(assembled, item, index)
        else:
            self._items[index] = copy.deepcopy(dict(item))
        self._done[index] = dict(item)
        if isinstance(item.get("id"), str):
            self._ids[item["id"]] = index
        return self._shown_whole(index, item)

    def _end(self, kind: str, data: Mapping[str, Any]) -> list[Piece]:
        response = data.get("response")
        response = dict(response) if isinstance(response, Mapping) else dict(self._snapshot)
        if kind in ("response.failed", "response.cancelled"):
            self._snapshot = response
            raise failure({"status": kind.rpartition(".")[2], **response}, self.where)
        self._final = response
        self.finished = True
        pieces: list[Piece] = []
        output = response.get("output")
        if isinstance(output, list) and output:
            taken: set[int] = set()
            fresh = max(self._items.keys() | self._done.keys(), default=-1) + 1
            for position, item in enumerate(output):
                if not isinstance(item, Mapping):
                    continue
                mine = self._match(item, position, taken)
                if mine is None:  # an item no event announced: its text is all new
                    mine, fresh = fresh, fresh + 1
                else:
                    self._check_item(self._items.get(mine, {}), item, mine)
                taken.add(mine)
                pieces.extend(self._shown_whole(mine, item))
        return pieces

    def _match(self, item: Mapping[str, Any], position: int, taken: set[int]) -> int | None:
        """Which streamed item a final one is: by id; without one, the item at its
        position if of its type, else the first of its type not yet matched."""
        item_id = item.get("id")
        if isinstance(item_id, str) and item_id in self._ids:
            return self._ids[item_id]
        kind = item.get("type")
        streamed = sorted(self._items.keys() | self._done.keys())
        if position in streamed and position not in taken and self._type(position) == kind:
            return position
        return next((i for i in streamed if i not in taken and self._type(i) == kind), None)

    def _type(self, index: int) -> Any:
        return (self._done.get(index) or self._items.get(index) or {}).get("type")

    # checks and text sent whole -------------------------------------------------------

    def _check(self, assembled: Any, final: str, what: str) -> None:
        """A text the deltas assembled must be the text the server says it sent. The
        session scrubs secrets from the bytes, so a key split over deltas reaches the
        final text as *** and the deltas whole: they are compared scrubbed alike."""
        if self.secrets and REDACTED in final:
            if isinstance(assembled, texts.Digest):
                return  # the pieces are not kept: nothing to scrub them by
            if isinstance(assembled, Parts | str):
                assembled = redact("".join(assembled), self.secrets)
        if isinstance(assembled, texts.Digest):
            if assembled.length and not assembled.matches(final):
                raise self._differs(what, assembled.length, final)
            return
        if isinstance(assembled, Parts):
            assembled = "".join(assembled)
        if isinstance(assembled, str) and assembled and assembled != final:
            raise self._differs(what, len(assembled), final)

    def _differs(self, what: str, streamed: int, final: str) -> ProtocolError:
        return ProtocolError(
            f"stream from {self.where}: {what} differs from what its deltas made "
            f"({streamed} characters streamed, {len(final)} in the final text)"
        )

    def _check_item(
        self, assembled: Mapping[str, Any], final: Mapping[str, Any], index: int
    ) -> None:
        for field in ("arguments", "input"):
            if isinstance(final.get(field), str):
                what = f"the {field} of output item {index}"
                self._check(assembled.get(field), final[field], what)
        for key in ("content", "summary"):
            mine, theirs = assembled.get(key), final.get(key)
            if not isinstance(mine, list) or not isinstance(theirs, list):
                continue
            for position, (a, b) in enumerate(zip(mine, theirs, strict=False)):
                if not isinstance(a, Mapping) or not isinstance(b, Mapping):
                    continue
                for field in ("text", "refusal"):
                    if isinstance(b.get(field), str):
                        self._check(
                            a.get(field), b[field], f"the {key} {position} of output item {index}"
                        )

    def _settle(
        self, index: int, key: str, position: Any, part: Mapping[str, Any], done: bool
    ) -> list[Piece]:
        """A part whose whole text arrived: checked against its deltas (``done``); the
        text no delta carried is its remainder, to hand out (a server that sends text
        only whole)."""
        position = position if isinstance(position, int) else 0
        pieces: list[Piece] = []
        for field in ("text", "refusal"):
            text = part.get(field)
            if not isinstance(text, str):
                continue
            shown = self._shown.get((index, key, position, field), 0)
            item = self._items.get(index, {})
            held = item.get(key)
            parts: list[Any] = held if isinstance(held, list) else []
            slot = parts[position] if position < len(parts) else None
            if done and isinstance(slot, Mapping):
                self._check(slot.get(field), text, f"the {key} {position} of output item {index}")
            if len(text) > shown:
                kind = _kind(item.get("type"), part.get("type"), field)
                if kind is not None:
                    pieces.append(Piece(kind, 0, text[shown:]))
                self._shown[(index, key, position, field)] = len(text)
        return self._hand(index, pieces)

    def _hand(
        self, index: int, pieces: list[Piece], budget: dict[str, int] | None = None
    ) -> list[Piece]:
        """Pieces handed out of item ``index``, counted; with a ``budget``, at most that
        many characters of each kind."""
        out = []
        for piece in pieces:
            text = piece.text
            if budget is not None:
                text = text[: max(budget.get(piece.kind, 0), 0)]
                budget[piece.kind] = budget.get(piece.kind, 0) - len(text)
            if text:
                key = (index, piece.kind)
                self._handed[key] = self._handed.get(key, 0) + len(text)
                out.append(Piece(piece.kind, 0, text))
        return out

    def _shown_whole(self, index: int, item: Mapping[str, Any]) -> list[Piece]:
        """The text of an item that arrived whole, less what was handed out of it: part
        by part, but never more of a kind than the item holds beyond what was handed out
        (a proxy may stream a reasoning summary and end with the same text as the item's
        content: LiteLLM's bridge does)."""
        budget = {}
        for kind in ("reasoning", "content"):
            full = sum(len(p.text) for p in item_pieces(item) if p.kind == kind)
            budget[kind] = full - self._handed.get((index, kind), 0)
        candidates: list[Piece] = []
        for key in ("summary", "content"):
            parts = item.get(key)
            for position, part in enumerate(parts if isinstance(parts, list) else []):
                if isinstance(part, Mapping):
                    typed = {**part, "item_type": item.get("type")}
                    candidates.extend(self._remainders(index, key, position, typed))
        return self._hand(index, candidates, budget)

    def _remainders(
        self, index: int, key: str, position: int, part: Mapping[str, Any]
    ) -> list[Piece]:
        """The text of a part beyond what was shown of it (counted as shown now)."""
        pieces = []
        for field in ("text",):
            text = part.get(field)
            if not isinstance(text, str):
                continue
            shown = self._shown.get((index, key, position, field), 0)
            if len(text) > shown:
                kind = _kind(part.get("item_type"), part.get("type"), field)
                if kind is not None:
                    pieces.append(Piece(kind, 0, text[shown:]))
                self._shown[(index, key, position, field)] = len(text)
        return pieces

    # the result ---------------------------------------------------------------------

    def item(self, index: int) -> JSON:
        """Output item ``index`` as assembled (texts joined)."""
        found: JSON = texts.joined(self._items[index])
        return found

    def result(self) -> JSON:
        """The response: the terminal event's object (its output rebuilt when empty), or,
        before one arrived, the last snapshot with the output assembled so far."""
        response = dict(self._final if self._final is not None else self._snapshot)
        output = response.get("output")
        if not (isinstance(output, list) and output):
            indices = sorted(self._items.keys() | self._done.keys())
            response["output"] = [
                copy.deepcopy(self._done[i]) if i in self._done else self.item(i) for i in indices
            ]
        return response


def _kind(item_type: Any, part_type: Any, field: str) -> str | None:
    """The Piece kind of a part's text: output text is content, a summary or reasoning
    text is reasoning, a refusal is neither (it stays in the object)."""
    if field != "text":
        return None
    if item_type == "reasoning" or part_type in ("summary_text", "reasoning_text"):
        return "reasoning"
    if part_type == "output_text" or item_type == "message":
        return "content"
    return None
