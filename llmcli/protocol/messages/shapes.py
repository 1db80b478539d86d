"""Messages (Anthropic's API): request bodies and whole replies. No I/O.

Building a request (the system prompt lifted to the top level, OpenAI-shaped history,
tools and tool_choice converted, attachments as image and document blocks, thinking
budget) and reading a reply (Anthropic error types mapped to exit codes, text, thinking
and tool_use blocks). Streams are assembled in ``llmcli.protocol.messages.stream``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from llmcli.errors import (
    DataError,
    LlmcliError,
    NotAllowedError,
    ProtocolError,
    TemporaryError,
    UnavailableError,
)
from llmcli.protocol import error_objects
from llmcli.protocol.pieces import Piece

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
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        return attachment_block("image/*", str(url or ""), None)
    if kind == "file":
        file = part.get("file")
        data = file.get("file_data") if isinstance(file, Mapping) else None
        return attachment_block("application/pdf", str(data or ""), None)
    return part


def _tool_use(call: Mapping[str, Any]) -> JSON:
    """An assistant's tool call as a ``tool_use`` block; unreadable arguments are ``{}``."""
    function = call.get("function")
    function = function if isinstance(function, Mapping) else {}
    arguments = function.get("arguments")
    if not isinstance(arguments, dict):
        try:
            arguments = orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError:
            arguments = {}
    return {
        "type": "tool_use",
        "id": call.get("id"),
        "name": function.get("name"),
        "input": arguments,
    }


def _is_results(message: JSON) -> bool:
    """A user turn of tool results only, so the next tool message can join it."""
    content = message.get("content")
    return (
        message.get("role") == "user"
        and isinstance(content, list)
        and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    )


def from_openai(history: Sequence[Any]) -> list[JSON]:
    """Chat Completions messages as Messages API ones, so one conversation file serves both:
    ``tool`` messages become ``tool_result`` blocks (consecutive ones in one user turn),
    an assistant's ``tool_calls`` become ``tool_use`` blocks, image and file parts become
    image and document blocks. Messages already in Anthropic's shape pass unchanged. A
    message that is not an object, or whose content is neither a string nor a list, is a
    ``DataError`` naming it (numbered from 1)."""
    out: list[JSON] = []
    for number, message in enumerate(history, 1):
        if not isinstance(message, Mapping):
            raise DataError(f"message {number}: a message must be a JSON object")
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, str | list | None):
            raise DataError(f'message {number}: "content" must be a string or a list')
        if isinstance(content, list):
            content = [_from_openai_part(p) for p in content]
        calls = message.get("tool_calls")
        if role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": content if content is not None else "",
            }
            if out and _is_results(out[-1]):
                out[-1]["content"].append(result)
            else:
                out.append({"role": "user", "content": [result]})
        elif role == "assistant" and calls:
            if not isinstance(calls, list) or not all(isinstance(c, Mapping) for c in calls):
                raise DataError(f'message {number}: "tool_calls" must be a list of JSON objects')
            if isinstance(content, str):
                content = [{"type": "text", "text": content}] if content else []
            out.append({"role": "assistant", "content": [*(content or []), *map(_tool_use, calls)]})
        elif role in ("user", "assistant"):
            out.append({"role": role, "content": content})
        else:
            out.append({**message, "content": content} if "content" in message else dict(message))
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
    shapes are read the OpenAI way (``llmcli.protocol.error_objects.stream_error``)."""
    if isinstance(error, Mapping) and str(error.get("type")) in _ERRORS:
        kind = str(error["type"])
        message = str(error.get("message") or kind)
        return _ERRORS[kind](f"error from {where}: {message} [{kind}]")
    return error_objects.stream_error(error, where)


def error_of(body: Mapping[str, Any]) -> Any:
    error = body.get("error")
    return error if error is not None else dict(body)


def check_message(body: Any, where: str) -> JSON:
    """A non-streaming reply, or the error it carries."""
    if not isinstance(body, dict):
        raise ProtocolError(f"{where}: expected a JSON object, got {type(body).__name__}")
    if body.get("type") == "error" or (body.get("error") and body.get("type") != "message"):
        raise stream_error(error_of(body), where)
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
    """The ``tool_use`` blocks of a message: the calls for the client to make. The server
    ran its ``server_tool_use`` and ``mcp_tool_use`` blocks itself, so they are not here."""
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    return [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]


#: delta type -> (block field, Piece kind); the text is kept only with ``keep_text``
