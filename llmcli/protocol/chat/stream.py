"""Chat Completions stream assembly: ``chat.completion.chunk`` objects in, the
``chat.completion`` the same request returns without ``stream`` out (DESIGN.md, "Output").

Content, every reasoning field that arrived (``reasoning``, ``reasoning_content``,
``reasoning_details`` as OpenRouter and seed 002 send them, and Magistral's ``thinking``
parts of a list ``content``), tool calls assembled from their fragments by ``index``,
``finish_reason``, ``logprobs`` and ``usage`` (which may come in a last chunk whose
``choices`` is empty, as with ``stream_options.include_usage``). No I/O.
"""

from __future__ import annotations

from typing import Any

from llmcli.errors import ProtocolError
from llmcli.protocol.chat.shapes import JSON, content_parts, reasoning_fields
from llmcli.protocol.error_objects import stream_error
from llmcli.protocol.parts import append, joined, merge
from llmcli.protocol.pieces import Piece

#: delta fields whose string pieces are concatenated (others: the last value wins)
_TEXT_FIELDS = ("content", "reasoning", "reasoning_content", "refusal")
_DETAIL_TEXT = ("text", "summary", "data")
#: random padding OpenAI adds to each streamed chunk; a whole reply never has it
_PADDING = "obfuscation"
_FAST_CHOICE = frozenset({"index", "delta", "finish_reason"})


def _merge_details(into: list[JSON], items: list[Any]) -> None:
    for item in items:
        if not isinstance(item, dict):
            continue
        index = item.get("index")
        target = next((d for d in into if index is not None and d.get("index") == index), None)
        if target is None:
            target = {}
            into.append(target)
        for key, value in item.items():
            if key in _DETAIL_TEXT and isinstance(value, str):
                append(target, key, value)
            elif value is not None:
                target[key] = value


def _merge_tool_calls(into: list[JSON], fragments: list[Any]) -> None:
    for fragment in fragments:
        if not isinstance(fragment, dict):
            continue
        index = fragment.get("index")
        call_id = fragment.get("id")
        if index is None:
            # No index (Gemini, older Ollama): a new id starts a new call, none continues one.
            known = next((c for c in into if call_id and c.get("id") == call_id), None)
            if known is not None:
                index = known["index"]
            elif call_id or not into:
                index = len(into)
            else:
                index = into[-1]["index"]
        target = next((c for c in into if c.get("index") == index), None)
        if target is None:
            target = {"index": index}
            into.append(target)
        for key, value in fragment.items():
            if key == "function" and isinstance(value, dict):
                function = target.setdefault("function", {})
                for name, part in value.items():
                    if name == "arguments" and isinstance(part, str):
                        append(function, "arguments", part)
                    elif part is not None:
                        function[name] = part
            elif value is not None:
                target[key] = value


class _Choice:
    """One choice being assembled; ``keep_text`` False keeps memory flat for text output."""

    __slots__ = ("details", "fields", "finish_reason", "keep_text", "message", "tool_calls")

    def __init__(self, keep_text: bool) -> None:
        self.keep_text = keep_text
        self.fields: JSON = {}
        self.message: JSON = {}
        self.tool_calls: list[JSON] = []
        self.details: list[JSON] = []
        self.finish_reason: str | None = None

    def add(self, choice: JSON, index: int, pieces: list[Piece]) -> None:
        for key, value in choice.items():
            if key == "delta":
                self._add_delta(value if isinstance(value, dict) else {}, index, pieces)
            elif key == "logprobs" and isinstance(value, dict):
                logprobs = self.fields.get("logprobs")
                if not isinstance(logprobs, dict):
                    logprobs = self.fields["logprobs"] = {}
                for name, items in value.items():
                    if isinstance(items, list):
                        logprobs.setdefault(name, []).extend(items)
            elif key == "finish_reason":
                if value is not None:
                    self.finish_reason = value
                self.fields.setdefault(key, None)
            elif key not in ("index", _PADDING) and (value is not None or key not in self.fields):
                self.fields[key] = value

    def _add_delta(self, delta: JSON, index: int, pieces: list[Piece]) -> None:
        if reasoning := reasoning_fields(delta):
            pieces.append(Piece("reasoning", index, reasoning))
        for key, value in delta.items():
            if key == "content" and isinstance(value, list):
                self.message.setdefault("content", None)
                for kind, text in content_parts(value):  # kind: "content" or "reasoning"
                    if text:
                        pieces.append(Piece(kind, index, text))
                        self._add_text(kind, text)
            elif key in _TEXT_FIELDS:
                if isinstance(value, str):
                    if key == "content" and value:
                        pieces.append(Piece("content", index, value))
                    self._add_text(key, value)
                else:
                    self.message.setdefault(key, None)
            elif key == _PADDING:
                continue
            elif key == "tool_calls" and isinstance(value, list):
                self.message.setdefault("tool_calls", None)
                _merge_tool_calls(self.tool_calls, value)
            elif key == "reasoning_details" and isinstance(value, list):
                self.message.setdefault("reasoning_details", None)
                if self.keep_text:
                    _merge_details(self.details, value)
            elif self.keep_text and key != "role":  # as the SDK merges it: nothing lost
                merge(self.message, key, value)
            elif value is not None or key not in self.message:
                self.message[key] = value

    def _add_text(self, key: str, text: str) -> None:
        if self.keep_text or key == "refusal":
            append(self.message, key, text)
        else:
            self.message[key] = ""

    def result(self, index: int) -> JSON:
        message = joined(self.message)
        message.setdefault("role", "assistant")
        message.setdefault("content", None)
        if self.tool_calls:
            message["tool_calls"] = [
                {k: joined(v) for k, v in call.items() if k != "index"}
                for call in sorted(self.tool_calls, key=_call_order)
            ]
            if message.get("content") == "":
                message["content"] = None
        if self.details:
            message["reasoning_details"] = joined(self.details)
        choice: JSON = {"index": index, "message": message}
        for key, value in self.fields.items():
            choice[key] = value
        choice["finish_reason"] = self.finish_reason
        return choice


def _call_order(call: JSON) -> float:
    index = call["index"]
    return index if isinstance(index, int) else float("inf")


class ChatStream:
    """Assembles a chat completion stream, chunk by chunk."""

    def __init__(self, *, keep_text: bool = True, where: str = "gateway") -> None:
        self.keep_text = keep_text
        self.where = where
        self.top: JSON = {}
        self.choices: dict[int, _Choice] = {}

    @property
    def finished(self) -> bool:
        """Every choice has its finish reason (``[DONE]`` is not a chunk: the caller,
        which reads the events, watches for it)."""
        return bool(self.choices) and all(
            c.finish_reason is not None for c in self.choices.values()
        )

    def add(self, chunk: Any) -> list[Piece]:
        """Take one chunk; returns the text pieces it carries, in order."""
        if type(chunk) is dict and self.choices:
            quick = self._text_delta(chunk)
            if quick is not None:
                return quick
        if not isinstance(chunk, dict):
            raise ProtocolError(f"{self.where}: stream chunk is not a JSON object: {chunk!r:.80}")
        if chunk.get("error"):
            raise stream_error(chunk["error"], self.where)
        if chunk.get("object") == "error":  # vLLM's ErrorResponse, sent as a chunk
            raise stream_error(chunk, self.where)
        pieces: list[Piece] = []
        for key, value in chunk.items():
            if key == "choices":
                self.top.setdefault("choices", None)
                if not isinstance(value, list | None):
                    raise ProtocolError(f'{self.where}: "choices" is not a list: {value!r:.80}')
                for choice in value or []:
                    if isinstance(choice, dict):
                        index = self._index(choice.get("index"))
                        state = self.choices.setdefault(index, _Choice(self.keep_text))
                        state.add(choice, index, pieces)
            elif key == "object":
                self.top["object"] = "chat.completion"
            elif key == _PADDING:
                continue
            elif value is not None or key not in self.top:
                self.top[key] = value
        return pieces

    def _text_delta(self, chunk: JSON) -> list[Piece] | None:
        """The common chunk, quickly: one choice already started, whose delta is only
        ``content`` text, and top-level fields as they were. None for anything else,
        which the general path takes (the result is the same, measured by the tests)."""
        top = self.top
        choices = None
        for key, value in chunk.items():
            if key == "choices":
                choices = value
            elif key == "object":
                if value != "chat.completion.chunk" or top.get("object") != "chat.completion":
                    return None
            elif key != _PADDING and (key not in top or top[key] != value):
                return None
        if type(choices) is not list or len(choices) != 1:
            return None
        choice = choices[0]
        if type(choice) is not dict or not choice.keys() <= _FAST_CHOICE:
            return None
        delta = choice.get("delta")
        if choice.get("finish_reason") is not None or type(delta) is not dict or len(delta) != 1:
            return None
        text = delta.get("content")
        index = choice.get("index", 0)
        state = self.choices.get(0 if index is None else index)
        if type(text) is not str or state is None or "finish_reason" not in state.fields:
            return None
        state._add_text("content", text)
        return [Piece("content", 0 if index is None else index, text)] if text else []

    def _index(self, index: Any) -> int:
        """A choice's index; null or missing is 0 (a server with one choice may say so)."""
        if index is None:
            return 0
        if isinstance(index, bool) or not isinstance(index, int):
            raise ProtocolError(f"{self.where}: choice index is not an integer: {index!r:.80}")
        return index

    def result(self) -> JSON:
        """The ``chat.completion`` object assembled so far."""
        out: JSON = {}
        for key, value in self.top.items():
            if key == "choices":
                out["choices"] = [self.choices[i].result(i) for i in sorted(self.choices)]
            else:
                out[key] = value
        out.setdefault("choices", [])
        return out
