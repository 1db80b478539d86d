"""Incremental decoder for Server-Sent Events (``text/event-stream``) response bodies.

Gateways stream chat completions as SSE; this module turns the raw body bytes, in whatever
chunks the network delivers them, into :class:`Event` values. It does no I/O and keeps no
more than the incomplete last line between calls to :meth:`SSEDecoder.feed`.

It follows the WHATWG HTML Living Standard, section 9.2.5 "Parsing an event stream" (line
ends LF, CRLF or CR; one leading UTF-8 BOM stripped; UTF-8 decoding with replacement) and
section 9.2.6 "Interpreting an event stream" (comments, fields, dispatch on a blank line,
the last-event-ID buffer that persists across events).

At end of stream an unterminated final line and an event block that lacks its blank line
are discarded, as 9.2.6 says ("If the file ends in the middle of an event, before the
final empty line, the incomplete event is not dispatched"): a stream whose terminator
came that way has no terminator, and the caller reports it cut.

Not in the spec, but in DESIGN.md ("Limits"): a line or an event's data over ``max_size``
(16 MiB) raises :class:`TooLarge`, so a hostile stream cannot grow memory without end.
"""

from __future__ import annotations

__all__ = ["MAX_SIZE", "Event", "SSEDecoder", "TooLarge"]

_BOM = b"\xef\xbb\xbf"
MAX_SIZE = 16 << 20


class TooLarge(ValueError):
    """A line or an event over the decoder's ``max_size``."""


class Event:
    """One dispatched event (spec 9.2.6, "dispatch the event").

    ``end`` is where the line end of the event's blank line ends in the chunk that
    completed it, so ``chunk[:end]`` is what came up to and with the event, and no more
    (a CR whose LF comes in the next chunk ends the line). It is not part of the event's
    value (``==`` ignores it).
    """

    __slots__ = ("data", "end", "event", "id", "retry")

    def __init__(
        self,
        data: str,
        event: str = "message",
        id: str = "",
        retry: int | None = None,
        end: int = 0,
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.end = end

    def _key(self) -> tuple[str, str, str, int | None]:
        return (self.data, self.event, self.id, self.retry)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Event(data={self.data!r}, event={self.event!r}, id={self.id!r}, retry={self.retry!r})"
        )


class SSEDecoder:
    """Feed body bytes in any chunking; get back the events completed by each chunk."""

    __slots__ = (
        "_bom_pending",
        "_closed",
        "_data",
        "_data_size",
        "_event",
        "_id",
        "_retry",
        "_skip_lf",
        "_tail",
        "_tail_size",
        "max_size",
    )

    def __init__(self, max_size: int = MAX_SIZE) -> None:
        self.max_size = max_size
        self._tail: list[bytes] = []
        self._tail_size = 0
        self._data_size = 0
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
        start = 0
        if self._bom_pending and not self._tail and len(chunk) >= len(_BOM):
            self._bom_pending = False
            if chunk.startswith(_BOM):
                start = len(_BOM)
        if (  # the common read: whole events, LF line ends, nothing pending
            b"\r" not in chunk
            and not (self._tail or self._data or self._event or self._skip_lf)
            and not self._bom_pending
            and self._retry is None
        ):
            return self._blocks(chunk, start)
        return self._lines(chunk[start:] if start else chunk, start)

    def _blocks(self, chunk: bytes, start: int) -> list[Event]:
        """Events split on their blank lines; a one-line ``data: …`` event is made at once,
        any other goes through the line path; what follows the last one is held there."""
        parts = (chunk[start:] if start else chunk).split(b"\n\n")
        rest = parts.pop()
        events: list[Event] = []
        end = start
        limit = self.max_size
        for part in parts:
            end += len(part) + 2
            if part[:6] == b"data: " and b"\n" not in part and len(part) + 58 <= limit:
                events.append(
                    Event(part[6:].decode("utf-8", "replace"), "message", self._id, None, end)
                )
            else:
                events += self._lines(part + b"\n\n", end - len(part) - 2)
        if rest:
            events += self._lines(rest, len(chunk) - len(rest))
        return events

    def _lines(self, chunk: bytes, base: int) -> list[Event]:
        """The general path, line by line; ``chunk`` begins at ``base`` in the chunk fed,
        and an event ends where the line end of its blank line does."""
        if self._bom_pending:
            held = b"".join(self._tail)
            head = held + chunk
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._tail = [head]
                return []
            self._tail = []
            self._bom_pending = False
            base -= len(held)
            if head.startswith(_BOM):
                chunk, base = head[len(_BOM) :], base + len(_BOM)
            else:
                chunk = head
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk, base = chunk[1:], base + 1
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._tail.append(chunk)
                self._tail_size += len(chunk)
                if self._tail_size > self.max_size:
                    raise TooLarge(f"an SSE line longer than {self.max_size >> 20} MiB")
            return []
        if self._tail:
            base -= self._tail_size
            self._tail.append(chunk)
            chunk = b"".join(self._tail)
            self._tail = []
            self._tail_size = 0
        lines = chunk.splitlines(keepends=True)
        last = chunk[-1]
        if last == 0x0D:
            self._skip_lf = True
        elif last != 0x0A:
            self._tail.append(lines.pop())
            self._tail_size = len(self._tail[0])
        limit = self.max_size
        if self._tail_size > limit or (
            len(chunk) > limit and any(len(line.rstrip(b"\r\n")) > limit for line in lines)
        ):
            raise TooLarge(f"an SSE line longer than {self.max_size >> 20} MiB")
        events: list[Event] = []
        end = base
        for line in lines:
            end += len(line)
            self._interpret(line.rstrip(b"\r\n").decode("utf-8", "replace"), events, end)
        return events

    def close(self) -> list[Event]:
        """End of stream: an unterminated last line and an event without its blank line
        are discarded (9.2.6); nothing is dispatched."""
        self._closed = True
        self._tail = []
        self._data = []
        return []

    @property
    def pending(self) -> bool:
        """Whether bytes of an unfinished line or event are held (a cut stream)."""
        return bool(self._tail or self._data)

    def _interpret(self, line: str, events: list[Event], end: int) -> None:
        if not line:
            if self._data:
                events.append(
                    Event(
                        "\n".join(self._data), self._event or "message", self._id, self._retry, end
                    )
                )
                self._data = []
                self._data_size = 0
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
            self._data_size += len(value) + 64  # a line costs memory of its own
            if self._data_size > self.max_size:
                raise TooLarge(f"an SSE event larger than {self.max_size >> 20} MiB")
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
