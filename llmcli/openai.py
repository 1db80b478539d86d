"""OpenAI Chat Completions: request bodies, replies, and stream assembly. No I/O.

``ChatStream`` turns ``chat.completion.chunk`` objects into the ``chat.completion`` the
same request would have returned without ``stream`` (DESIGN.md, "Output"): content,
every reasoning field that arrived (``reasoning``, ``reasoning_content`` and
``reasoning_details`` as OpenRouter and seed 002 send them), tool calls assembled from
their fragments by ``index``, ``finish_reason``, ``logprobs`` and ``usage`` (which may
come in a last chunk whose ``choices`` is empty, as with ``stream_options.include_usage``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmcli.errors import (
    DataError,
    LlmcliError,
    NotAllowedError,
    ProtocolError,
    TemporaryError,
    UnavailableError,
    error_for_status,
)

JSON = dict[str, Any]
DONE = "[DONE]"
#: delta fields whose string pieces are concatenated (others: the last value wins)
_TEXT_FIELDS = ("content", "reasoning", "reasoning_content", "refusal")
_DETAIL_TEXT = ("text", "summary", "data")


@dataclass(frozen=True, slots=True)
class Piece:
    """Text to show as it arrives: ``kind`` is "content" or "reasoning"."""

    kind: str
    choice: int
    text: str


def attachment_part(mime: str, filename: str, ref: str) -> JSON:
    """A content part for an attachment: ``ref`` is its URL or data URL (seed 002 shows
    PDFs as ``file`` parts with ``filename`` and ``file_data``)."""
    if mime == "application/pdf":
        return {"type": "file", "file": {"filename": filename, "file_data": ref}}
    return {"type": "image_url", "image_url": {"url": ref}}


def user_content(text: str | None, parts: Sequence[JSON]) -> str | list[JSON] | None:
    """The prompt as a string, or as text then attachment parts when there are any."""
    if not parts:
        return text
    return [*([{"type": "text", "text": text}] if text else []), *parts]


def build_messages(
    history: Sequence[JSON], system: str | None, prompt: str | list[JSON] | None
) -> list[JSON]:
    """The conversation: ``-s`` replaces a leading system message, the prompt is appended."""
    messages = list(history)
    if system is not None:
        if messages and messages[0].get("role") in ("system", "developer"):
            messages.pop(0)
        messages.insert(0, {"role": "system", "content": system})
    if prompt is not None:
        messages.append({"role": "user", "content": prompt})
    return messages


#: flags whose value goes into the body under the same name
_PLAIN = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "user",
    "top_logprobs",
    "stream_options",
    "chat_template_kwargs",
    "tools",
    "conversation_id",
    "memory",
)


def tool_choice(value: str) -> Any:
    """``auto``/``none``/``required`` as they are; any other word names a function."""
    if value in ("auto", "none", "required"):
        return value
    return {"type": "function", "function": {"name": value}}


def tool(spec: Any) -> Any:
    """A function tool in OpenAI's shape; an Anthropic ``{name, input_schema}`` converted."""
    if isinstance(spec, Mapping) and "input_schema" in spec and "function" not in spec:
        function: JSON = {"name": spec.get("name")}
        if spec.get("description"):
            function["description"] = spec["description"]
        function["parameters"] = spec["input_schema"]
        return {"type": "function", "function": function}
    return spec


def schema_format(schema: Any, path: str) -> JSON:
    """``--schema FILE`` as a strict ``json_schema`` response format. The file is a JSON
    Schema, or already ``{"name", "schema", …}``."""
    if isinstance(schema, Mapping) and isinstance(schema.get("schema"), Mapping):
        spec = dict(schema)
    else:
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        name = "".join(c if c.isalnum() or c in "_-" else "_" for c in stem)[:64] or "reply"
        spec = {"name": name, "schema": schema}
    spec.setdefault("strict", True)
    return {"type": "json_schema", "json_schema": spec}


def response_format(value: Any) -> Any:
    if isinstance(value, str):
        return {"type": value}
    return value


def apply_options(body: JSON, options: Mapping[str, Any], *, reasoning_style: str) -> None:
    """Set the body fields the chat flags ask for; None means the flag was not given."""
    given = {k: v for k, v in options.items() if v is not None and v != []}
    for key in _PLAIN:
        if key in given:
            body[key] = given[key]
    if "stop" in given:
        stops = list(given["stop"])
        body["stop"] = stops[0] if len(stops) == 1 else stops
    if "response_format" in given:
        body["response_format"] = response_format(given["response_format"])
    if "tool_choice" in given:
        body["tool_choice"] = tool_choice(given["tool_choice"])
    if given.get("logprobs") or "top_logprobs" in given:
        body["logprobs"] = True
    if "thinking" in given:
        kwargs = dict(body.get("chat_template_kwargs") or {})
        kwargs["enable_thinking"] = bool(given["thinking"])
        body["chat_template_kwargs"] = kwargs
    if "reasoning_effort" in given:
        if reasoning_style == "openrouter":
            body.setdefault("reasoning", {})["effort"] = given["reasoning_effort"]
        else:
            body["reasoning_effort"] = given["reasoning_effort"]
    if "reasoning_budget" in given:
        body.setdefault("reasoning", {})["max_tokens"] = given["reasoning_budget"]
    if "reasoning_enabled" in given:
        body.setdefault("reasoning", {})["enabled"] = bool(given["reasoning_enabled"])
    if given.get("reasoning_exclude"):
        body.setdefault("reasoning", {})["exclude"] = True


def stream_error(error: Any, where: str) -> LlmcliError:
    """The error type for an ``error`` object a server sent inside a 200 response."""
    if isinstance(error, Mapping):
        message = str(error.get("message") or error.get("type") or "error")
        kind = f"{error.get('type', '')} {error.get('code', '')}".lower()
        extras = [str(error[k]) for k in ("type", "code") if error.get(k)]
        extras = [e for e in dict.fromkeys(extras) if e != message]
        if extras:
            message += f" [{', '.join(extras)}]"
        status = str(error.get("code") or error.get("status") or "")
    else:
        message, kind, status = str(error), str(error).lower(), ""
    text = f"error from {where}: {message}"
    if status.isdigit() and 400 <= int(status) < 600:
        return error_for_status(int(status))(text)
    if "rate" in kind or "429" in kind:
        return TemporaryError(text)
    if any(k in kind for k in ("auth", "permission", "401", "403", "402", "balance")):
        return NotAllowedError(text)
    if "invalid" in kind or "not_found" in kind or "400" in kind or "404" in kind:
        return DataError(text)
    return UnavailableError(text)


def check_error(body: Any, where: str) -> None:
    """Raise the error a 200 answer may carry instead of its data."""
    if isinstance(body, dict) and body.get("error") and not body.get("choices"):
        raise stream_error(body["error"], where)


def check_completion(body: Any, where: str) -> JSON:
    """A non-streaming reply, or the error it carries."""
    if not isinstance(body, dict):
        raise ProtocolError(f"{where}: expected a JSON object, got {type(body).__name__}")
    check_error(body, where)
    if not isinstance(body.get("choices"), list):
        raise ProtocolError(f'{where}: reply has no "choices"')
    return body


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message's content: a string, or the text of its parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def reasoning_text(fields: Mapping[str, Any]) -> str:
    """One reasoning text from a message or delta that may carry it three ways."""
    for key in ("reasoning", "reasoning_content"):
        value = fields.get(key)
        if isinstance(value, str) and value:
            return value
    details = fields.get("reasoning_details")
    if isinstance(details, list):
        return "".join(
            str(d.get("text") or d.get("summary") or "") for d in details if isinstance(d, dict)
        )
    return ""


def iter_pieces(completion: Mapping[str, Any]) -> Iterator[Piece]:
    """The reasoning and content of a whole reply, as a stream would show them."""
    for choice in completion.get("choices") or []:
        message = choice.get("message") or {}
        index = choice.get("index", 0)
        if reasoning := reasoning_text(message):
            yield Piece("reasoning", index, reasoning)
        if text := message_text(message):
            yield Piece("content", index, text)


def tool_calls(completion: Mapping[str, Any]) -> list[JSON]:
    calls: list[JSON] = []
    for choice in completion.get("choices") or []:
        calls.extend((choice.get("message") or {}).get("tool_calls") or [])
    return calls


class _Parts(list[str]):
    """Text arriving in pieces; joined once in ``result()`` (``+=`` on a dict value would
    copy the whole text for every chunk: quadratic time on long streams)."""


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
                _append(target, key, value)
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
                        _append(function, "arguments", part)
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
            elif key != "index" and (value is not None or key not in self.fields):
                self.fields[key] = value

    def _add_delta(self, delta: JSON, index: int, pieces: list[Piece]) -> None:
        reasoning = reasoning_text(delta)
        if reasoning:
            pieces.append(Piece("reasoning", index, reasoning))
        for key, value in delta.items():
            if key in _TEXT_FIELDS:
                if isinstance(value, str):
                    if key == "content" and value:
                        pieces.append(Piece("content", index, value))
                    if self.keep_text or key == "refusal":
                        _append(self.message, key, value)
                    else:
                        self.message[key] = ""
                else:
                    self.message.setdefault(key, None)
            elif key == "tool_calls" and isinstance(value, list):
                self.message.setdefault("tool_calls", None)
                _merge_tool_calls(self.tool_calls, value)
            elif key == "reasoning_details" and isinstance(value, list):
                self.message.setdefault("reasoning_details", None)
                if self.keep_text:
                    _merge_details(self.details, value)
            elif value is not None or key not in self.message:
                self.message[key] = value

    def result(self, index: int) -> JSON:
        message = _joined(self.message)
        message.setdefault("role", "assistant")
        message.setdefault("content", None)
        if self.tool_calls:
            message["tool_calls"] = [
                {k: _joined(v) for k, v in call.items() if k != "index"}
                for call in sorted(self.tool_calls, key=lambda c: int(c.get("index", 0)))
            ]
            if message.get("content") == "":
                message["content"] = None
        if self.details:
            message["reasoning_details"] = _joined(self.details)
        choice: JSON = {"index": index, "message": message}
        for key, value in self.fields.items():
            choice[key] = value
        choice["finish_reason"] = self.finish_reason
        return choice


class ChatStream:
    """Assembles a chat completion stream, chunk by chunk."""

    def __init__(self, *, keep_text: bool = True, where: str = "gateway") -> None:
        self.keep_text = keep_text
        self.where = where
        self.top: JSON = {}
        self.choices: dict[int, _Choice] = {}
        self.done = False

    @property
    def finished(self) -> bool:
        """``[DONE]`` arrived, or every choice has its finish reason."""
        if self.done:
            return True
        return bool(self.choices) and all(
            c.finish_reason is not None for c in self.choices.values()
        )

    def add(self, chunk: Any) -> list[Piece]:
        """Take one chunk; returns the text pieces it carries, in order."""
        if not isinstance(chunk, dict):
            raise ProtocolError(f"{self.where}: stream chunk is not a JSON object: {chunk!r:.80}")
        if chunk.get("error"):
            raise stream_error(chunk["error"], self.where)
        pieces: list[Piece] = []
        for key, value in chunk.items():
            if key == "choices":
                self.top.setdefault("choices", None)
                for choice in value or []:
                    if isinstance(choice, dict):
                        index = int(choice.get("index", 0))
                        state = self.choices.setdefault(index, _Choice(self.keep_text))
                        state.add(choice, index, pieces)
            elif key == "object":
                self.top["object"] = "chat.completion"
            elif value is not None or key not in self.top:
                self.top[key] = value
        return pieces

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
