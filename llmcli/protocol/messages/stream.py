"""Anthropic Messages stream assembly: the server-sent events of a streaming
``POST /v1/messages`` in, the ``message`` the same request returns without ``stream`` out
(https://docs.anthropic.com/en/docs/build-with-claude/streaming). No I/O.

``message_start`` carries the message with empty ``content``; each block is
``content_block_start`` at its ``index``, deltas (``text_delta``, ``thinking_delta``,
``signature_delta``, ``input_json_delta``, ``citations_delta``) and
``content_block_stop``; ``message_delta`` sets ``stop_reason``, ``stop_sequence`` and the
cumulative ``usage``; ``message_stop`` ends the stream. ``ping`` is a keep-alive and
``error`` an error sent inside the 200 response.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from llmcli.errors import ProtocolError
from llmcli.protocol.messages.shapes import JSON, error_of, stream_error
from llmcli.protocol.parts import append, joined
from llmcli.protocol.pieces import Piece

_TEXT_DELTAS = {"text_delta": ("text", "content"), "thinking_delta": ("thinking", "reasoning")}
_EVENTS = {
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
}
#: the block type a delta implies when its block never started
_IMPLIED = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "tool_use"}


class MessageStream:
    """Assembles an Anthropic Messages stream, event by event."""

    def __init__(self, *, keep_text: bool = True, where: str = "gateway") -> None:
        self.keep_text = keep_text
        self.where = where
        self.message: JSON = {}
        self.blocks: dict[int, JSON] = {}
        self.json_parts: dict[int, list[str]] = {}
        self.last_index: int | None = None
        self.stopped = False

    @property
    def finished(self) -> bool:
        """``message_stop`` arrived, after a ``message_start``."""
        return self.stopped and bool(self.message)

    def add(self, event: str, data: Any) -> list[Piece]:
        """Take one event (its SSE name and parsed data); returns the text pieces it carries.
        An event without an ``event:`` line (name "message") goes by its data's ``type``."""
        kind = event
        if (not kind or kind == "message") and isinstance(data, Mapping):
            kind = str(data.get("type") or "")
        if kind == "error" or (isinstance(data, Mapping) and data.get("type") == "error"):
            raise stream_error(error_of(data) if isinstance(data, Mapping) else data, self.where)
        if kind not in _EVENTS:
            return []
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.where}: {kind} event is not a JSON object: {data!r:.80}")
        pieces: list[Piece] = []
        if kind == "message_start":
            message = data.get("message")
            self.message = copy.deepcopy(message) if isinstance(message, dict) else {}
            for index, block in enumerate(self.message.get("content") or []):
                if isinstance(block, dict):
                    self.blocks[index] = block
        elif kind == "content_block_start":
            self.last_index = self._index(data, None)
            block = data.get("content_block")
            self.blocks[self.last_index] = copy.deepcopy(block) if isinstance(block, dict) else {}
        elif kind == "content_block_delta":
            self._delta(self._index(data, self.last_index), data.get("delta"), pieces)
        elif kind == "content_block_stop":
            self._stop_block(self._index(data, self.last_index))
        elif kind == "message_delta":
            self._message_delta(data)
        else:
            self.stopped = True
        return pieces

    def _index(self, data: JSON, default: int | None) -> int:
        index = data.get("index", default)
        if index is None:
            index = max(self.blocks, default=-1) + 1
        if isinstance(index, bool) or not isinstance(index, int):
            raise ProtocolError(f"{self.where}: content block index is not an integer: {index!r}")
        return index

    def _delta(self, index: int, delta: Any, pieces: list[Piece]) -> None:
        if not isinstance(delta, dict):
            return
        kind = str(delta.get("type", ""))
        block = self.blocks.get(index)
        if block is None:
            block = self.blocks[index] = {"type": _IMPLIED.get(kind, "text")}
        self.last_index = index
        if kind in _TEXT_DELTAS:
            field, piece = _TEXT_DELTAS[kind]
            text = delta.get(field)
            if isinstance(text, str) and text:
                pieces.append(Piece(piece, 0, text))
                if self.keep_text:
                    append(block, field, text)
        elif kind == "input_json_delta":
            partial = delta.get("partial_json")
            if isinstance(partial, str):
                self.json_parts.setdefault(index, []).append(partial)
        elif kind == "citations_delta":
            citations = block.get("citations")
            if not isinstance(citations, list):
                citations = block["citations"] = []
            citations.append(delta.get("citation"))
        else:  # signature_delta and any delta type to come: strings appended, others set
            for key, value in delta.items():
                if key == "type":
                    continue
                if isinstance(value, str):
                    append(block, key, value)
                elif value is not None:
                    block[key] = value

    def _stop_block(self, index: int) -> None:
        parts = self.json_parts.pop(index, None)
        if parts is None:
            return
        block = self.blocks.setdefault(index, {"type": "tool_use"})
        try:
            block["input"] = _parse_input(parts)
        except orjson.JSONDecodeError as e:
            raise ProtocolError(
                f"{self.where}: content block {index}: tool input is not valid JSON: {e}"
            ) from None

    def _message_delta(self, data: JSON) -> None:
        delta = data.get("delta")
        if isinstance(delta, dict):
            self.message.update(delta)
        usage = data.get("usage")
        if isinstance(usage, dict):
            merged = self.message.get("usage")
            if not isinstance(merged, dict):
                merged = self.message["usage"] = {}
            for key, value in usage.items():
                if value is not None or key not in merged:
                    merged[key] = value
        for key, value in data.items():
            if key not in ("type", "delta", "usage") and value is not None:
                self.message[key] = copy.deepcopy(value)

    def result(self) -> JSON:
        """The ``message`` assembled so far; the input of a block that never stopped (a cut
        stream) is parsed when it can be, else kept as the raw string that arrived."""
        out: JSON = {} if self.message else {"type": "message", "role": "assistant"}
        for key, value in self.message.items():
            out[key] = joined(value) if key != "content" else None
        content = []
        for index in sorted(self.blocks):
            block = joined(self.blocks[index])
            parts = self.json_parts.get(index)
            if parts is not None:
                try:
                    block["input"] = _parse_input(parts)
                except orjson.JSONDecodeError:
                    block["input"] = "".join(parts)
            content.append(block)
        out["content"] = content
        return out


def _parse_input(parts: list[str]) -> Any:
    """The tool input collected from ``input_json_delta`` fragments; empty is ``{}``."""
    text = "".join(parts)
    return orjson.loads(text) if text.strip() else {}
