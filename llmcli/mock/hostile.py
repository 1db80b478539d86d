"""Hostile replies of the offline gateway: what a broken or malicious server can send.

Bodies of any size (``endless``, ``huge_body``, ``error_body``, ``huge_line``,
``huge_event``) are generated 1 MiB at a time, so a 1 GiB reply costs the gateway a few
MiB and is written at loopback speed. ``gzip_bomb`` is built once per size and kept (a
few KiB): after a ``Z_FULL_FLUSH`` deflate forgets its history, so every full MiB of
padding compresses to the same bytes, computed once and repeated; the gzip header and
trailer (RFC 1952) are written here around that raw deflate stream, which makes a 1 GiB
bomb cost one CRC-32 pass (~0.2 s) instead of compressing 1 GiB (~4 s).

``echo_headers`` repeats every request header, credentials included, inside an error
message: the client must redact what it shows. ``silent`` never answers.

Under ``redirect=URL`` the generated bodies (``huge_body``, ``gzip_bomb``, ``endless``)
come with the redirect's 3xx and ``Location`` instead of a 200: a client that does not
follow the redirect must still not read, inflate or keep an unbounded body, and with
``slow=`` (``redirect=URL;endless=1G;slow=1:100``) must give up on one that never ends.
"""

from __future__ import annotations

import functools
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from .error_bodies import error_body
from .fake_models import CREATED

if TYPE_CHECKING:
    from .faults import Faults
    from .writer import Event, Writer

__all__ = ["CHUNK", "LINE", "Asked", "Bomb", "answer", "asked", "big_event", "gzip_bomb"]

CHUNK = 1 << 20  # bytes per write of a big body
LINE = 1024  # bytes per data: line of huge_event, line end included
MARK = "\x00\x01hostile\x01\x00"  # where a generated body's big string goes
CHAT_DELTA = b'{"choices":[{"index":0,"delta":{"content":"'
CHAT_MESSAGE = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"'
TEXT_DELTA = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, mtime 0


@functools.cache
def _block(byte: bytes) -> bytes:
    return byte * CHUNK


def filler(n: int, byte: bytes = b"a") -> Iterator[bytes]:
    """``n`` copies of ``byte``, in pieces of at most ``CHUNK``."""
    block = _block(byte)
    while n > 0:
        yield block if n >= CHUNK else block[:n]
        n -= CHUNK


def around(head: bytes, n: int, tail: bytes, byte: bytes = b"a") -> Iterator[bytes]:
    yield head
    yield from filler(n, byte)
    yield tail


def _split(body: bytes) -> tuple[bytes, bytes]:
    """A body rendered with ``MARK`` as its big string: what goes before and after it."""
    head, _, tail = body.partition(orjson.dumps(MARK)[1:-1])
    return head, tail


# ---- stream events ---------------------------------------------------------------------


def _lines(n: int, nl: bytes) -> Iterator[bytes]:
    """``data:`` lines of ``LINE`` bytes (JSON whitespace), at least ``n`` bytes in all."""
    line = b"data:" + b" " * (LINE - 5 - len(nl)) + nl
    per = CHUNK // LINE
    full, rest = divmod(-(-n // LINE), per)
    block = line * per if full else b""
    for _ in range(full):
        yield block
    yield line * rest


def big_event(faults: Faults, anthropic: bool, nl: bytes) -> Iterator[bytes]:
    """The ``huge_line`` / ``huge_event`` event: a content delta, chat or Anthropic."""
    name = b"event: content_block_delta" + nl if anthropic else b""
    if faults.huge_line is not None:
        start, end = (TEXT_DELTA, b'"}}') if anthropic else (CHAT_DELTA, b'"}}]}')
        yield from around(name + b"data: " + start, faults.huge_line, end + nl + nl)
    if faults.huge_event is not None:
        start = TEXT_DELTA + b'x"}' if anthropic else CHAT_DELTA + b'x"}}]'
        yield name + b"data: " + start + nl
        yield from _lines(faults.huge_event, nl)
        yield b"data: }" + nl + nl


# ---- gzip bomb -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bomb:
    """A gzip body that inflates to ``size`` bytes: ``first``, ``middle`` repeated
    ``repeat`` times, ``last``."""

    size: int
    first: bytes
    middle: bytes
    repeat: int
    last: bytes

    @property
    def length(self) -> int:
        return len(self.first) + len(self.middle) * self.repeat + len(self.last)

    def chunks(self) -> Iterator[bytes]:
        yield self.first
        for _ in range(self.repeat):
            yield self.middle
        yield self.last


_BOMBS: dict[tuple[int, bytes], Bomb] = {}
_BOMBS_LOCK = threading.Lock()


def _bomb(size: int, prefix: bytes) -> Bomb:
    block = _block(b" ")
    first = (prefix + block)[: min(size, CHUNK)]
    repeat, rest = divmod(size - len(first), CHUNK)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = deflate.compress(first) + deflate.flush(zlib.Z_FULL_FLUSH)
    middle = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH) if repeat else b""
    tail = deflate.compress(block[:rest]) + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(first)
    for _ in range(repeat):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(block[:rest], crc)
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return Bomb(size, GZIP_HEADER + head, middle, repeat, tail + trailer)


def gzip_bomb(size: int, stream: bool) -> Bomb:
    """The gzip of ``size`` bytes: a chat chunk (``data: …``) or completion opened, then
    spaces. Built at first use, then kept."""
    prefix = b"data: " + CHAT_DELTA if stream else CHAT_MESSAGE
    with _BOMBS_LOCK:
        found = _BOMBS.get((size, prefix))
        if found is None:
            found = _BOMBS[size, prefix] = _bomb(size, prefix)
    return found


# ---- whole replies ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asked:
    """What a hostile reply needs of its request."""

    headers: tuple[tuple[str, str], ...]  # as sent, in order
    stream: bool  # the body says "stream": true
    anthropic: bool  # /messages: Anthropic's wire format
    style: str  # the profile's error style on this path
    model: str


def asked(headers: Iterable[tuple[str, str]], raw: bytes, endpoint: str, style: str) -> Asked:
    try:
        body: Any = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        body = {}
    body = body if isinstance(body, dict) else {}
    model = body.get("model")
    return Asked(
        tuple(headers),
        body.get("stream") is True,
        endpoint == "messages",
        style,
        model if isinstance(model, str) else "echo",
    )


def _whole(ask: Asked, size: int) -> bytes:
    if ask.anthropic:
        return orjson.dumps(
            {
                "id": "msg_hostile",
                "type": "message",
                "role": "assistant",
                "model": ask.model,
                "content": [{"type": "text", "text": MARK}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": size // 4},
            }
        )
    message = {"role": "assistant", "content": MARK}
    return orjson.dumps(
        {
            "id": "chatcmpl-hostile",
            "object": "chat.completion",
            "created": CREATED,
            "model": ask.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": size // 4, "total_tokens": 0},
        }
    )


def _echo(writer: Writer, faults: Faults, ask: Asked) -> None:
    said = "; ".join(f"{name}: {value}" for name, value in ask.headers)
    message = f"bad key; request headers: {said}"
    anthropic = ask.anthropic or ask.style == "anthropic"
    if anthropic:
        error = {"type": "error", "error": {"type": "authentication_error", "message": message}}
    else:
        error = {"error": {"message": message, "type": "invalid_request_error"}}
    if faults.status is not None or not ask.stream:
        writer.send(faults.status or 200, orjson.dumps(error))
        return
    events: list[Event]
    if anthropic:
        start: dict[str, Any] = {
            "id": "msg_hostile",
            "type": "message",
            "role": "assistant",
            "model": ask.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 0},
        }
        events = [("message_start", orjson.dumps({"type": "message_start", "message": start}))]
        events.append(("error", orjson.dumps(error)))
    else:
        delta = {"role": "assistant", "content": "Hello"}
        chunk = {
            "id": "chatcmpl-hostile",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": ask.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        events = [(None, orjson.dumps(chunk)), (None, orjson.dumps(error))]
    writer.send_stream(iter(events), events[-1])


def answer(writer: Writer, faults: Faults, ask: Asked) -> None:
    """Send the hostile reply ``faults`` asks for (``Faults.hostile``); under ``redirect=``
    only a generated body (``Faults.big_body``), with the redirect's status."""
    f = faults
    if f.redirect is not None:
        _big(writer, f, ask, f.redirect_status, [("Location", f.redirect)])
    elif f.silent:
        writer.stall()
    elif f.raw is not None:
        writer.verbatim(f.raw)
    elif f.echo_headers:
        _echo(writer, f, ask)
    elif f.error_body is not None:
        head, tail = _split(error_body(ask.style, f.status or 400, MARK))
        size = len(head) + f.error_body + len(tail)
        writer.send_parts(f.status or 400, around(head, f.error_body, tail), size)
    else:
        _big(writer, f, ask, f.status or 200, [])


def _big(
    writer: Writer, f: Faults, ask: Asked, status: int, headers: list[tuple[str, str]]
) -> None:
    """The body of ``gzip_bomb``, ``huge_body`` or ``endless`` (the first of them asked for)."""
    kind = "text/event-stream" if ask.stream else "application/json"
    if f.gzip_bomb is not None:
        bomb = gzip_bomb(f.gzip_bomb, ask.stream)
        gzip = [("Content-Encoding", "gzip"), *headers]
        writer.send_parts(status, bomb.chunks(), bomb.length, kind, gzip)
    elif f.huge_body is not None:
        head, tail = _split(_whole(ask, f.huge_body))
        size = len(head) + f.huge_body + len(tail)
        writer.send_parts(status, around(head, f.huge_body, tail), size, headers=headers)
    elif f.endless is not None:
        prefix = b"data: " + CHAT_DELTA if ask.stream else CHAT_MESSAGE
        body = around(prefix[: f.endless], f.endless - len(prefix), b"")
        writer.send_parts(status, body, None, kind, headers)
