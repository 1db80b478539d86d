"""The message shapes the two APIs take, checked before anything is sent. No I/O.

``chat`` follows the ``messages`` parameter of OpenAI's Chat Completions reference
(https://platform.openai.com/docs/api-reference/chat/create): developer, system, user,
assistant, tool and the deprecated function messages. ``messages`` follows Anthropic's
Messages reference (https://docs.anthropic.com/en/api/messages): user and assistant turns
of content blocks, plus the OpenAI-shaped history that
``llmcli.protocol.messages.shapes.from_openai`` converts (system and developer messages
lifted, tool messages, tool calls, image_url and file parts). ``any`` takes what either
takes: it checks a conversation file whose command is not known where it is read.

Liberal where the APIs and gateways are: extra keys pass (``name``, ``cache_control``,
``reasoning_details`` …) and so do the parts the seed gateways and local servers document
beyond OpenAI's (Magistral's ``thinking``, vLLM's ``audio_url`` and ``video_url``). Strict
where no server would take it: a role not in the list, content that is neither a string
nor a list of parts, a part of an unknown type, an assistant turn with nothing in it, a
tool result that names no call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

Api = Literal["chat", "messages", "responses", "any"]

#: OpenAI's part types, Mistral Magistral's ``thinking``, vLLM's ``audio_url``/``video_url``
CHAT_PARTS = (
    "text",
    "image_url",
    "input_audio",
    "file",
    "refusal",
    "thinking",
    "audio_url",
    "video_url",
)
#: the content blocks a Messages request may carry
ANTHROPIC_BLOCKS = (
    "text",
    "image",
    "document",
    "search_result",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "tool_result",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
)
#: the OpenAI parts ``anthropic.from_openai`` turns into blocks
CONVERTED_PARTS = ("image_url", "file")

#: the input parts of the Responses API (and the output parts a history sends back)
RESPONSES_PARTS = (
    "input_text",
    "output_text",
    "input_image",
    "input_file",
    "summary_text",
    "reasoning_text",
)

ALL_PARTS = frozenset(CHAT_PARTS + ANTHROPIC_BLOCKS + RESPONSES_PARTS)

CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
MESSAGES_ROLES = ("user", "assistant", "system", "developer", "tool")


@dataclass(frozen=True, slots=True)
class _Dialect:
    name: str  # in "… is not a type of {name}"
    roles: tuple[str, ...]
    parts: frozenset[str]
    tool_content_optional: bool  # from_openai sends a null tool result as ""
    thinking_list: bool  # Magistral's thinking is a list of text parts
    openai_only: bool  # custom tool calls; an assistant turn of function_call, refusal, audio


_DIALECTS: dict[str, _Dialect] = {
    "chat": _Dialect(
        "the Chat Completions API", CHAT_ROLES, frozenset(CHAT_PARTS), False, True, True
    ),
    "messages": _Dialect(
        "the Messages API",
        MESSAGES_ROLES,
        frozenset(ANTHROPIC_BLOCKS + CONVERTED_PARTS),
        True,
        False,
        False,
    ),
    "responses": _Dialect(
        "the Responses API",
        CHAT_ROLES,
        frozenset(CHAT_PARTS + RESPONSES_PARTS),
        False,
        True,
        True,
    ),
    "any": _Dialect("any API", CHAT_ROLES, ALL_PARTS, True, True, True),
}


def _quoted(text: str) -> str:
    """A value as JSON writes it: quoted, escaped, on one line."""
    return orjson.dumps(text).decode()


def kind(value: Any) -> str:
    """A JSON value's type as a phrase: ``a number``, ``null`` …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def problem(message: Any, api: Api = "any") -> str | None:
    """What keeps ``message`` from being sent to ``api``, as a phrase that follows
    ``file:line: ``; None when nothing does."""
    dialect = _DIALECTS[api]
    if not isinstance(message, Mapping):
        return "a message must be a JSON object"
    item = message.get("type")
    if api in ("responses", "any") and item is not None and item != "message":
        # a Responses input item (function_call, reasoning …): the server reads it
        return None if isinstance(item, str) else f'"type" must be a string, not {kind(item)}'
    role = message.get("role")
    if not isinstance(role, str):
        return 'message has no "role"'
    if role not in dialect.roles:
        return f"role {_quoted(role)} is not one of {', '.join(dialect.roles)}"
    content = message.get("content")
    if role == "function":
        if content is not None and not isinstance(content, str):
            return f"content must be a string or null, not {kind(content)}"
        return _string(message, "name", "a function message")
    if role == "tool":
        if wrong := _string(message, "tool_call_id", "a tool message"):
            return wrong
        if content is None and dialect.tool_content_optional:
            return None
    elif role == "assistant":
        calls = message.get("tool_calls")
        if calls is not None and (wrong := _tool_calls(calls, dialect.openai_only)):
            return wrong
        if content is None:
            extras = ("function_call", "refusal", "audio") if dialect.openai_only else ()
            if calls or any(message.get(k) is not None for k in extras):
                return None
            return 'an assistant message needs "content" or "tool_calls"'
    if "content" not in message:
        return f'a {role} message has no "content"'
    return _content(content, dialect)


def _string(message: Mapping[str, Any], key: str, what: str) -> str | None:
    value = message.get(key)
    if value is None:
        return f'{what} needs "{key}"'
    if not isinstance(value, str):
        return f'"{key}" must be a string, not {kind(value)}'
    return None


def _tool_calls(calls: Any, custom: bool) -> str | None:
    """OpenAI's assistant ``tool_calls``: function calls, and custom tool calls where
    ``custom`` (``from_openai`` converts function calls only)."""
    if not isinstance(calls, list):
        return f'"tool_calls" must be a list of tool calls, not {kind(calls)}'
    for number, call in enumerate(calls, 1):
        if not isinstance(call, Mapping):
            return f"tool call {number} must be a JSON object, not {kind(call)}"
        if not isinstance(call.get("id"), str):
            return f'tool call {number} has no "id"'
        key = "custom" if custom and call.get("type") == "custom" else "function"
        function = call.get(key)
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            return f'tool call {number}: "{key}" must be an object with a "name"'
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str | Mapping):
            return f'tool call {number}: "arguments" must be a JSON string, not {kind(arguments)}'
    return None


def _content(content: Any, dialect: _Dialect) -> str | None:
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return f"content must be a string or a list of content parts, not {kind(content)}"
    for number, part in enumerate(content, 1):
        if not isinstance(part, Mapping):
            return f"content part {number} must be a JSON object, not {kind(part)}"
        part_type = part.get("type")
        if not isinstance(part_type, str):
            return f'content part {number} has no "type"'
        if part_type not in dialect.parts:
            if part_type not in ALL_PARTS:
                return f"content part {number}: unknown type {_quoted(part_type)}"
            return f"content part {number}: {_quoted(part_type)} is not a type of {dialect.name}"
        check = _PART_CHECKS.get(part_type)
        if check is not None and (wrong := check(part, dialect)):
            return f"content part {number} ({part_type}): {wrong}"
    return None


def _field(
    part: Mapping[str, Any], key: str, types: type | tuple[type, ...], what: str
) -> str | None:
    value = part.get(key)
    if not isinstance(value, types):
        return f'"{key}" must be {what}, not {kind(value)}'
    return None


def _text(part: Mapping[str, Any], _: _Dialect) -> str | None:
    return _field(part, "text", str, "a string")


def _url_object(key: str) -> Callable[[Mapping[str, Any], _Dialect], str | None]:
    """``{"image_url": {"url": …}}`` and kin; a bare URL string is taken too (vLLM,
    and ``from_openai``)."""

    def check(part: Mapping[str, Any], _: _Dialect) -> str | None:
        value = part.get(key)
        if isinstance(value, str) or (
            isinstance(value, Mapping) and isinstance(value.get("url"), str)
        ):
            return None
        return f'"{key}" must be an object with a "url"'

    return check


def _input_audio(part: Mapping[str, Any], _: _Dialect) -> str | None:
    audio = part.get("input_audio")
    if isinstance(audio, Mapping) and all(
        isinstance(audio.get(k), str) for k in ("data", "format")
    ):
        return None
    return '"input_audio" must be an object with "data" and "format"'


def _file(part: Mapping[str, Any], _: _Dialect) -> str | None:
    return _field(part, "file", dict, "an object")


def _refusal(part: Mapping[str, Any], _: _Dialect) -> str | None:
    return _field(part, "refusal", str, "a string")


def _thinking(part: Mapping[str, Any], dialect: _Dialect) -> str | None:
    if dialect.thinking_list:
        return _field(part, "thinking", (str, list), "a string or a list")
    return _field(part, "thinking", str, "a string")


def _source(part: Mapping[str, Any], _: _Dialect) -> str | None:
    return _field(part, "source", dict, "an object")


def _tool_use(part: Mapping[str, Any], _: _Dialect) -> str | None:
    for key in ("id", "name"):
        if wrong := _field(part, key, str, "a string"):
            return wrong
    return _field(part, "input", dict, "an object")


def _tool_result(part: Mapping[str, Any], _: _Dialect) -> str | None:
    if wrong := _field(part, "tool_use_id", str, "a string"):
        return wrong
    if part.get("content") is not None:
        return _field(part, "content", (str, list), "a string or a list of blocks")
    return None


def _redacted(part: Mapping[str, Any], _: _Dialect) -> str | None:
    return _field(part, "data", str, "a string")


_PART_CHECKS: dict[str, Callable[[Mapping[str, Any], _Dialect], str | None]] = {
    "text": _text,
    "input_text": _text,
    "output_text": _text,
    "image_url": _url_object("image_url"),
    "audio_url": _url_object("audio_url"),
    "video_url": _url_object("video_url"),
    "input_audio": _input_audio,
    "file": _file,
    "refusal": _refusal,
    "thinking": _thinking,
    "image": _source,
    "document": _source,
    "tool_use": _tool_use,
    "tool_result": _tool_result,
    "redacted_thinking": _redacted,
}
