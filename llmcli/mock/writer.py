"""Writing responses with the transport faults applied.

``Writer`` owns the bytes of one response: the ``interim`` responses, then ``delay``,
then the status line and headers, all of which ``slow_head`` writes a byte at a time,
each flushed, MS ms apart (``heads``; the body then comes at its own pace); ``slow`` and
``split_utf8`` cut the body into separate flushed writes; ``cut`` closes early;
``hang_after`` stops writing after so many body bytes and ``stall`` holds the
connection open without a word (``silent``: after the interim responses); ``drop``
closes it without one. A client that hangs up ends the answer at the next write (an
``OSError``, which the handler takes for the end of the connection) or during a head's
pause.

``send_stream`` frames SSE events (``comment``, ``crlf``) and applies the event-level
faults (``cut``, ``eof``, ``error_after``, ``malformed``, ``no_done``, ``done_first``,
``empty_data``, ``no_final_blank``, and the big event of ``huge_line``/``huge_event``).
Streams, and bodies of unknown length, use HTTP/1.1 chunked transfer encoding, one chunk
per write.

A profile adds its own headers (``headers``), a ``budget`` its rate-limit headers
(``limits``); of two headers of the same name the fault's wins, then the budget's. Like
OpenRouter (seed 001), a profile may open every stream with a ``: OPENROUTER PROCESSING``
comment (``processing``).

The connection's writes are buffered: a whole body without transport faults goes out with
its status line and headers in one write when the handler returns (one segment instead of
two, which is most of a small request's cost); everything else is flushed write by write,
so streams and pauses reach the client when they are written.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from . import heads
from .error_bodies import reason
from .gates import jitter_ms
from .hostile import big_event

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from .faults import Faults

__all__ = ["MALFORMED", "Writer"]

Event = tuple[str | None, bytes]
Headers = list[tuple[str, str]]
MALFORMED = b'{"choices": ['
COMMENT = b": OPENROUTER PROCESSING"
KEEPALIVES = (b"data:", b"data: ")  # empty_data: events whose data is empty


def _boundaries(data: bytes, faults: Faults) -> Iterable[int]:
    """Where ``slow``/``split_utf8`` cut ``data``; ``slow`` alone lazily, so ``slow=1:MS``
    on a 1 MiB piece of a big body holds no million offsets."""
    steps = range(faults.slow_bytes, len(data), faults.slow_bytes) if faults.slow_bytes else ()
    if not faults.split_utf8:
        return steps
    cuts = set(steps)
    cuts.update(i + 1 for i, b in enumerate(data) if b >= 0xC0 and i + 1 < len(data))
    return sorted(cuts)


def _is_done(event: Event) -> bool:
    """A stream's terminator: chat's [DONE], Anthropic's message_stop, a Responses stream's
    response.completed (``no_done`` leaves it out: a stream cut before its end)."""
    return event[1] == b"[DONE]" or event[0] in ("message_stop", "response.completed")


def _merge(*layers: Headers) -> Headers:
    """The headers of all layers; of two with the same name, the later layer's wins."""
    names: set[str] = set()
    out: list[Headers] = []
    for layer in reversed(layers):
        out.append([(n, v) for n, v in layer if n.lower() not in names])
        names.update(n.lower() for n, _ in layer)
    return [header for layer in reversed(out) for header in layer]


class Writer:
    """One response of ``handler``, under ``faults``."""

    def __init__(self, handler: BaseHTTPRequestHandler, faults: Faults) -> None:
        self.handler = handler
        self.faults = faults
        self.chunked = False
        self.wrote = False
        self.started = False
        self.sent = 0  # body bytes written so far, for hang_after
        self.headers: Headers = []  # the request id and the profile's own headers
        self.limits: Headers = []  # the budget's rate-limit headers
        self.processing = False  # open streams with a ": OPENROUTER PROCESSING" comment
        self.number = 0  # the request's number (x-request-id), which seeds its jitter
        self.status: int | None = None  # the status sent, for the request log
        self.flush = True  # flush each write (False: the handler flushes at the end)
        self.trickled = False  # slow_head: a head byte is out, so the next one waits
        self.tally: Callable[[int], None] | None = None  # told of each body write done

    # ---- low level ----------------------------------------------------------------------

    def _delay(self) -> None:
        f = self.faults
        pause = f.delay_ms + jitter_ms(self.number, f.jitter_ms)
        if pause:
            time.sleep(pause / 1000)

    def _status(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        f = self.faults
        self._interim()
        self._delay()
        self.started = True
        self.status = status
        h = self.handler
        every = (*headers, *_merge(self.headers, self.limits, f.headers(status)))
        self._head(heads.head(h, status, reason(status), every))
        if self.flush:
            h.wfile.flush()

    def _interim(self) -> None:
        """The ``interim`` responses, each flushed; a client that hangs up ends them."""
        for data in heads.interim(self.faults.interim):
            self.started = True
            self._head(data)
            self.handler.wfile.flush()

    def _head(self, data: bytes) -> None:
        """Head bytes: as they are, or under ``slow_head`` one flushed byte at a time."""
        ms = self.faults.slow_head_ms
        out = self.handler.wfile
        if ms is None:
            out.write(data)
            return
        for i in range(len(data)):
            if self.trickled and ms:
                heads.pause(self.handler.connection, ms / 1000)
            out.write(data[i : i + 1])
            out.flush()
            self.trickled = True

    def _raw(self, data: bytes) -> None:
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.handler.wfile.write(data)
        if self.flush:
            self.handler.wfile.flush()
        if self.tally is not None:
            self.tally(len(data))

    def _last_chunk(self) -> None:
        self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()

    def write(self, data: bytes) -> None:
        """Write body bytes: one write, or several with the slow/split_utf8 pauses; past
        ``hang_after`` bytes, stall and raise ``ConnectionAbortedError``."""
        hang = self.faults.hang_after
        if hang is not None and self.sent + len(data) > hang:
            self._paced(data[: hang - self.sent])
            self.stall()
            raise ConnectionAbortedError("hang_after: the gateway stalled")
        self._paced(data)

    def _paced(self, data: bytes) -> None:
        if not data:
            return
        self.sent += len(data)
        f = self.faults
        if f.slow_bytes is None and not f.split_utf8:
            self._raw(data)
            return
        pause = f.pause_ms / 1000
        start = 0
        for end in itertools.chain(_boundaries(data, f), (len(data),)):
            if self.wrote and pause:
                time.sleep(pause)
            self._raw(data[start:end])
            self.wrote = True
            start = end

    def verbatim(self, data: bytes) -> None:
        """``data`` instead of a response, whatever it frames (with ``slow``, in flushed
        pieces: a client's first read may hold one byte); then hang up."""
        self.started = True
        f = self.faults
        start = 0
        for end in itertools.chain(_boundaries(data, f), (len(data),)):
            if start and f.pause_ms:
                time.sleep(f.pause_ms / 1000)
            self.handler.wfile.write(data[start:end])
            self.handler.wfile.flush()
            start = end
        self.abort()

    def abort(self) -> None:
        """Drop the connection without finishing the response."""
        self.handler.close_connection = True

    def drop(self) -> None:
        """Close the connection without a byte (after ``delay``), the request read."""
        self._delay()
        self.abort()

    def stall(self) -> None:
        """Send nothing more (the ``interim`` responses, if nothing was sent yet): hold
        the connection until the client hangs up or ``hold`` seconds pass, then drop it."""
        if not self.started:
            self._interim()
        self.abort()
        self.handler.wfile.flush()
        conn = self.handler.connection
        deadline = time.monotonic() + self.faults.hold
        while (left := deadline - time.monotonic()) > 0:
            conn.settimeout(min(left, 0.25))
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    # ---- whole responses ----------------------------------------------------------------

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """A response with a ``Content-Length`` body (``cut`` sends half of it)."""
        f = self.faults
        self.flush = f.slow_bytes is not None or f.split_utf8 or f.hang_after is not None
        self._status(
            status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers]
        )
        if self.faults.cut is not None:
            self.write(body[: len(body) // 2])
            self.abort()
            return
        self.write(body)

    def send_parts(
        self,
        status: int,
        parts: Iterable[bytes],
        length: int | None,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """A body written piece by piece: ``Content-Length: length``, chunked when None."""
        framing = (
            ("Content-Length", str(length))
            if length is not None
            else ("Transfer-Encoding", "chunked")
        )
        self._status(status, [("Content-Type", content_type), framing, *headers])
        self.chunked = length is None
        for part in parts:
            self.write(part)
        if self.chunked:
            self._last_chunk()

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
        self.flush = not f.burst  # burst: the buffered chunks go out with the last one
        nl = b"\r\n" if f.crlf else b"\n"
        comment = COMMENT + nl + nl if f.comment else b""
        if self.processing:
            self.write(COMMENT + nl + nl)
        count = 0
        big = f.huge_line is not None or f.huge_event is not None
        for event in events:
            done = _is_done(event)
            if (f.no_done and done) or (f.done_first and not done):
                continue
            if f.cut is not None and count >= f.cut:
                break
            if f.eof is not None and count >= f.eof:
                break
            if f.error_after is not None and count >= f.error_after:
                self.write(comment + self._frame(error, nl))
                self.handler.wfile.flush()
                self.abort()
                break
            count += 1
            if f.malformed == count:
                event = (event[0], MALFORMED)
            if big and event[0] is None:  # chat: the big event comes first
                big = self._big(False, nl)
            if f.empty_data and count > 1:
                self.write(b"".join(k + nl + nl for k in KEEPALIVES))
            frame = self._frame(event, nl)
            self.write(comment + (frame[: -len(nl)] if f.no_final_blank and done else frame))
            if big and event[0] == "content_block_start":  # Anthropic: inside the first block
                big = self._big(True, nl)
        if f.cut is not None:
            self.abort()
            return
        self._last_chunk()

    def _big(self, anthropic: bool, nl: bytes) -> bool:
        """Write the ``huge_line``/``huge_event`` event; False: it is written."""
        for part in big_event(self.faults, anthropic, nl):
            self.write(part)
        return False

    @staticmethod
    def _frame(event: Event, nl: bytes) -> bytes:
        name, data = event
        if name is None:
            return b"data: " + data + nl + nl
        return b"event: " + name.encode() + nl + b"data: " + data + nl + nl
