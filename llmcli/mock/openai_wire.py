"""OpenAI wire format: a ``Reply`` as a ``chat.completion`` object or as its SSE chunks,
shaped by the profile; embeddings.

Stream order: a role chunk (delta ``{"role": "assistant", "content": ""}``, or
``"content": null`` when the reply is tool calls), reasoning deltas, content deltas,
tool-call deltas (first the id/type/name fragment of each call, then argument fragments
alternating between the calls), a chunk with ``delta: {}`` and ``finish_reason``, the
usage chunk (``choices: []``) only when ``stream_options.include_usage`` is true, then
``[DONE]``. Assembling the chunks gives exactly the non-streaming ``choices`` and ``usage``.

Profile shapes (see ``Profile``): the reasoning fields (seed 000 sends
``reasoning_content`` only; OpenRouter and seed 001 ``reasoning`` + ``reasoning_details``;
seed 002 all three with ``reasoning_details`` items exactly ``{type, text}``, streamed as
one delta after the reasoning text); seed 002's ``"tool_calls": null`` and
``"reasoning_content": null`` (in the role chunk when streaming) and top-level
``context_left``/``context_total`` (on the finish chunk when streaming); seed 003's usage
on the finish chunk of every stream, instead of a separate usage chunk; OpenRouter's
(and seed 001's) usage accounting, ``cost`` and the token details, in the usage object
wherever it goes (``pricing``).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from .error_bodies import RequestError
from .fake_models import CREATED, Reply, fragments, vector
from .pricing import chat_usage

if TYPE_CHECKING:
    from .profiles import Profile

__all__ = ["DONE", "ERROR", "Event", "chat_chunks", "chat_completion", "embeddings"]

Event = tuple[str | None, bytes]  # (SSE event name, data)
DONE: Event = (None, b"[DONE]")
ERROR: Event = (
    None,
    orjson.dumps(
        {"error": {"message": "upstream error", "type": "server_error", "code": "upstream_error"}}
    ),
)


def _id(reply: Reply) -> str:
    return "chatcmpl-" + reply.ask.digest


def _usage(reply: Reply, profile: Profile) -> dict[str, Any]:
    usage = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }
    return chat_usage(profile, reply, usage)


def _details(text: str, style: str) -> list[dict[str, Any]]:
    if style == "lumyx":  # exactly seed 002's example
        return [{"type": "reasoning.text", "text": text}]
    return [{"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}]


def _reasoning(text: str, style: str, details: bool = True) -> dict[str, Any]:
    """The message (or delta) fields carrying ``text`` in a profile's reasoning style."""
    if style == "reasoning_content":
        return {"reasoning_content": text}
    out: dict[str, Any] = {"reasoning": text}
    if style != "openrouter":
        out["reasoning_content"] = text
    if details:
        out["reasoning_details"] = _details(text, style)
    return out


def _context(reply: Reply, profile: Profile) -> dict[str, int]:
    total = profile.context_total
    if total is None:
        return {}
    used = reply.prompt_tokens + reply.completion_tokens
    return {"context_left": max(0, total - used), "context_total": total}


def _call_id(reply: Reply, index: int) -> str:
    return "call_" + reply.call_key(index)


def chat_completion(reply: Reply, profile: Profile) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.reasoning:
        message.update(_reasoning(reply.reasoning_text, profile.reasoning))
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(reply, i),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for i, c in enumerate(reply.tool_calls)
        ]
    if profile.null_fields:
        message.setdefault("tool_calls", None)
        message.setdefault("reasoning_content", None)
    return {
        "id": _id(reply),
        "object": "chat.completion",
        "created": CREATED,
        "model": reply.ask.model,
        **_context(reply, profile),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish}],
        "usage": _usage(reply, profile),
    }


def _tool_deltas(reply: Reply) -> Iterator[dict[str, Any]]:
    for i, call in enumerate(reply.tool_calls):
        yield {
            "index": i,
            "id": _call_id(reply, i),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
    queues = [fragments(c.arguments) for c in reply.tool_calls]
    for step in range(max((len(q) for q in queues), default=0)):
        for i, queue in enumerate(queues):
            if step < len(queue):
                yield {"index": i, "function": {"arguments": queue[step]}}


def chat_chunks(reply: Reply, include_usage: bool, profile: Profile) -> Iterator[Event]:
    """The SSE events of the streaming answer, ``[DONE]`` included."""
    head = {
        "id": _id(reply),
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": reply.ask.model,
    }
    dumps = orjson.dumps

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> Event:
        return None, dumps(
            {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        )

    style = profile.reasoning
    first: dict[str, Any] = {"role": "assistant", "content": None if reply.content is None else ""}
    if profile.null_fields:
        if not reply.tool_calls:
            first["tool_calls"] = None
        if not reply.reasoning:
            first["reasoning_content"] = None
    yield chunk(first)
    for piece in reply.reasoning:
        yield chunk(_reasoning(piece, style, details=style != "lumyx"))
    if reply.reasoning and style == "lumyx":
        yield chunk({"reasoning_details": _details(reply.reasoning_text, style)})
    if reply.content is not None:
        for piece in reply.content():
            yield chunk({"content": piece})
    for delta in _tool_deltas(reply):
        yield chunk({"tool_calls": [delta]})
    head.update(_context(reply, profile))
    if profile.usage_in_final_chunk:
        yield chunk({}, reply.finish, usage=_usage(reply, profile))
    else:
        yield chunk({}, reply.finish)
        if include_usage:
            yield None, dumps({**head, "choices": [], "usage": _usage(reply, profile)})
    yield DONE


def _inputs(value: Any) -> list[bytes] | None:
    """Embedding inputs as hash keys, or None when the shape is not one OpenAI accepts."""

    def ints(v: Any) -> bool:
        return isinstance(v, list) and all(
            isinstance(x, int) and not isinstance(x, bool) for x in v
        )

    if isinstance(value, str):
        return [b"t:" + value.encode()]
    if ints(value) and value:
        return [b"i:" + ",".join(map(str, value)).encode()]
    if isinstance(value, list) and value:
        keys: list[bytes] = []
        for item in value:
            if isinstance(item, str):
                keys.append(b"t:" + item.encode())
            elif ints(item):
                keys.append(b"i:" + ",".join(map(str, item)).encode())
            else:
                return None
        return keys
    return None


def embeddings(body: dict[str, Any], model: str, size: int) -> dict[str, Any]:
    """The ``POST /embeddings`` body for a request body; ``model`` has ``size`` dimensions."""
    keys = _inputs(body.get("input"))
    if keys is None:
        raise RequestError(
            400,
            "input: expected a string, an array of strings, or token arrays",
            code="invalid_input",
        )
    dims = body.get("dimensions", size)
    if not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= 4096:
        raise RequestError(
            400, "dimensions: expected an integer from 1 to 4096", code="invalid_dimensions"
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise RequestError(
            400, "encoding_format: expected float or base64", code="invalid_encoding_format"
        )
    data: list[dict[str, Any]] = []
    tokens = 0
    for index, key in enumerate(keys):
        values = vector(key, dims)
        tokens += len(key.split(b",")) if key.startswith(b"i:") else len(key[2:].split())
        embedding: Any = values
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = max(1, tokens)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
