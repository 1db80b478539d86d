"""OpenAI Responses wire format (``POST /responses``): a ``Reply`` as a ``response`` object
or as its SSE events, and the gateway's memory of stored responses.

Follows OpenAI's API reference ("Responses", "Streaming events") and the Open Responses
specification. Output items, in order: a ``reasoning`` item (``summary`` of one
``summary_text``; ``encrypted_content`` when ``include`` asks for
``reasoning.encrypted_content``) when the model reasons, a ``message`` (one
``output_text`` part) unless the reply is tool calls, one ``function_call`` per call.
A reply cut by ``max_output_tokens`` is ``incomplete`` (``incomplete_details.reason:
max_output_tokens``), its message ``incomplete`` too. Ids are fixed by the request body
(``stream`` aside): the same body gets the same ``resp_``, ``rs_``, ``msg_`` and ``fc_``
ids, streamed or not.

Stream: ``response.created`` and ``response.in_progress`` (the object ``in_progress``,
``output: []``, ``usage: null``); per item ``response.output_item.added``, its part
(``reasoning_summary_part``, ``content_part``) added, the text or argument deltas, their
``.done``, the part done, ``response.output_item.done`` with the whole item; then
``response.completed`` (``response.incomplete`` when cut) with the object the whole answer
gives, or ``response.failed`` under the ``failed`` fault. A profile's usage accounting
(OpenRouter's ``cost``, ``is_byok``, ``cost_details``) goes beside the usage's own fields,
whole or streamed. Every event is ``event: TYPE``
with data ``{"type": TYPE, "sequence_number": n, …}``, n from 0. The ``error`` event of
``error_after=N`` is OpenAI's flat one, numbered N.

Stored responses (``store`` not false) are kept per gateway (``Stored``), at most
``MAX_STORED``, the oldest forgotten first: ``previous_response_id`` puts one's
conversation (its input after its own previous one, then its output) before the input.
A response of an id already stored is that one again, ``created_at`` included.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from .error_bodies import OpenAIError
from .fake_models import Reply, ask_responses, fragments, input_items, reply, within

if TYPE_CHECKING:
    from .fake_models import Model

__all__ = [
    "MAX_STORED",
    "Event",
    "Kept",
    "Stored",
    "error_event",
    "response",
    "response_events",
    "turn",
]

Event = tuple[str | None, bytes]
Item = dict[str, Any]
MAX_STORED = 10_000  # responses a gateway keeps for previous_response_id
SERVER_ERROR = {
    "code": "server_error",
    "message": "The server had an error while processing your request.",
}
_NOT_STREAMED = ("stream", "stream_options")


def error_event(sequence_number: int) -> Event:
    """The ``error`` event sent as event number ``sequence_number`` of a stream."""
    data = {"type": "error", **SERVER_ERROR, "param": None, "sequence_number": sequence_number}
    return "error", orjson.dumps(data)


# ---- the stored responses -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kept:
    """A stored response: when it was made, and its conversation (input items, the
    previous response's first, then its output items)."""

    created_at: int
    items: tuple[Item, ...]


class Stored:
    """The responses one gateway stored, by id, and the clock that dates new ones."""

    def __init__(self, wall: Callable[[], float], most: int = MAX_STORED) -> None:
        self.wall = wall
        self.most = most
        self._kept: dict[str, Kept] = {}
        self._lock = threading.Lock()

    def find(self, ident: str) -> Kept | None:
        with self._lock:
            return self._kept.get(ident)

    def keep(self, ident: str, kept: Kept) -> None:
        with self._lock:
            self._kept.pop(ident, None)
            self._kept[ident] = kept
            while len(self._kept) > self.most:
                del self._kept[next(iter(self._kept))]


def _previous(body: dict[str, Any], stored: Stored) -> tuple[Item, ...]:
    ident = body.get("previous_response_id")
    if ident is None:
        return ()
    if not isinstance(ident, str):
        raise OpenAIError(
            400,
            "Invalid type for 'previous_response_id': expected a string.",
            type_="invalid_request_error",
            param="previous_response_id",
            code="invalid_type",
        )
    kept = stored.find(ident)
    if kept is None:
        raise OpenAIError(
            404,
            f"Previous response with id '{ident}' not found.",
            type_="invalid_request_error",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return kept.items


def _check_unstored(body: dict[str, Any], items: list[Item]) -> None:
    """Without ``store``, a reasoning item must bring its ``encrypted_content``: OpenAI
    has nothing to look its id up in (404, exactly its words)."""
    if body.get("store") is not False:
        return
    for item in items:
        if item.get("type") == "reasoning" and not item.get("encrypted_content"):
            raise OpenAIError(
                404,
                f"Item with id '{item.get('id')}' not found. Items are not persisted when"
                " `store` is set to false. Try again with `store` set to true, or remove"
                " this item from your input.",
                type_="invalid_request_error",
                param="input",
                code=None,
            )


def turn(body: dict[str, Any], model: Model, stored: Stored) -> tuple[Reply, int]:
    """The reply to a Responses body and its ``created_at``; a response to be stored is
    stored before it is sent, so a client may name it as soon as it has read it.
    ``OpenAIError`` for a bad ``input`` (400), an unknown ``previous_response_id`` or an
    unstored reasoning item (404)."""
    items = input_items(body)
    _check_unstored(body, items)
    before = _previous(body, stored)
    said = within(reply(ask_responses(body, model, before)), _limit(body))
    ident = "resp_" + _digest(said, body)
    kept = stored.find(ident)
    created = kept.created_at if kept is not None else int(stored.wall())
    if body.get("store") is not False:
        output = response(said, body, created)["output"]
        stored.keep(ident, Kept(created, (*before, *items, *output)))
    return said, created


def _limit(body: dict[str, Any]) -> int | None:
    value = body.get("max_output_tokens")
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


# ---- the response object ------------------------------------------------------------------


def _digest(said: Reply, body: dict[str, Any]) -> str:
    request = {k: v for k, v in body.items() if k not in _NOT_STREAMED}
    key = said.ask.digest.encode() + b"\0" + orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(key).hexdigest()[:24]


def _encrypted(digest: str, text: str) -> str:
    """An opaque stand-in for OpenAI's encrypted reasoning (a Fernet token's look)."""
    key = f"{digest}\0{text}".encode()
    raw = hashlib.sha256(key).digest() + hashlib.sha256(b"mock" + key).digest()
    return "gAAAAAB" + base64.urlsafe_b64encode(raw).decode()


def _reasoning_item(said: Reply, body: dict[str, Any], digest: str) -> Item:
    text = said.reasoning_text
    item: Item = {
        "type": "reasoning",
        "id": "rs_" + digest,
        "summary": [{"type": "summary_text", "text": text}],
    }
    include = body.get("include")
    if isinstance(include, list) and "reasoning.encrypted_content" in include:
        item["encrypted_content"] = _encrypted(digest, text)
    return item


def _text_part(text: str) -> Item:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(said: Reply, digest: str, text: str) -> Item:
    return {
        "type": "message",
        "id": "msg_" + digest,
        "status": "incomplete" if said.finish == "length" else "completed",
        "role": "assistant",
        "content": [_text_part(text)],
    }


def _call_item(said: Reply, digest: str, index: int) -> Item:
    call = said.tool_calls[index]
    return {
        "type": "function_call",
        "id": f"fc_{digest}_{index}",
        "call_id": "call_" + said.call_key(index),
        "name": call.name,
        "arguments": call.arguments,
        "status": "completed",
    }


def _usage(said: Reply, accounting: Item | None) -> Item:
    return {
        "input_tokens": said.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": said.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": said.reasoning_tokens},
        "total_tokens": said.prompt_tokens + said.completion_tokens,
        **(accounting or {}),
    }


def _given(body: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = body.get(key)
    return value if isinstance(value, kind) and not isinstance(value, bool) else default


def _object(said: Reply, body: dict[str, Any], created: int, status: str) -> Item:
    """The response object with ``status``, before its output and usage."""
    reasoning = _given(body, "reasoning", dict, {})
    text = _given(body, "text", dict, {})
    fmt = text.get("format")
    return {
        "id": "resp_" + _digest(said, body),
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": SERVER_ERROR if status == "failed" else None,
        "incomplete_details": ({"reason": "max_output_tokens"} if status == "incomplete" else None),
        "instructions": _given(body, "instructions", (str, list), None),
        "max_output_tokens": _limit(body),
        "model": said.ask.model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": _given(body, "previous_response_id", str, None),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store") is not False,
        "temperature": _given(body, "temperature", (int, float), 1.0),
        "text": {"format": fmt if isinstance(fmt, dict) else {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": _given(body, "tools", list, []),
        "top_p": _given(body, "top_p", (int, float), 1.0),
        "truncation": _given(body, "truncation", str, "disabled"),
        "usage": None,
        "user": _given(body, "user", str, None),
        "metadata": _given(body, "metadata", dict, {}),
    }


def _status(said: Reply, failed: bool) -> str:
    if failed:
        return "failed"
    return "incomplete" if said.finish == "length" else "completed"


def response(
    said: Reply, body: dict[str, Any], created: int, accounting: Item | None = None
) -> Item:
    """The non-streaming ``response`` object (what ``response.completed`` carries);
    ``accounting``: fields added to its usage (OpenRouter's ``cost`` …)."""
    digest = _digest(said, body)
    output: list[Item] = []
    if said.reasoning:
        output.append(_reasoning_item(said, body, digest))
    if said.content is not None:
        output.append(_message_item(said, digest, "".join(said.content())))
    output.extend(_call_item(said, digest, i) for i in range(len(said.tool_calls)))
    obj = _object(said, body, created, _status(said, failed=False))
    return {**obj, "output": output, "usage": _usage(said, accounting)}


def response_events(
    said: Reply,
    body: dict[str, Any],
    created: int,
    failed: bool = False,
    accounting: Item | None = None,
) -> Iterator[Event]:
    """The SSE events of the streaming answer, ending with ``response.completed`` (or
    ``.incomplete``; ``.failed`` when ``failed``); ``accounting`` as for ``response``."""
    numbers = itertools.count()
    dumps = orjson.dumps

    def event(kind: str, **fields: Any) -> Event:
        return kind, dumps({"type": kind, "sequence_number": next(numbers), **fields})

    digest = _digest(said, body)
    start = _object(said, body, created, "in_progress")
    yield event("response.created", response=start)
    yield event("response.in_progress", response=start)
    output: list[Item] = []

    def added(item: Item) -> Event:
        return event("response.output_item.added", output_index=len(output), item=item)

    if said.reasoning:
        ident = "rs_" + digest
        yield added({"type": "reasoning", "id": ident, "summary": []})
        at = {"item_id": ident, "output_index": len(output), "summary_index": 0}
        part = {"type": "summary_text", "text": ""}
        yield event("response.reasoning_summary_part.added", **at, part=part)
        for piece in said.reasoning:
            yield event("response.reasoning_summary_text.delta", **at, delta=piece)
        text = said.reasoning_text
        yield event("response.reasoning_summary_text.done", **at, text=text)
        yield event("response.reasoning_summary_part.done", **at, part={**part, "text": text})
        item = _reasoning_item(said, body, digest)
        yield event("response.output_item.done", output_index=len(output), item=item)
        output.append(item)
    if said.content is not None:
        ident = "msg_" + digest
        opened = {**_message_item(said, digest, ""), "status": "in_progress", "content": []}
        yield added(opened)
        at = {"item_id": ident, "output_index": len(output), "content_index": 0}
        yield event("response.content_part.added", **at, part=_text_part(""))
        pieces: list[str] = []
        for piece in said.content():
            pieces.append(piece)
            yield event("response.output_text.delta", **at, delta=piece, logprobs=[])
        text = "".join(pieces)
        yield event("response.output_text.done", **at, text=text, logprobs=[])
        yield event("response.content_part.done", **at, part=_text_part(text))
        item = _message_item(said, digest, text)
        yield event("response.output_item.done", output_index=len(output), item=item)
        output.append(item)
    for i, call in enumerate(said.tool_calls):
        item = _call_item(said, digest, i)
        yield added({**item, "arguments": "", "status": "in_progress"})
        at = {"item_id": item["id"], "output_index": len(output)}
        for fragment in fragments(call.arguments):
            yield event("response.function_call_arguments.delta", **at, delta=fragment)
        done = {"arguments": call.arguments, "name": call.name}
        yield event("response.function_call_arguments.done", **at, **done)
        yield event("response.output_item.done", output_index=len(output), item=item)
        output.append(item)
    status = _status(said, failed)
    usage = _usage(said, accounting)
    final = {**_object(said, body, created, status), "output": output, "usage": usage}
    yield event(f"response.{status}", response=final)
