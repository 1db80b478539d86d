"""Anthropic wire format: a ``Reply`` as a ``message`` object or as its SSE events.

Blocks, in order: ``thinking`` (with ``signature``) when the model reasons, ``text`` unless
the reply is tool calls, one ``tool_use`` per tool call. Stream: ``message_start`` (empty
content, ``usage {input_tokens, output_tokens: 0}``), then per block
``content_block_start`` / deltas / ``content_block_stop`` with one ``ping`` right after the
first ``content_block_start``, then ``message_delta`` (``stop_reason``, ``usage
{output_tokens}``) and ``message_stop``. Thinking deltas are ``thinking_delta`` pieces
then one ``signature_delta``; tool input comes as ``input_json_delta`` fragments.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from .fake_models import SIGNATURE, Reply, fragments

__all__ = ["ERROR", "message", "message_events"]

Event = tuple[str | None, bytes]
ERROR: Event = (
    "error",
    orjson.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
)
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _id(reply: Reply) -> str:
    return "msg_" + reply.ask.digest


def _tool_id(reply: Reply, index: int) -> str:
    return "toolu_" + reply.call_key(index)


def message(reply: Reply) -> dict[str, Any]:
    """The non-streaming ``message`` object."""
    blocks: list[dict[str, Any]] = []
    if reply.reasoning:
        blocks.append(
            {"type": "thinking", "thinking": reply.reasoning_text, "signature": SIGNATURE}
        )
    if reply.content is not None:
        blocks.append({"type": "text", "text": reply.text})
    for i, call in enumerate(reply.tool_calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": _tool_id(reply, i),
                "name": call.name,
                "input": orjson.loads(call.arguments),
            }
        )
    return {
        "id": _id(reply),
        "type": "message",
        "role": "assistant",
        "model": reply.ask.model,
        "content": blocks,
        "stop_reason": STOP_REASONS[reply.finish],
        "stop_sequence": None,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens},
    }


def message_events(reply: Reply) -> Iterator[Event]:
    """The SSE events of the streaming answer, ``message_stop`` included."""
    dumps = orjson.dumps

    def event(kind: str, **fields: Any) -> Event:
        return kind, dumps({"type": kind, **fields})

    start: dict[str, Any] = {
        "id": _id(reply),
        "type": "message",
        "role": "assistant",
        "model": reply.ask.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": 0},
    }
    yield event("message_start", message=start)
    index = 0
    pinged = False

    def opened(block: dict[str, Any]) -> Iterator[Event]:
        nonlocal pinged
        yield event("content_block_start", index=index, content_block=block)
        if not pinged:
            pinged = True
            yield event("ping")

    def delta(body: dict[str, Any]) -> Event:
        return event("content_block_delta", index=index, delta=body)

    if reply.reasoning:
        yield from opened({"type": "thinking", "thinking": "", "signature": ""})
        for piece in reply.reasoning:
            yield delta({"type": "thinking_delta", "thinking": piece})
        yield delta({"type": "signature_delta", "signature": SIGNATURE})
        yield event("content_block_stop", index=index)
        index += 1
    if reply.content is not None:
        yield from opened({"type": "text", "text": ""})
        for piece in reply.content():
            yield delta({"type": "text_delta", "text": piece})
        yield event("content_block_stop", index=index)
        index += 1
    for i, call in enumerate(reply.tool_calls):
        block = {"type": "tool_use", "id": _tool_id(reply, i), "name": call.name, "input": {}}
        yield from opened(block)
        for frag in fragments(call.arguments):
            yield delta({"type": "input_json_delta", "partial_json": frag})
        yield event("content_block_stop", index=index)
        index += 1
    yield event(
        "message_delta",
        delta={"stop_reason": STOP_REASONS[reply.finish], "stop_sequence": None},
        usage={"output_tokens": reply.completion_tokens},
    )
    yield event("message_stop")
