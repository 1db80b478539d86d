"""The offline gateway's replay mode: every request answered from a cassette.

``llmcli … --replay FILE`` starts it in-process and sends every request here instead of
the network; ``llmcli serve --replay FILE`` serves a cassette to any other client. A
request is matched by method, path and body (``cassette.match_key``); the recordings of
one request are answered in the order they were recorded, and once they are used up the
last one answers again (a script that asks once more than it did when recording still
gets an answer, the latest). Status, recorded headers and body bytes go out exactly as
recorded (the chunking of a stream may differ); a body recorded ``cut`` is followed by
a broken connection, as it was.

A request with no recording is answered 404 with ``x-llmcli-replay: miss`` and an
OpenAI-shaped error whose message names the request and the nearest recorded one; an
llmcli client turns that into exit 69, never retried.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

import orjson

from .cassette import (
    MISS_HEADER,
    CassetteError,
    Key,
    Recording,
    match_key,
    miss_message,
    nearest,
    parse,
)

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from .writer import Writer

__all__ = ["Replay"]


class Replay:
    """A cassette's recordings, each request's in recorded order; safe across threads."""

    def __init__(self, recordings: list[Recording], name: str) -> None:
        self.recordings = recordings
        self.name = name
        self._queues: dict[Key, list[Recording]] = {}
        for recording in recordings:
            self._queues.setdefault(recording.key, []).append(recording)
        self._used: dict[Key, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Replay:
        """Read a cassette: ``OSError`` when it cannot be read, ``CassetteError`` (a
        ``ValueError``) naming its first bad line."""
        name = os.fspath(path)
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return cls(parse(_bounded(f, name), name), name)

    def take(self, key: Key) -> Recording | None:
        """The next recording of ``key`` (the last one again once all were used)."""
        queue = self._queues.get(key)
        if not queue:
            return None
        with self._lock:
            used = self._used.get(key, 0)
            self._used[key] = used + 1
        return queue[min(used, len(queue) - 1)]

    def answer(self, handler: BaseHTTPRequestHandler, writer: Writer, body: bytes) -> None:
        """Answer one request from the cassette, or say it has no recording."""
        key = match_key(handler.command, handler.path, dict(handler.headers.items()), body)
        recording = self.take(key)
        if recording is None:
            message = miss_message(key, nearest(self.recordings, key), self.name)
            error = {"error": {"message": message, "type": "replay_miss", "code": "replay_miss"}}
            miss = Recording("", "", "", 404, (("content-type", "application/json"),), b"")
            _write(handler, writer, miss, orjson.dumps(error), [(MISS_HEADER, "miss")])
            return
        _write(handler, writer, recording, recording.answer, [])

    def __repr__(self) -> str:
        return f"Replay({self.name!r}, {len(self.recordings)} recordings)"


#: the longest cassette line read: a body of 256 MiB (what a recording keeps at most),
#: escaped or in base64, and its request; /dev/zero is not a cassette
MAX_LINE = 1 << 30


def _bounded(f: TextIO, name: str) -> Iterator[str]:
    number = 0
    while line := f.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            raise CassetteError(f"{name}:{number}: not a cassette line: longer than 1 GiB")
        yield line


def _write(
    handler: BaseHTTPRequestHandler,
    writer: Writer,
    recording: Recording,
    body: bytes,
    extra: list[tuple[str, str]],
) -> None:
    """Status, headers and body as recorded: with its length when whole; chunked and
    left unfinished (then the connection closes) when it was cut."""
    writer.started, writer.status = True, recording.status
    handler.send_response(recording.status)
    for name, value in (*recording.headers, *extra):
        handler.send_header(name, value)
    if recording.cut:
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        if body:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
        handler.wfile.flush()
        handler.close_connection = True
        return
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
