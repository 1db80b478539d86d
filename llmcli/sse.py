"""Incremental decoder for Server-Sent Events (``text/event-stream``) response bodies.

Gateways stream chat completions as SSE; this module turns the raw body bytes, in whatever
chunks the network delivers them, into :class:`Event` values. It does no I/O and keeps no
more than the incomplete last line between calls to :meth:`SSEDecoder.feed`.

It follows the WHATWG HTML Living Standard, section 9.2.5 "Parsing an event stream" (line
ends LF, CRLF or CR; one leading UTF-8 BOM stripped; UTF-8 decoding with replacement) and
section 9.2.6 "Interpreting an event stream" (comments, fields, dispatch on a blank line,
the last-event-ID buffer that persists across events).

Deviation from the spec: at end of stream the spec discards an unterminated final line and
an event block that lacks its blank line. :meth:`SSEDecoder.close` instead interprets the
final line and dispatches the block if it has data, because real gateways often end with
``data: [DONE]`` and no blank line.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Event", "SSEDecoder"]

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event (spec 9.2.6, "dispatch the event")."""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Feed body bytes in any chunking; get back the events completed by each chunk."""

    __slots__ = ("_bom_pending", "_closed", "_data", "_event", "_id", "_retry", "_skip_lf", "_tail")

    def __init__(self) -> None:
        self._tail: list[bytes] = []
        self._bom_pending = True
        self._skip_lf = False
        self._closed = False
        self._data: list[str] = []
        self._event = ""
        self._id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        """Consume ``chunk`` and return the events dispatched by the lines it completes."""
        if self._closed:
            raise RuntimeError("SSEDecoder.feed() called after close()")
        if not chunk:
            return []
        if self._bom_pending:
            head = b"".join(self._tail) + chunk
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._tail = [head]
                return []
            self._tail = []
            self._bom_pending = False
            chunk = head[len(_BOM) :] if head.startswith(_BOM) else head
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._tail.append(chunk)
            return []
        if self._tail:
            self._tail.append(chunk)
            chunk = b"".join(self._tail)
            self._tail = []
        lines = chunk.splitlines()
        last = chunk[-1]
        if last == 0x0D:
            self._skip_lf = True
        elif last != 0x0A:
            self._tail.append(lines.pop())
        events: list[Event] = []
        for line in lines:
            self._interpret(line.decode("utf-8", "replace"), events)
        return events

    def close(self) -> list[Event]:
        """End of stream: interpret an unterminated last line, dispatch a pending block."""
        if self._closed:
            return []
        self._closed = True
        events: list[Event] = []
        if self._tail:
            tail = b"".join(self._tail)
            self._tail = []
            if self._bom_pending and tail.startswith(_BOM):
                tail = tail[len(_BOM) :]
            if tail:
                self._interpret(tail.decode("utf-8", "replace"), events)
        if self._data:
            self._interpret("", events)
        return events

    def _interpret(self, line: str, events: list[Event]) -> None:
        if not line:
            if self._data:
                events.append(
                    Event("\n".join(self._data), self._event or "message", self._id, self._retry)
                )
                self._data = []
            self._event = ""
            self._retry = None
            return
        if line[0] == ":":
            return
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
