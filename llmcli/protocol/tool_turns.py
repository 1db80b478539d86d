"""Tool turns in each dialect, no I/O: the calls a reply asks the client to make, the
messages that carry their results back, the tools a body offers, and the calls a
conversation left unanswered (a run stopped at ``--max-steps`` or at a call nobody
approved, continued with ``-c``).

``api`` is the endpoint a body goes to: ``chat`` (Chat Completions: an assistant message
with ``tool_calls``, answered by ``role: tool`` messages), ``messages`` (Anthropic:
``tool_use`` blocks, answered by ``tool_result`` blocks in a user turn, ``is_error`` on
failures) or ``responses`` (``function_call`` items, answered by ``function_call_output``
items).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from llmcli.protocol.chat import shapes as chat_shapes
from llmcli.protocol.messages import shapes as messages_shapes
from llmcli.protocol.responses import shapes as responses_shapes

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One call a model asked for."""

    id: str
    name: str
    arguments: str  # as the model sent them: JSON text (a custom tool's: free text)
    raw: JSON  # the call as the reply holds it (what ``-o text`` prints of it)
    custom: bool = False  # a custom tool (free-text input, not JSON arguments)


@dataclass(frozen=True, slots=True)
class Result:
    """What one call gave back: its text, and whether it failed."""

    call: Call
    text: str
    error: bool = False


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def calls(api: str, reply: Mapping[str, Any]) -> list[Call]:
    """The calls a reply asks the client to make, in order (first choice only)."""
    found: list[Call] = []
    if api == "chat":
        choices = reply.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else {}
        message = first.get("message") if isinstance(first, Mapping) else None
        for call in chat_shapes.tool_calls({"choices": [{"message": message or {}}]}):
            if isinstance(custom := call.get("custom"), Mapping):
                name, arguments = custom.get("name"), custom.get("input")
            else:
                function = call.get("function")
                function = function if isinstance(function, Mapping) else {}
                name, arguments = function.get("name"), function.get("arguments")
            found.append(
                Call(_text(call.get("id")), _text(name), _text(arguments), call, "custom" in call)
            )
    elif api == "messages":
        for block in messages_shapes.tool_uses(reply):
            arguments = orjson.dumps(block.get("input", {})).decode()
            found.append(Call(_text(block.get("id")), _text(block.get("name")), arguments, block))
    else:
        for item in responses_shapes.tool_calls(reply):
            custom = item.get("type") == "custom_tool_call"
            arguments = item.get("input") if custom else item.get("arguments")
            found.append(
                Call(
                    _text(item.get("call_id")),
                    _text(item.get("name")),
                    _text(arguments),
                    item,
                    custom,
                )
            )
    return found


def assistant_turn(api: str, reply: Mapping[str, Any]) -> list[JSON]:
    """The reply as the next request's history holds it (and a conversation file)."""
    if api == "chat":
        choices = reply.get("choices") or [{}]
        message = choices[0].get("message") or {}
        assistant: JSON = {"role": "assistant", "content": None}
        assistant.update({k: v for k, v in message.items() if v is not None})
        if assistant["content"] is None and not assistant.get("tool_calls"):
            assistant["content"] = ""  # a reply of reasoning only: the next turn must load
        return [assistant]
    if api == "messages":
        return [{"role": "assistant", "content": reply.get("content", [])}]
    output = reply.get("output")
    return [i for i in output if isinstance(i, dict)] if isinstance(output, list) else []


def result_items(api: str, results: Sequence[Result]) -> list[JSON]:
    """Each result as the dialect carries one: a tool message, a ``tool_result`` block,
    a ``function_call_output`` item (``-o jsonl`` prints one line per result)."""
    items: list[JSON] = []
    for r in results:
        if api == "chat":
            items.append({"role": "tool", "tool_call_id": r.call.id, "content": r.text})
        elif api == "messages":
            block: JSON = {"type": "tool_result", "tool_use_id": r.call.id, "content": r.text}
            if r.error:
                block["is_error"] = True
            items.append(block)
        else:
            kind = "custom_tool_call_output" if r.call.custom else "function_call_output"
            items.append({"type": kind, "call_id": r.call.id, "output": r.text})
    return items


def result_turn(api: str, results: Sequence[Result]) -> list[JSON]:
    """The results as history: tool messages, one user turn of ``tool_result`` blocks,
    or output items."""
    items = result_items(api, results)
    if api == "messages":
        return [{"role": "user", "content": items}] if items else []
    return items


def _conversation(api: str, body: Mapping[str, Any]) -> list[Any]:
    key = "input" if api == "responses" else "messages"
    value = body.get(key)
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


def _with_conversation(api: str, body: Mapping[str, Any], items: list[Any]) -> JSON:
    return {**body, "input" if api == "responses" else "messages": items}


def _unforced(api: str, body: Mapping[str, Any]) -> JSON:
    """The body with a ``tool_choice`` that forces a call (required, any, a named tool)
    set back to auto: once the forced call is answered, forcing it again would only loop
    (as the OpenAI Agents SDK resets it)."""
    choice = body.get("tool_choice")
    if api == "messages":
        if isinstance(choice, Mapping) and choice.get("type") in ("any", "tool"):
            kept = {k: v for k, v in choice.items() if k == "disable_parallel_tool_use"}
            return {**body, "tool_choice": {"type": "auto", **kept}}
        return dict(body)
    named = isinstance(choice, Mapping) and choice.get("type") in ("function", "custom")
    return {**body, "tool_choice": "auto"} if choice == "required" or named else dict(body)


def answered(
    api: str, body: Mapping[str, Any], reply: Mapping[str, Any], results: Sequence[Result]
) -> JSON:
    """The next request's body: the reply and the results after the conversation so far
    (a Responses body continued with ``previous_response_id`` sends the results only); a
    ``tool_choice`` that forced the call is auto from here on."""
    body = _unforced(api, body)
    stored = body.get("store") is not False and reply.get("store") is not False
    if api == "responses" and body.get("previous_response_id") and reply.get("id") and stored:
        return {**body, "previous_response_id": reply["id"], "input": result_turn(api, results)}
    turn = assistant_turn(api, reply)
    if api == "chat":  # as a conversation file sends it back
        turn = [{k: v for k, v in m.items() if k not in chat_shapes.OUTPUT_ONLY} for m in turn]
    if api == "responses":
        turn = responses_shapes.for_sending(turn)
        if body.get("store") is False:
            turn = responses_shapes.without_unkept_reasoning(turn)
    items = [*_conversation(api, body), *turn, *result_turn(api, results)]
    return _with_conversation(api, body, items)


def offered(api: str, body: Mapping[str, Any]) -> list[str]:
    """The names of the tools a body offers the model (function and custom tools)."""
    tools = body.get("tools")
    names: list[str] = []
    for spec in tools if isinstance(tools, list) else []:
        if not isinstance(spec, Mapping):
            continue
        function = spec.get("function")
        if isinstance(function, Mapping):
            name = function.get("name")
        elif isinstance(custom := spec.get("custom"), Mapping):
            name = custom.get("name")
        else:
            name = spec.get("name")
        if isinstance(name, str):
            names.append(name)
    return names


def declare(api: str, specs: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Tool specs ``{name, description, input_schema}`` in the dialect's shape."""
    if api == "chat":
        return [chat_shapes.tool(dict(s)) for s in specs]
    if api == "messages":
        return [messages_shapes.tool(s) for s in specs]
    return [responses_shapes.tool(dict(s)) for s in specs]


def unanswered(api: str, body: Mapping[str, Any]) -> tuple[list[Call], int]:
    """The calls of the conversation's last assistant turn that nothing answers yet, and
    where their results go (the index in the conversation); ``([], 0)`` when none."""
    items = _conversation(api, body)
    if api == "responses":  # calls anywhere whose call_id no output answers
        done = {i.get("call_id") for i in items if isinstance(i, Mapping) and "output" in i}
        last = -1
        for index, item in enumerate(items):
            kind = item.get("type") if isinstance(item, Mapping) else None
            if kind in responses_shapes.CLIENT_CALLS and item.get("call_id") not in done:
                last = index
        if last < 0:
            return [], 0
        found = calls("responses", {"output": items[: last + 1]})
        return [c for c in found if c.id not in done], last + 1
    for index in range(len(items) - 1, -1, -1):
        message = items[index]
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            continue
        if api == "chat":
            found = calls("chat", {"choices": [{"message": message}]})
            after = items[index + 1] if index + 1 < len(items) else None
            if found and not (isinstance(after, Mapping) and after.get("role") == "tool"):
                return found, index + 1
        else:
            found = calls("messages", message)
            after = items[index + 1] if index + 1 < len(items) else None
            content = after.get("content") if isinstance(after, Mapping) else None
            has_results = isinstance(content, list) and any(
                isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content
            )
            if found and not has_results:
                return found, index + 1
        return [], 0
    return [], 0


def with_prompt(api: str, results: list[JSON], user: JSON | None) -> list[JSON]:
    """The results of calls a conversation ended with and the new user message, as the
    request carried them (Anthropic: one user turn, the results first)."""
    if api != "messages" or not results or user is None:
        return [*results, *([user] if user else [])]
    content = user.get("content")
    rest = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    return [{**user, "content": [*results[0]["content"], *rest]}]


def answer_unanswered(
    api: str, body: Mapping[str, Any], where: int, results: Sequence[Result]
) -> JSON:
    """The body with the results of its unanswered calls at ``where``: before a new user
    message that follows them (Anthropic: its blocks after the results, in one turn)."""
    items = _conversation(api, body)
    turn = result_turn(api, results)
    following = items[where] if where < len(items) else None
    if api == "messages" and isinstance(following, Mapping) and following.get("role") == "user":
        merged = with_prompt(api, turn, dict(following))
        return _with_conversation(api, body, [*items[:where], *merged, *items[where + 1 :]])
    return _with_conversation(api, body, [*items[:where], *turn, *items[where:]])
