"""Printing a reply, whole or streamed, in the four output modes, for both APIs.

``text``: the first choice's content on stdout (reasoning or thinking on stderr with
``--reasoning``), then each tool call as one JSON line, so tool calls are never silently
dropped. ``json``: the reply (for a stream, the assembled reply). ``jsonl``: one compact
line per stream event. ``sse``: the bytes exactly as they arrived. What differs between
Chat Completions and Anthropic Messages is gathered in a ``Dialect``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from llmcli import anthropic, openai
from llmcli.chatstream import ChatStream
from llmcli.errors import LlmcliError, ProtocolError
from llmcli.messagestream import MessageStream
from llmcli.sse import SSEDecoder, TooLarge
from llmcli.wire import parse_reply

if TYPE_CHECKING:
    from llmcli.cli.session import Session
    from llmcli.http import Client
    from llmcli.wire import Request

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Dialect:
    assembler: Callable[[bool, str], Any]
    add: Callable[[Any, str, Any], list[openai.Piece]]  # (assembly, event name, data)
    check: Callable[[Any, str], JSON]
    pieces: Callable[[Mapping[str, Any]], Iterator[openai.Piece]]
    tools: Callable[[Mapping[str, Any]], list[JSON]]
    jsonl: Callable[[str, Any], Any]  # what -o jsonl prints for one event
    terminator: str


def _chat_add(assembly: ChatStream, name: str, chunk: Any) -> list[openai.Piece]:
    if name == "error" and isinstance(chunk, dict) and not chunk.get("error"):
        chunk = {"error": chunk}
    return assembly.add(chunk)


CHAT = Dialect(
    assembler=lambda keep, where: ChatStream(keep_text=keep, where=where),
    add=_chat_add,
    check=openai.check_completion,
    pieces=openai.iter_pieces,
    tools=openai.tool_calls,
    jsonl=lambda name, data: data,
    terminator="no [DONE] and no finish_reason",
)
MESSAGES = Dialect(
    assembler=lambda keep, where: MessageStream(keep_text=keep, where=where),
    add=lambda assembly, name, data: assembly.add(name, data),
    check=anthropic.check_message,
    pieces=anthropic.iter_pieces,
    tools=anthropic.tool_uses,
    jsonl=lambda name, data: {"event": name, "data": data},
    terminator="no message_stop",
)


def _show(session: Session, pieces: Iterable[openai.Piece], reasoning: bool) -> None:
    for piece in pieces:
        if piece.choice != 0:
            continue
        if piece.kind == "content":
            session.out.text(piece.text)
        elif reasoning:
            session.out.reasoning(piece.text)


def _print_whole(
    session: Session, dialect: Dialect, body: bytes, fmt: str, reasoning: bool, request: Request
) -> JSON:
    """A whole (non-streamed) reply in any mode."""
    where = session.gateway.name
    parsed = parse_reply(body, request)
    reply = dialect.check(parsed, where)  # an error sent with a 200 goes to stderr
    if fmt == "sse":
        session.out.data(body)
    elif fmt == "json":
        session.out.json(parsed)
    elif fmt == "jsonl":
        session.out.jsonl(parsed)
    if fmt == "text":
        _show(session, dialect.pieces(reply), reasoning)
        _finish_text(session, dialect, reply)
    return reply


def _finish_text(session: Session, dialect: Dialect, reply: Mapping[str, Any]) -> None:
    session.out.end_text()
    for call in dialect.tools(reply):
        session.out.jsonl(call)


def print_reply(
    session: Session,
    client: Client,
    request: Request,
    fmt: str,
    *,
    stream: bool,
    reasoning: bool,
    dialect: Dialect = CHAT,
    keep: bool = False,
) -> JSON:
    """Send the request and print its reply; returns the reply. A stream is printed as it
    arrives and its reply keeps the text only when ``-o json`` or ``keep`` asks for it
    (otherwise memory stays flat); a whole reply is always kept."""
    if not stream:
        response = client.send(request)
        return _print_whole(session, dialect, response.body, fmt, reasoning, request)
    return _print_stream(session, client, request, fmt, reasoning, dialect, keep)


def _print_stream(
    session: Session,
    client: Client,
    request: Request,
    fmt: str,
    reasoning: bool,
    dialect: Dialect,
    keep: bool,
) -> JSON:
    where = session.gateway.name
    out = session.out
    assembly = dialect.assembler(fmt == "json" or keep, where)
    decoder = SSEDecoder()
    state = _State()
    try:
        with client.open(request) as response:
            chunks = client.iter_bytes(request, response)
            first = next(chunks, b"")
            if _is_whole_json(first):
                # The gateway ignored stream: true and answered whole (whatever its
                # Content-Type says: an event stream never starts with "{").
                body = client.read_whole(request, itertools.chain((first,), chunks))
                return _print_whole(session, dialect, body, fmt, reasoning, request)
            for chunk in itertools.chain((first,), chunks):
                if fmt == "sse":
                    out.data(chunk)
                for event in decoder.feed(chunk):
                    _event(
                        session, dialect, assembly, state, event.event, event.data, fmt, reasoning
                    )
                out.flush()
            decoder.close()  # an event without its blank line is discarded (WHATWG 9.2.6)
    except TooLarge as e:
        if fmt == "json" and state.events:
            out.json(assembly.result())
        raise ProtocolError(
            f"stream from {where} has {e} ({request.method} {request.url})"
        ) from None
    except (LlmcliError, KeyboardInterrupt):
        if fmt == "json" and state.events:
            out.json(assembly.result())  # a cut reply: what arrived is never lost
        raise
    reply: JSON = assembly.result()
    if fmt == "json":
        out.json(reply)
    if not (state.done or assembly.finished):
        raise ProtocolError(
            f"stream from {where} ended before it finished ({dialect.terminator}) "
            f"({request.method} {request.url})"
        )
    if fmt == "text":
        _finish_text(session, dialect, reply)
    return reply


def _is_whole_json(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


class _State:
    __slots__ = ("done", "events")

    def __init__(self) -> None:
        self.done = False
        self.events = 0


def _event(
    session: Session,
    dialect: Dialect,
    assembly: Any,
    state: _State,
    name: str,
    data: str,
    fmt: str,
    reasoning: bool,
) -> None:
    if state.done or not data.strip():  # empty data: a keep-alive some proxies send
        return
    state.events += 1
    if data == openai.DONE:
        if state.events == 1:
            raise ProtocolError(
                f"stream from {session.gateway.name} ended ([DONE]) before any reply arrived"
            )
        state.done = True
        return
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(
            f"malformed JSON in stream event {state.events} from {session.gateway.name}: "
            f"{e.msg}: {data[:80]!r}"
        ) from None
    if fmt == "jsonl":
        session.out.jsonl(dialect.jsonl(name, parsed))
    pieces = dialect.add(assembly, name, parsed)
    if fmt == "text":
        _show(session, pieces, reasoning)
