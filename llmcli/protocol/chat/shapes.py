"""Chat Completions (OpenAI's API, spoken by most gateways): request bodies and whole
replies. No I/O.

Building a request (messages, attachments as content parts, the flags' body fields,
tools, response formats) and reading a reply (errors inside a 200, the text, the
reasoning that may arrive as ``reasoning``, ``reasoning_content``, ``reasoning_details``
or Magistral's ``thinking`` parts, the tool calls). Streams are assembled in
``llmcli.protocol.chat.stream``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmcli.errors import ProtocolError
from llmcli.protocol import schemas
from llmcli.protocol.error_objects import check_error
from llmcli.protocol.pieces import Piece

JSON = dict[str, Any]
DONE = "[DONE]"


#: output-only fields some servers refuse in input messages (DeepSeek: reasoning_content):
#: a conversation file keeps them, but they are not sent back
OUTPUT_ONLY = ("reasoning", "reasoning_content")


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
    """``--schema FILE`` as a strict ``json_schema`` response format (nested)."""
    return {"type": "json_schema", "json_schema": schemas.named(schema, path)}


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


def check_completion(body: Any, where: str) -> JSON:
    """A non-streaming reply, or the error it carries."""
    if not isinstance(body, dict):
        raise ProtocolError(f"{where}: expected a JSON object, got {type(body).__name__}")
    check_error(body, where)
    if not isinstance(body.get("choices"), list):
        raise ProtocolError(f'{where}: reply has no "choices"')
    for i, choice in enumerate(body["choices"]):
        if not isinstance(choice, dict):
            raise ProtocolError(f"{where}: choice {i} is not a JSON object")
        if not isinstance(choice.get("message"), dict | None):
            raise ProtocolError(f'{where}: choice {i}: "message" is not a JSON object')
    return body


def content_parts(content: Any) -> Iterator[tuple[str, str]]:
    """List content as (Piece kind, text) in order: a ``thinking`` part (Mistral
    Magistral; its ``thinking`` a string or a list of text parts) is reasoning, the
    ``text`` of any other part is content."""
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "thinking":
            inner = part.get("thinking")
            yield "reasoning", inner if isinstance(inner, str) else _text(inner, "content")
        elif isinstance(part.get("text"), str):
            yield "content", part["text"]


def _text(content: Any, kind: str) -> str:
    return "".join(text for k, text in content_parts(content) if k == kind)


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message's content: a string, or the text of its parts."""
    content = message.get("content")
    return content if isinstance(content, str) else _text(content, "content")


def reasoning_fields(fields: Mapping[str, Any]) -> str:
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


def reasoning_text(fields: Mapping[str, Any]) -> str:
    """One reasoning text from a message or delta that may carry it three ways (the same
    text each time), or else as the ``thinking`` parts of list content."""
    return reasoning_fields(fields) or _text(fields.get("content"), "reasoning")


def _messages(completion: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Each choice's index (its position when it has none) and message (maybe empty)."""
    choices = completion.get("choices")
    for position, choice in enumerate(choices if isinstance(choices, list) else ()):
        if isinstance(choice, dict):
            index, message = choice.get("index"), choice.get("message")
            index = index if isinstance(index, int) and not isinstance(index, bool) else position
            yield index, message if isinstance(message, dict) else {}


def iter_pieces(completion: Mapping[str, Any]) -> Iterator[Piece]:
    """The reasoning and content of a whole reply, as a stream would show them."""
    for index, message in _messages(completion):
        if reasoning := reasoning_text(message):
            yield Piece("reasoning", index, reasoning)
        if text := message_text(message):
            yield Piece("content", index, text)


def tool_calls(completion: Mapping[str, Any]) -> list[JSON]:
    calls = [m.get("tool_calls") for _, m in _messages(completion)]
    return [c for group in calls if isinstance(group, list) for c in group if isinstance(c, dict)]
