"""OpenAI wire format: a ``Reply`` as a ``chat.completion`` object or as its SSE chunks;
the model list; embeddings.

Stream order: a role chunk (delta ``{"role": "assistant", "content": ""}``, or
``"content": null`` when the reply is tool calls), reasoning deltas, content deltas,
tool-call deltas (first the id/type/name fragment of each call, then argument fragments
alternating between the calls), a chunk with ``delta: {}`` and ``finish_reason``, the
usage chunk (``choices: []``) only when ``stream_options.include_usage`` is true, then
``[DONE]``. Assembling the chunks gives exactly the non-streaming ``choices`` and ``usage``.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

import orjson

from .errors import RequestError
from .models import CHAT_MODELS, CREATED, EMBED_MODELS, Reply, fragments, vector

__all__ = ["DONE", "ERROR", "Event", "chat_chunks", "chat_completion", "embeddings", "model_list"]

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


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _details(text: str) -> list[dict[str, Any]]:
    return [{"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}]


def _call_id(index: int) -> str:
    return f"call_{index}"


def chat_completion(reply: Reply) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.reasoning:
        text = reply.reasoning_text
        message.update(reasoning=text, reasoning_content=text, reasoning_details=_details(text))
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(i),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for i, c in enumerate(reply.tool_calls)
        ]
    return {
        "id": _id(reply),
        "object": "chat.completion",
        "created": CREATED,
        "model": reply.ask.model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish}],
        "usage": _usage(reply),
    }


def _tool_deltas(reply: Reply) -> Iterator[dict[str, Any]]:
    for i, call in enumerate(reply.tool_calls):
        yield {
            "index": i,
            "id": _call_id(i),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
    queues = [fragments(c.arguments) for c in reply.tool_calls]
    for step in range(max((len(q) for q in queues), default=0)):
        for i, queue in enumerate(queues):
            if step < len(queue):
                yield {"index": i, "function": {"arguments": queue[step]}}


def chat_chunks(reply: Reply, include_usage: bool) -> Iterator[Event]:
    """The SSE events of the streaming answer, ``[DONE]`` included."""
    head = {
        "id": _id(reply),
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": reply.ask.model,
    }
    dumps = orjson.dumps

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
        return None, dumps(
            {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        )

    yield chunk({"role": "assistant", "content": None if reply.content is None else ""})
    for piece in reply.reasoning:
        yield chunk(
            {"reasoning": piece, "reasoning_content": piece, "reasoning_details": _details(piece)}
        )
    if reply.content is not None:
        for piece in reply.content():
            yield chunk({"content": piece})
    for delta in _tool_deltas(reply):
        yield chunk({"tool_calls": [delta]})
    yield chunk({}, reply.finish)
    if include_usage:
        yield None, dumps({**head, "choices": [], "usage": _usage(reply)})
    yield DONE


def model_list() -> dict[str, Any]:
    """The ``GET /models`` body."""
    ids = [*CHAT_MODELS, *EMBED_MODELS]
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": CREATED, "owned_by": "llmcli-mock"} for m in ids
        ],
    }


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


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """The ``POST /embeddings`` body for a request body."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "model: a model id is required", code="missing_model")
    if model not in EMBED_MODELS:
        raise RequestError(
            404, f"model not found: {model}", code="model_not_found", type_="invalid_request_error"
        )
    keys = _inputs(body.get("input"))
    if keys is None:
        raise RequestError(
            400,
            "input: expected a string, an array of strings, or token arrays",
            code="invalid_input",
        )
    dims = body.get("dimensions", EMBED_MODELS[model])
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
