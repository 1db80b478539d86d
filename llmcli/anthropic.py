"""Anthropic Messages: request bodies, replies, and stream assembly. No I/O.

``MessageStream`` turns the server-sent events of a streaming ``POST /v1/messages``
(https://docs.anthropic.com/en/docs/build-with-claude/streaming; the API reference at
https://docs.anthropic.com/en/api/messages-streaming) into the ``message`` the same request
would have returned without ``stream`` (DESIGN.md, "Output"): ``message_start`` carries the
message with empty ``content``; each block is ``content_block_start`` at its ``index``,
deltas (``text_delta``, ``thinking_delta``, ``signature_delta``, ``input_json_delta``,
``citations_delta``) and ``content_block_stop``; ``message_delta`` sets ``stop_reason``,
``stop_sequence`` and the cumulative ``usage``; ``message_stop`` ends the stream. ``ping``
is a keep-alive and ``error`` an error sent inside the 200 response.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from llmcli import openai
from llmcli.errors import (
    DataError,
    LlmcliError,
    NotAllowedError,
    ProtocolError,
    TemporaryError,
    UnavailableError,
)
from llmcli.openai import Piece

JSON = dict[str, Any]
DEFAULT_MAX_TOKENS = 4096
ANTHROPIC_VERSION = "2023-06-01"

#: Anthropic error types (https://docs.anthropic.com/en/api/errors) -> exit code
_ERRORS: dict[str, type[LlmcliError]] = {
    "invalid_request_error": DataError,
    "not_found_error": DataError,
    "request_too_large": DataError,
    "authentication_error": NotAllowedError,
    "permission_error": NotAllowedError,
    "billing_error": NotAllowedError,
    "rate_limit_error": TemporaryError,
    "api_error": UnavailableError,
    "overloaded_error": UnavailableError,
    "timeout_error": UnavailableError,
}
_SYSTEM_ROLES = ("system", "developer")
_PLAIN = ("max_tokens", "temperature", "top_p", "top_k")


def attachment_block(mime: str, url: str | None, data: str | None) -> JSON:
    """An ``image`` or ``document`` (PDF) block: a URL source, or base64 ``data``."""
    kind = "document" if mime == "application/pdf" else "image"
    if url is not None and url.startswith("data:") and ";base64," in url:
        head, _, data = url.partition(",")
        mime, url = head[5:].split(";", 1)[0], None
    if url is not None:
        return {"type": kind, "source": {"type": "url", "url": url}}
    return {"type": kind, "source": {"type": "base64", "media_type": mime, "data": data}}


def user_content(text: str | None, blocks: Sequence[JSON]) -> str | list[JSON] | None:
    """The prompt as a string, or attachment blocks then the text (Anthropic's advice is
    to put images before the question)."""
    if not blocks:
        return text
    return [*blocks, *([{"type": "text", "text": text}] if text else [])]


def build_messages(history: Sequence[JSON], prompt: str | list[JSON] | None) -> list[JSON]:
    """The conversation with the prompt appended as a user message."""
    messages = list(history)
    if prompt is not None:
        messages.append({"role": "user", "content": prompt})
    return messages


def _from_openai_part(part: Any) -> Any:
    if isinstance(part, Mapping) and part.get("type") == "image_url":
        url = (part.get("image_url") or {}).get("url", "")
        return attachment_block("image/*", str(url), None)
    if isinstance(part, Mapping) and part.get("type") == "file":
        data = str((part.get("file") or {}).get("file_data", ""))
        return attachment_block("application/pdf", data, None)
    return part


def from_openai(history: Sequence[JSON]) -> list[JSON]:
    """Chat Completions messages as Messages API ones, so one conversation file serves both:
    ``tool`` messages become ``tool_result`` blocks (consecutive ones in one user turn),
    an assistant's ``tool_calls`` become ``tool_use`` blocks, image and file parts become
    image and document blocks. Messages already in Anthropic's shape pass unchanged."""
    out: list[JSON] = []
    for message in history:
        role, content = message.get("role"), message.get("content")
        if role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": content if content is not None else "",
            }
            last = out[-1] if out else None
            if (
                last
                and last["role"] == "user"
                and isinstance(last["content"], list)
                and all(b.get("type") == "tool_result" for b in last["content"])
            ):
                last["content"].append(result)
            else:
                out.append({"role": "user", "content": [result]})
            continue
        if role == "assistant" and message.get("tool_calls"):
            blocks: list[Any] = [{"type": "text", "text": content}] if content else []
            for call in message["tool_calls"]:
                function = call.get("function") or {}
                try:
                    arguments = orjson.loads(function.get("arguments") or "{}")
                except orjson.JSONDecodeError:
                    arguments = {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": function.get("name"),
                        "input": arguments,
                    }
                )
            out.append({"role": "assistant", "content": blocks})
            continue
        if isinstance(content, list):
            message = {**message, "content": [_from_openai_part(p) for p in content]}
        if role in ("user", "assistant"):
            message = {"role": role, "content": message.get("content")}
        out.append(dict(message))
    return out


def split_system(history: Sequence[JSON]) -> tuple[str | list[Any] | None, list[JSON]]:
    """Lift every ``system``/``developer`` message out of ``history`` (Anthropic takes the
    system prompt as the top-level ``system``): a string, or text blocks when any of them
    has list content; ``None`` when there is none."""
    rest = [m for m in history if m.get("role") not in _SYSTEM_ROLES]
    contents: list[Any] = [
        m["content"] for m in history if m.get("role") in _SYSTEM_ROLES and m.get("content")
    ]
    if not contents:
        return None, rest
    if all(isinstance(c, str) for c in contents):
        return "\n\n".join(contents), rest
    items = [i for c in contents for i in (c if isinstance(c, list) else [c])]
    blocks = [{"type": "text", "text": i} if isinstance(i, str) else i for i in items]
    return copy.deepcopy(blocks), rest


def tool(spec: Mapping[str, Any]) -> JSON:
    """An Anthropic tool definition; an OpenAI ``{"type": "function", …}`` one converted."""
    function = spec.get("function")
    if spec.get("type") == "function" and isinstance(function, Mapping):
        out: JSON = {"name": function.get("name")}
        if function.get("description") is not None:
            out["description"] = function["description"]
        schema = function.get("parameters")
        out["input_schema"] = copy.deepcopy(schema) if schema is not None else {"type": "object"}
        return out
    return copy.deepcopy(dict(spec))


def tool_choice(value: Any) -> Any:
    """``auto``/``none``; ``required`` or ``any``; another word names a tool; dicts pass
    (an OpenAI ``{"type": "function", "function": {"name": …}}`` is converted)."""
    if isinstance(value, Mapping):
        function = value.get("function")
        if value.get("type") == "function" and isinstance(function, Mapping):
            return {"type": "tool", "name": function.get("name")}
        return copy.deepcopy(dict(value))
    if value in ("auto", "none"):
        return {"type": value}
    if value in ("required", "any"):
        return {"type": "any"}
    return {"type": "tool", "name": str(value)}


def apply_options(body: JSON, options: Mapping[str, Any]) -> None:
    """Set the body fields the messages flags ask for; None means the flag was not given.
    ``max_tokens`` is not defaulted here (see ``DEFAULT_MAX_TOKENS``)."""
    given = {k: v for k, v in options.items() if v is not None and v != []}
    for key in _PLAIN:
        if key in given:
            body[key] = given[key]
    if "stop" in given:
        stop = given["stop"]
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if "thinking_budget" in given:
        body["thinking"] = {"type": "enabled", "budget_tokens": given["thinking_budget"]}
    if "tools" in given:
        body["tools"] = [tool(t) if isinstance(t, Mapping) else t for t in given["tools"]]
    if "tool_choice" in given:
        body["tool_choice"] = tool_choice(given["tool_choice"])
    if "metadata" in given:
        body["metadata"] = copy.deepcopy(given["metadata"])
    if "system" in given:
        body["system"] = given["system"]


def stream_error(error: Any, where: str) -> LlmcliError:
    """The error for an Anthropic ``error`` object (in a stream or a 200 body); other
    shapes are read the OpenAI way (``llmcli.openai.stream_error``)."""
    if isinstance(error, Mapping) and str(error.get("type")) in _ERRORS:
        kind = str(error["type"])
        message = str(error.get("message") or kind)
        return _ERRORS[kind](f"error from {where}: {message} [{kind}]")
    return openai.stream_error(error, where)


def _error_of(body: Mapping[str, Any]) -> Any:
    error = body.get("error")
    return error if error is not None else dict(body)


def check_message(body: Any, where: str) -> JSON:
    """A non-streaming reply, or the error it carries."""
    if not isinstance(body, dict):
        raise ProtocolError(f"{where}: expected a JSON object, got {type(body).__name__}")
    if body.get("type") == "error" or (body.get("error") and body.get("type") != "message"):
        raise stream_error(_error_of(body), where)
    if body.get("type") != "message":
        raise ProtocolError(f'{where}: reply is not a "message" (type {body.get("type")!r})')
    if not isinstance(body.get("content"), list):
        raise ProtocolError(f'{where}: reply has no "content" list')
    return body


def iter_pieces(message: Mapping[str, Any]) -> Iterator[Piece]:
    """The thinking and text of a whole message, block by block, as a stream shows them."""
    for block in message.get("content") or []:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(text := block.get("text"), str) and text:
            yield Piece("content", 0, text)
        elif kind == "thinking" and isinstance(text := block.get("thinking"), str) and text:
            yield Piece("reasoning", 0, text)


def tool_uses(message: Mapping[str, Any]) -> list[JSON]:
    """The ``tool_use`` blocks (and ``server_tool_use``, ``mcp_tool_use``) of a message."""
    return [
        b
        for b in message.get("content") or []
        if isinstance(b, dict) and str(b.get("type", "")).endswith("tool_use")
    ]


class _Parts(list[str]):
    """Text arriving in pieces; joined once in ``result()`` (``+=`` on a dict value would
    copy the whole text for every delta: quadratic time on long streams)."""


def _append(target: JSON, key: str, text: str) -> None:
    parts = target.get(key)
    if not isinstance(parts, _Parts):
        parts = target[key] = _Parts([parts] if isinstance(parts, str) else [])
    parts.append(text)


def _joined(value: Any) -> Any:
    """A copy of an assembled value with every ``_Parts`` joined into its string."""
    if isinstance(value, _Parts):
        return "".join(value)
    if isinstance(value, dict):
        return {k: _joined(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_joined(v) for v in value]
    return value


#: delta type -> (block field, Piece kind); the text is kept only with ``keep_text``
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
        """``message_stop`` arrived."""
        return self.stopped

    def add(self, event: str, data: Any) -> list[Piece]:
        """Take one event (its SSE name and parsed data); returns the text pieces it carries.
        An event without an ``event:`` line (name "message") goes by its data's ``type``."""
        kind = event
        if (not kind or kind == "message") and isinstance(data, Mapping):
            kind = str(data.get("type") or "")
        if kind == "error" or (isinstance(data, Mapping) and data.get("type") == "error"):
            raise stream_error(_error_of(data) if isinstance(data, Mapping) else data, self.where)
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
                    _append(block, field, text)
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
                    _append(block, key, value)
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
            out[key] = _joined(value) if key != "content" else None
        content = []
        for index in sorted(self.blocks):
            block = _joined(self.blocks[index])
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
