"""Responses (``POST /responses``, OpenAI's newest API and the Open Responses
specification): request bodies and whole responses. No I/O.

Building a request: input items (a chat-shaped history converted: content parts to
``input_text``/``output_text``/``input_image``/``input_file``, tool calls to
``function_call`` items, tool messages to ``function_call_output``; items already in the
Responses shape pass as they are), ``instructions``, the flat tool shape
(``{type, name, parameters}``; chat's nested and Anthropic's shapes converted),
``text.format`` for ``--json``/``--schema``, reasoning effort and summary. Reading a
response: the error it carries (a ``failed`` status, an ``error`` object), the text and
reasoning it holds, its function calls. Streams are assembled in
``llmcli.protocol.responses.stream``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from llmcli.errors import LlmcliError, ProtocolError
from llmcli.protocol import schemas
from llmcli.protocol.error_objects import carried_error, stream_error
from llmcli.protocol.pieces import Piece

JSON = dict[str, Any]

#: the tool calls the client runs (hosted tools such as web search are the server's)
CLIENT_CALLS = ("function_call", "custom_tool_call")
#: what a conversation file records of a response, besides its output items
RESPONSE_ID = "llmcli.response_id"
_PLAIN = ("max_output_tokens", "temperature", "top_p", "store", "previous_response_id")


# building a request ----------------------------------------------------------------


def attachment_part(mime: str, filename: str, ref: str) -> JSON:
    """An attachment as an input part: images as ``input_image`` (a URL or a data URL),
    other files (PDF) as ``input_file``."""
    if mime.startswith("image/"):
        return {"type": "input_image", "image_url": ref}
    if ref.startswith(("http://", "https://")):
        return {"type": "input_file", "file_url": ref}
    return {"type": "input_file", "filename": filename, "file_data": ref}


def user_content(text: str | None, parts: Sequence[JSON]) -> str | list[JSON] | None:
    """The new user message's content: the text alone, or input parts."""
    if not parts:
        return text
    return [*([{"type": "input_text", "text": text}] if text else []), *parts]


def _part(part: Any, role: str) -> Any:
    """A chat content part as a Responses input part; other parts as they are."""
    if not isinstance(part, Mapping):
        return part
    kind = part.get("type")
    if kind == "text":
        kind = "output_text" if role == "assistant" else "input_text"
        return {"type": kind, "text": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        converted: JSON = {"type": "input_image", "image_url": url}
        if isinstance(image, Mapping) and image.get("detail"):
            converted["detail"] = image["detail"]
        return converted
    if kind == "file":
        file = part.get("file")
        fields = file.items() if isinstance(file, Mapping) else ()
        return {"type": "input_file", **{k: v for k, v in fields if v is not None}}
    return dict(part)


def from_chat(history: Sequence[Any]) -> list[JSON]:
    """A history as input items: chat-shaped messages converted (parts, tool calls, tool
    results), Responses items (those with a ``type`` other than ``message``) kept."""
    items: list[JSON] = []
    for message in history:
        if not isinstance(message, Mapping):
            continue
        kind = message.get("type")
        if (kind is not None and kind != "message") or "role" not in message:
            items.append(dict(message))
            continue
        role = message["role"]
        if role == "tool":
            output = message.get("content")
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id"),
                    "output": output if isinstance(output, str) else orjson.dumps(output).decode(),
                }
            )
            continue
        content = message.get("content")
        converted = dict(message)
        for key in ("tool_calls", "reasoning", "reasoning_content", "refusal"):
            converted.pop(key, None)
        if isinstance(content, list):
            converted["content"] = [_part(p, role) for p in content]
        if content is not None or not message.get("tool_calls"):
            items.append(converted if content is not None else {**converted, "content": ""})
        for call in message.get("tool_calls") or []:
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                function = call["function"]
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.get("id"),
                        "name": function.get("name"),
                        "arguments": function.get("arguments", ""),
                    }
                )
    return items


def for_sending(items: Sequence[JSON]) -> list[JSON]:
    """A conversation file's items as input: llmcli's own response-id lines left out, and
    the fields an output item holds as null (a proxy adds ``"phase": null``, ``"caller":
    null`` … that a strict server refuses as input; absent means the same)."""
    return [
        {k: v for k, v in item.items() if v is not None}
        for item in items
        if item.get("type") != RESPONSE_ID
    ]


def last_response(items: Sequence[JSON]) -> JSON | None:
    """The last response a conversation file recorded: ``{type, id, stored}``."""
    for item in reversed(items):
        if item.get("type") == RESPONSE_ID and isinstance(item.get("id"), str):
            return item
    return None


def without_unkept_reasoning(items: Sequence[JSON]) -> list[JSON]:
    """Items for a request with ``store: false``: reasoning items the server would have
    to look up (sent without ``encrypted_content``) left out; the server answers 404
    for them."""
    return [
        item for item in items if item.get("type") != "reasoning" or item.get("encrypted_content")
    ]


def after_last_response(items: Sequence[JSON]) -> list[JSON]:
    """The items after the last recorded response: what a stateful turn sends (the
    server holds the rest)."""
    for i in range(len(items) - 1, -1, -1):
        if items[i].get("type") == RESPONSE_ID:
            return list(items[i + 1 :])
    return list(items)


def tool(spec: Any) -> Any:
    """A function tool in the flat Responses shape: chat's nested ``{type, function}``
    and Anthropic's ``{name, input_schema}`` converted; other tools as they are."""
    if not isinstance(spec, Mapping):
        return spec
    if isinstance(spec.get("function"), Mapping) and spec.get("type", "function") == "function":
        function = spec["function"]
        flat: JSON = {"type": "function", "name": function.get("name")}
        for key in ("description", "parameters", "strict"):
            if key in function:
                flat[key] = function[key]
        return flat
    if "input_schema" in spec and "type" not in spec:
        flat = {"type": "function", "name": spec.get("name")}
        if spec.get("description"):
            flat["description"] = spec["description"]
        flat["parameters"] = spec["input_schema"]
        return flat
    return dict(spec)


def tool_choice(value: str) -> Any:
    """``auto``/``none``/``required`` as they are; any other word names a function."""
    if value in ("auto", "none", "required"):
        return value
    return {"type": "function", "name": value}


def schema_format(schema: Any, path: str) -> JSON:
    """``--schema FILE`` as a strict ``json_schema`` text format (the flat shape: name,
    schema and strict beside ``type``)."""
    return {"type": "json_schema", **schemas.named(schema, path)}


def schema_of(body: Mapping[str, Any]) -> Any:
    """The JSON Schema a body's ``text.format`` asks for, or None."""
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    return fmt.get("schema") if isinstance(fmt, Mapping) else None


def apply_options(body: JSON, options: Mapping[str, Any]) -> None:
    """Set the body fields the flags ask for; None means the flag was not given."""
    given = {k: v for k, v in options.items() if v is not None and v != []}
    for key in _PLAIN:
        if key in given:
            body[key] = given[key]
    if "reasoning_effort" in given:
        body.setdefault("reasoning", {})["effort"] = given["reasoning_effort"]
    if "reasoning_summary" in given:
        body.setdefault("reasoning", {})["summary"] = given["reasoning_summary"]
    if "include" in given:
        include = body.get("include")
        before = include if isinstance(include, list) else []
        body["include"] = list(dict.fromkeys([*before, *given["include"]]))
    if "tools" in given:
        body["tools"] = [tool(t) for t in given["tools"]]
    if "tool_choice" in given:
        body["tool_choice"] = tool_choice(given["tool_choice"])
    if "metadata" in given:
        body["metadata"] = given["metadata"]
    if "format" in given:
        text = body.get("text")
        body["text"] = {**(text if isinstance(text, dict) else {}), "format": given["format"]}


# reading a response ----------------------------------------------------------------


def error_event(data: Any) -> Any:
    """The error of an ``error`` event: its nested ``error`` object, or the event itself
    (flat: ``{type: "error", code, message, param}``) without its type and number."""
    if isinstance(data, Mapping):
        nested = data.get("error")
        if isinstance(nested, Mapping):
            return nested
        return {k: v for k, v in data.items() if k not in ("type", "sequence_number")}
    return data


def failure(response: Mapping[str, Any], where: str) -> LlmcliError:
    """The error of a ``failed`` (or ``cancelled``) response."""
    error = response.get("error")
    if isinstance(error, Mapping) and (error.get("message") or error.get("code")):
        return stream_error(error, where)
    status = response.get("status")
    return stream_error({"message": f"the response {status}", "type": str(status)}, where)


def check_response(body: Any, where: str) -> JSON:
    """A whole response, or the error it carries (a ``failed`` one raises)."""
    if not isinstance(body, dict):
        raise ProtocolError(f"{where}: expected a JSON object, got {type(body).__name__}")
    if body.get("object") != "response":
        error = carried_error(body)
        if error is not None:  # a flat {type: "error", code, message} read as an event's
            raise stream_error(error_event(body) if body.get("type") == "error" else error, where)
    if body.get("status") in ("failed", "cancelled"):
        raise failure(body, where)
    if not isinstance(body.get("output"), list):
        raise ProtocolError(f'{where}: response has no "output" list')
    return body


def item_pieces(item: Mapping[str, Any]) -> Iterator[Piece]:
    """The text of one output item: a message's output text, a reasoning item's summary
    and reasoning text."""
    kind = item.get("type")
    if kind == "message":
        for part in item.get("content") or []:
            if not isinstance(part, Mapping) or part.get("type") != "output_text":
                continue
            text = part.get("text")
            if isinstance(text, str) and text:
                yield Piece("content", 0, text)
    elif kind == "reasoning":
        for key in ("summary", "content"):
            for part in item.get(key) or []:
                text = part.get("text") if isinstance(part, Mapping) else None
                if isinstance(text, str) and text:
                    yield Piece("reasoning", 0, text)


def iter_pieces(response: Mapping[str, Any]) -> Iterator[Piece]:
    """The reasoning and text of a whole response, item by item, as a stream shows them."""
    for item in response.get("output") or []:
        if isinstance(item, Mapping):
            yield from item_pieces(item)


def output_text(response: Mapping[str, Any]) -> str:
    """All the output text of a response (what the SDKs call ``output_text``)."""
    return "".join(p.text for p in iter_pieces(response) if p.kind == "content")


def tool_calls(response: Mapping[str, Any]) -> list[JSON]:
    """The calls for the client to make: ``function_call`` (and ``custom_tool_call``)
    items, as the response holds them."""
    output = response.get("output")
    items = output if isinstance(output, list) else []
    return [i for i in items if isinstance(i, dict) and i.get("type") in CLIENT_CALLS]


def incomplete_reason(response: Mapping[str, Any]) -> str | None:
    """Why a response is ``incomplete`` (``max_output_tokens``, ``content_filter``), or
    None when it is not."""
    if response.get("status") != "incomplete":
        return None
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    return str(reason) if reason else "no reason given"
