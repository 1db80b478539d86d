"""Writing responses with the transport faults applied.

``Writer`` owns the status line, headers and body bytes of one response: ``delay``
before the status line; ``slow`` and ``split_utf8`` cut the body into separate flushed
writes; ``cut`` closes early. ``send_stream`` frames SSE events (``comment``, ``crlf``)
and applies the event-level faults (``cut``, ``eof``, ``error_after``, ``malformed``,
``no_done``). Streams use HTTP/1.1 chunked transfer encoding, one chunk per write.

A profile adds its own headers (``headers``; a fault's header of the same name wins) and,
like OpenRouter (seed 001), may open every stream with a ``: OPENROUTER PROCESSING``
comment (``processing``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .errors import reason

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from .faults import Faults

__all__ = ["MALFORMED", "Writer"]

Event = tuple[str | None, bytes]
MALFORMED = b'{"choices": ['
COMMENT = b": OPENROUTER PROCESSING"


def _boundaries(data: bytes, faults: Faults) -> list[int]:
    cuts: set[int] = set()
    if faults.slow_bytes is not None:
        cuts.update(range(faults.slow_bytes, len(data), faults.slow_bytes))
    if faults.split_utf8:
        cuts.update(i + 1 for i, b in enumerate(data) if b >= 0xC0 and i + 1 < len(data))
    return sorted(cuts)


def _is_done(event: Event) -> bool:
    return event[1] == b"[DONE]" or event[0] == "message_stop"


class Writer:
    """One response of ``handler``, under ``faults``."""

    def __init__(self, handler: BaseHTTPRequestHandler, faults: Faults) -> None:
        self.handler = handler
        self.faults = faults
        self.chunked = False
        self.wrote = False
        self.started = False
        self.headers: list[tuple[str, str]] = []  # the profile's own response headers
        self.processing = False  # open streams with a ": OPENROUTER PROCESSING" comment

    # ---- low level ----------------------------------------------------------------------

    def _status(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        if self.faults.delay_ms:
            time.sleep(self.faults.delay_ms / 1000)
        self.started = True
        h = self.handler
        h.send_response(status, reason(status))
        forced = self.faults.headers()
        names = {name.lower() for name, _ in forced}
        own = [(n, v) for n, v in self.headers if n.lower() not in names]
        for name, value in (*headers, *own, *forced):
            h.send_header(name, value)
        h.end_headers()

    def _raw(self, data: bytes) -> None:
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.handler.wfile.write(data)

    def write(self, data: bytes) -> None:
        """Write body bytes: one write, or several with the slow/split_utf8 pauses."""
        if not data:
            return
        f = self.faults
        if f.slow_bytes is None and not f.split_utf8:
            self._raw(data)
            return
        pause = f.pause_ms / 1000
        start = 0
        for end in [*_boundaries(data, f), len(data)]:
            if self.wrote and pause:
                time.sleep(pause)
            self._raw(data[start:end])
            self.wrote = True
            start = end

    def abort(self) -> None:
        """Drop the connection without finishing the response."""
        self.handler.close_connection = True

    # ---- whole responses ----------------------------------------------------------------

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """A response with a ``Content-Length`` body (``cut`` sends half of it)."""
        self._status(
            status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers]
        )
        if self.faults.cut is not None:
            self.write(body[: len(body) // 2])
            self.abort()
            return
        self.write(body)

    def send_stream(self, events: Iterator[Event], error: Event) -> None:
        """An SSE response of ``events``; ``error`` is the in-stream error for ``error_after``."""
        f = self.faults
        headers = [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            ("Transfer-Encoding", "chunked"),
        ]
        if f.error_after is not None:  # the server hangs up after the error event
            headers.append(("Connection", "close"))
        self._status(200, headers)
        self.chunked = True
        nl = b"\r\n" if f.crlf else b"\n"
        comment = COMMENT + nl + nl if f.comment else b""
        if self.processing:
            self.write(COMMENT + nl + nl)
        count = 0
        for event in events:
            if f.no_done and _is_done(event):
                continue
            if f.cut is not None and count >= f.cut:
                break
            if f.eof is not None and count >= f.eof:
                break
            if f.error_after is not None and count >= f.error_after:
                self.write(comment + self._frame(error, nl))
                self.abort()
                break
            count += 1
            if f.malformed == count:
                event = (event[0], MALFORMED)
            self.write(comment + self._frame(event, nl))
        if f.cut is not None:
            self.abort()
            return
        self.handler.wfile.write(b"0\r\n\r\n")

    @staticmethod
    def _frame(event: Event, nl: bytes) -> bytes:
        name, data = event
        if name is None:
            return b"data: " + data + nl + nl
        return b"event: " + name.encode() + nl + b"data: " + data + nl + nl
