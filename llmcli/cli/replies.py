"""Printing a Chat Completions reply, whole or streamed, in the four output modes.

``text``: the first choice's content on stdout (reasoning on stderr with ``--reasoning``),
then each tool call as one JSON line, so tool calls are never silently dropped.
``json``: the reply (for a stream, the assembled ``chat.completion``). ``jsonl``: one
compact line per stream event. ``sse``: the bytes exactly as they arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from llmcli import openai
from llmcli.errors import ProtocolError
from llmcli.sse import SSEDecoder

if TYPE_CHECKING:
    from llmcli.cli.session import Session
    from llmcli.http import Client, Request


def _where(session: Session) -> str:
    return session.gateway.name


def _show(session: Session, pieces: Iterable[openai.Piece], reasoning: bool) -> None:
    for piece in pieces:
        if piece.choice != 0:
            continue
        if piece.kind == "content":
            session.out.text(piece.text)
        elif reasoning:
            session.out.reasoning(piece.text)


def _finish_text(session: Session, reply: Mapping[str, Any]) -> None:
    session.out.end_text()
    for call in openai.tool_calls(reply):
        session.out.jsonl(call)


def print_completion(
    session: Session, client: Client, request: Request, fmt: str, *, reasoning: bool
) -> dict[str, Any]:
    response = client.send(request)
    where = _where(session)
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(
            f"malformed JSON from {where} at line {e.lineno} column {e.colno}: {e.msg} "
            f"({request.method} {request.url})"
        ) from None
    if fmt == "json":
        session.out.json(body)
    elif fmt == "jsonl":
        session.out.jsonl(body)
    reply = openai.check_completion(body, where)
    if fmt == "text":
        _show(session, openai.iter_pieces(reply), reasoning)
        _finish_text(session, reply)
    return reply


def print_stream(
    session: Session, client: Client, request: Request, fmt: str, *, reasoning: bool
) -> dict[str, Any]:
    """Print a stream as it arrives; the assembled reply is returned."""
    where = _where(session)
    out = session.out
    assembly = openai.ChatStream(keep_text=fmt == "json", where=where)
    decoder = SSEDecoder()
    events = 0
    with client.open(request) as response:
        content_type = response.headers.get("content-type", "")
        if "json" in content_type and "event-stream" not in content_type:
            # The gateway ignored stream: true and answered whole.
            body = b"".join(client.iter_bytes(request, response))
            return _whole_answer(session, body, fmt, reasoning, request)
        for chunk in client.iter_bytes(request, response):
            if fmt == "sse":
                out.data(chunk)
            for event in decoder.feed(chunk):
                events += 1
                _event(session, assembly, event.event, event.data, fmt, reasoning, events)
            out.flush()
        for event in decoder.close():
            events += 1
            _event(session, assembly, event.event, event.data, fmt, reasoning, events)
    reply = assembly.result()
    if fmt == "json":
        out.json(reply)  # even a cut one: what arrived is never lost
    if not assembly.finished:
        raise ProtocolError(
            f"stream from {where} ended before it finished (no [DONE] and no finish_reason) "
            f"({request.method} {request.url})"
        )
    if fmt == "text":
        _finish_text(session, reply)
    return reply


def _whole_answer(
    session: Session, body: bytes, fmt: str, reasoning: bool, request: Request
) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(f"malformed JSON from {_where(session)}: {e.msg}") from None
    if fmt == "sse":
        session.out.data(body)
    elif fmt == "json":
        session.out.json(parsed)
    elif fmt == "jsonl":
        session.out.jsonl(parsed)
    reply = openai.check_completion(parsed, _where(session))
    if fmt == "text":
        _show(session, openai.iter_pieces(reply), reasoning)
        _finish_text(session, reply)
    return reply


def _event(
    session: Session,
    assembly: openai.ChatStream,
    name: str,
    data: str,
    fmt: str,
    reasoning: bool,
    number: int,
) -> None:
    if assembly.done:
        return
    if data == openai.DONE:
        assembly.done = True
        return
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(
            f"malformed JSON in stream event {number} from {_where(session)}: {e.msg}: "
            f"{data[:80]!r}"
        ) from None
    if fmt == "jsonl":
        session.out.jsonl(chunk)
    if name == "error" and isinstance(chunk, dict) and not chunk.get("error"):
        chunk = {"error": chunk}
    pieces = assembly.add(chunk)
    if fmt == "text":
        _show(session, pieces, reasoning)
