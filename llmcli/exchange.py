"""One exchange: the promises of DESIGN's Limits as pure decisions over the bytes and
events of an answer (``Reading``), and the blocking driver that feeds it (``Exchange``).

Every dialect (``llmcli.protocol.chat``, ``llmcli.protocol.messages``,
``llmcli.protocol.responses``) and both modes go through the same code. A whole answer
is parsed and checked (an error inside a 200 raises); a stream is decoded as SSE
(``llmcli.protocol.sse``), each event fed to the dialect's assembler, and every network
read handed out as one ``Read``: its raw bytes, the events it completed
(for ``-o jsonl``) and the text pieces they carried. The stream must end with its terminator
(``[DONE]``, ``message_stop``, every choice's finish reason, ``response.completed`` or
``.incomplete``); one that does not is a ``ProtocolError`` after everything that arrived
was handed out, and an event that fails the stream (an error event, ``response.failed``)
is handed out with what came before it. A server that ignores ``stream: true`` and
answers whole is recognised by its first byte (``{``), whatever its Content-Type says.
``Reading`` has no socket and no thread, so the commands' blocking driver and an
event-loop batch engine run the same decisions. Writers (``llmcli.io.outputs``) and the
library (``llmcli.Client``) consume the reads; neither runs code of the other's per
chunk.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from llmcli.errors import LlmcliError, ProtocolError
from llmcli.http.decoding import MAX_BODY
from llmcli.http.request import parse_reply
from llmcli.protocol.chat import shapes as chat_shapes
from llmcli.protocol.dialect import Dialect
from llmcli.protocol.pieces import Piece
from llmcli.protocol.sse import SSEDecoder, TooLarge
from llmcli.redaction import Scrubber, redact, scrub_json

if TYPE_CHECKING:
    from llmcli.http.request import Request
    from llmcli.http.session import Session

JSON = dict[str, Any]


_NO_STREAM: Any = None  # the decoder of a Reading before its first chunk


@dataclass(frozen=True, slots=True)
class Read:
    """What one network read brought (a whole answer is one read)."""

    raw: bytes
    #: the -o jsonl line of each event it completed (only when asked for: ``lines=True``)
    lines: list[Any]
    pieces: list[Piece]
    whole: bool = False


class Reading:
    """The decisions of one exchange, as pure code over the bytes of its answer: no
    socket, no thread. A driver (``Exchange`` below, for the commands and the library; an
    event loop, for a batch engine) feeds the body's chunks as they arrive (``feed``), and
    hands out the ``Read`` values it gets back; at the end it calls ``finish``, after a
    failure ``fail``. Decided here: a stream's events parsed, assembled and checked (an
    error event, a ``[DONE]`` before anything), the text and events that might hold a
    secret, the cap of a stream kept whole, and whether a stream ended complete. A whole
    answer (or a stream answered whole: ``answered_whole``) is read by ``whole``.

    After ``finish`` or ``whole``, ``reply`` is the whole reply; after a failure
    ``partial()`` is what was assembled of it (None when nothing arrived)."""

    def __init__(
        self, request: Request, dialect: Dialect, *, keep_text: bool = True, lines: bool = False
    ) -> None:
        self.request = request
        self.dialect = dialect
        self.keep_text = keep_text
        self.lines = lines
        self.where = request.gateway
        self.reply: JSON | None = None
        #: the body's bytes are scrubbed as they arrive (``llmcli.http.session``); a secret that a
        #: stream sends in pieces is scrubbed from the text they make, and from the reply
        self._texts = _TextScrubbers(request.secrets) if request.secrets else None
        self._held = _HeldEvents(self._texts, dialect, lines) if self._texts else None
        #: made by the first chunk of a stream (a whole answer needs neither)
        self._assembly: Any = None
        self._decoder = _NO_STREAM
        self._kept = 0
        self._events = 0
        self._done = False
        self._parsed: Any = None  # the data of the event last taken (a failing one too)

    @staticmethod
    def answered_whole(first: bytes) -> bool:
        """Whether a stream's first bytes are a whole JSON answer: a server that ignores
        ``stream: true`` is recognised by its first byte, whatever its Content-Type says."""
        return first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")

    def partial(self) -> JSON | None:
        if not self._events or self._assembly is None:
            return None
        result: JSON = self._assembly.result()
        return result if self._texts is None else scrub_json(result, self.request.secrets)

    def whole(self, body: bytes) -> Read:
        """A whole answer's one read; an error it carries (a 200 too) raises."""
        parsed = parse_reply(body, self.request)
        try:
            reply = self.dialect.check(parsed, self.where)
        except LlmcliError as e:  # a server's words may repeat a secret
            e.message = redact(e.message, self.request.secrets)
            raise
        self.reply = reply
        return Read(body, [parsed] if self.lines else [], list(self.dialect.pieces(reply)), True)

    def feed(self, chunk: bytes) -> Iterator[Read]:
        """The reads one chunk of a stream makes. A failing event raises after the reads
        of what came before it (call ``fail`` then, for text held back)."""
        if self._assembly is None:
            self._begin()
        if self.keep_text:  # a reply kept whole is capped as a whole body is
            self._kept += len(chunk)
            if self._kept > MAX_BODY:
                raise self._error(
                    f"is larger than {MAX_BODY >> 20} MiB, more than a reply kept whole may be"
                )
        if self._held is not None:  # secrets: events held while they might hide one
            yield from self._held_read(chunk)
            return
        lines: list[Any] = []
        pieces: list[Piece] = []
        end = 0  # where the event being handled ends in the chunk
        try:
            for event in self._decoder.feed(chunk):
                end = event.end
                self._event(event.event, event.data, lines, pieces)
        except TooLarge as e:
            raise self._error(f"has {e}") from None
        except LlmcliError:  # what came up to the failing event, that event included, goes
            if end:  # out (-o sse and jsonl show what the server sent: its error too)
                yield Read(chunk[:end], lines, self._scrubbed(pieces))
            raise
        yield Read(chunk, lines, self._scrubbed(pieces))

    def fail(self) -> Iterator[Read]:
        """After a failure: text held back (it could have begun a secret) goes out."""
        if self._held is not None:
            yield self._held.release_all()

    def finish(self) -> Iterator[Read]:
        """The end of the body: what was held goes out; a stream that did not end with
        its terminator raises, after it."""
        if self._assembly is None:  # a stream of no bytes at all
            self._begin()
        self._decoder.close()  # an event without its blank line is discarded (WHATWG 9.2.6)
        if self._held is not None:
            yield self._held.release_all()
        if not ((self._done and self.dialect.done_ends) or self._assembly.finished):
            raise self._error(f"ended before it finished ({self.dialect.terminator})")
        reply = self._assembly.result()
        self.reply = reply if self._texts is None else scrub_json(reply, self.request.secrets)

    def _begin(self) -> None:
        self._assembly = self.dialect.assembler(self.keep_text, self.where, self.request.secrets)
        self._decoder = SSEDecoder()

    def _error(self, what: str) -> ProtocolError:
        request = self.request
        return ProtocolError(f"stream from {self.where} {what} ({request.method} {request.url})")

    def _scrubbed(self, pieces: list[Piece]) -> list[Piece]:
        return pieces if self._texts is None or not pieces else self._texts.feed(pieces)

    def _held_read(self, chunk: bytes) -> Iterator[Read]:
        """One read when secrets may come back: each event goes out as it came unless the
        text it carries might begin a secret; then it waits (``_HeldEvents``)."""
        held = self._held
        assert held is not None
        out = _Out()
        start = 0
        try:
            for event in self._decoder.feed(chunk):
                pieces: list[Piece] = []
                raw = held.partial + chunk[start : event.end]
                held.partial, start = b"", event.end
                try:
                    data = self._event(event.event, event.data, [], pieces)
                except LlmcliError:  # the failing event goes out too, in its turn
                    held.add(out, raw, event.event, self._parsed, [])
                    raise
                held.add(out, raw, event.event, data, pieces)
        except TooLarge as e:
            raise self._error(f"has {e}") from None
        except LlmcliError:
            if out:
                yield out.read()
            raise
        held.partial += chunk[start:]  # an event not yet whole: out with its end
        yield out.read()

    def _event(self, name: str, data: str, lines: list[Any], pieces: list[Piece]) -> Any:
        """Take one event; its parsed data (None for [DONE] and keep-alives)."""
        self._parsed = None
        if self._done or not data or data.isspace():  # empty data: a proxy's keep-alive
            return None
        self._events += 1
        if data == chat_shapes.DONE:
            if self._events == 1:
                raise ProtocolError(
                    f"stream from {self.where} ended ([DONE]) before any reply arrived"
                )
            self._done = True
            return None
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise ProtocolError(
                f"malformed JSON in stream event {self._events} from {self.where}: "
                f"{e.msg}: {data[:80]!r}"
            ) from None
        self._parsed = parsed
        if self.lines:
            lines.append(self.dialect.event_line(name, parsed))
        try:
            pieces.extend(self.dialect.add(self._assembly, name, parsed))  # an error event raises
        except LlmcliError as e:  # a server's words may repeat a secret
            e.message = redact(e.message, self.request.secrets)
            raise
        return parsed


class Exchange:
    """The blocking driver of one ``Reading``: iterate for the reads as they arrive;
    then ``reply`` is the whole reply. After a failure, ``partial()`` is what was
    assembled of it (None when nothing arrived)."""

    def __init__(
        self,
        http: Session,
        request: Request,
        dialect: Dialect,
        *,
        stream: bool,
        keep_text: bool = True,
        lines: bool = False,
    ) -> None:
        self.http = http
        self.request = request
        self.stream = stream
        self.reading = Reading(request, dialect, keep_text=keep_text, lines=lines)

    @property
    def reply(self) -> JSON | None:
        return self.reading.reply

    def partial(self) -> JSON | None:
        return self.reading.partial()

    def __iter__(self) -> Iterator[Read]:
        """The reads; with --cache, an answer is kept only once it was read whole and
        found complete (an error inside a 200, a stream without its end: never kept)."""
        try:
            if not self.stream:
                answer = self.http.send(self.request)
                read = self.reading.whole(answer.body)
                self.http.keep(self.request, answer)
                yield read
            else:
                yield from self._stream()
        except LlmcliError as e:  # a server's words may repeat a secret
            e.message = redact(e.message, self.request.secrets)
            raise

    def _stream(self) -> Iterator[Read]:
        request, http = self.request, self.http
        hit = http.cached(request)
        if hit is not None:  # the bytes of the stream kept, read as they were then
            yield from self._reads(iter((hit.body,)))
            return
        with http.open(request) as response:
            chunks = http.iter_bytes(request, response)
            if http.cache is None or not request.cacheable:
                yield from self._reads(chunks)
                return
            from llmcli.http.cache import Keeping
            from llmcli.http.session import Answer

            keeping = Keeping()

            def keep() -> None:
                if keeping.kept is not None:
                    kept = Answer(response.status_code, response.headers, bytes(keeping.kept))
                    http.keep(request, kept)

            yield from self._reads(keeping.chunks(chunks), keep)

    def _reads(
        self, chunks: Iterator[bytes], whole: Callable[[], None] | None = None
    ) -> Iterator[Read]:
        """The reads of a stream's chunks; ``whole`` is called once the answer is known
        complete, before its last reads are handed out (a reader may stop at the last)."""
        reading = self.reading
        first = next(chunks, b"")
        if reading.answered_whole(first):
            read = reading.whole(
                self.http.read_whole(self.request, itertools.chain((first,), chunks))
            )
            if whole is not None:
                whole()
            yield read
            return
        try:
            for chunk in itertools.chain((first,), chunks):
                yield from reading.feed(chunk)
        except LlmcliError:
            yield from reading.fail()
            raise
        tail = list(reading.finish())
        if whole is not None:
            whole()
        yield from tail


class _TextScrubbers:
    """The text of each choice and kind, scrubbed as it streams (``Scrubber``): a secret
    the server sent in two deltas is in no one event, but in the text they make."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = secrets
        self._streams: dict[tuple[str, int], Scrubber] = {}

    def feed(self, pieces: list[Piece]) -> list[Piece]:
        out = []
        for piece in pieces:
            key = (piece.kind, piece.choice)
            scrubber = self._streams.get(key)
            if scrubber is None:
                scrubber = self._streams[key] = Scrubber(self._secrets)
            text = scrubber.feed(piece.text.encode()).decode()  # cut at ASCII bytes only
            if text:
                out.append(Piece(piece.kind, piece.choice, text, piece.data))
        return out

    @property
    def holding(self) -> bool:
        """Whether some text is held back (it could begin a secret)."""
        return any(scrubber.holding for scrubber in self._streams.values())

    def close(self) -> list[Piece]:
        held = [(key, scrubber.close()) for key, scrubber in self._streams.items()]
        return [Piece(kind, choice, text.decode()) for (kind, choice), text in held if text]


class _Out:
    """What one read hands out, gathered event by event."""

    __slots__ = ("lines", "pieces", "raw")

    def __init__(self) -> None:
        self.raw = bytearray()
        self.lines: list[Any] = []
        self.pieces: list[Piece] = []

    def __bool__(self) -> bool:
        return bool(self.raw or self.lines or self.pieces)

    def read(self) -> Read:
        return Read(bytes(self.raw), self.lines, self.pieces)


class _HeldEvents:
    """Events (their raw bytes for ``-o sse``, their lines for ``-o jsonl``) held back
    while the text they carry might begin a secret: a key sent in two deltas is in no
    one event. When the text shows it was one, the events that carried it go out
    rewritten (re-serialized): the first holds the scrubbed text, the others none of it;
    otherwise they go out as they came."""

    def __init__(self, texts: _TextScrubbers, dialect: Dialect, lines: bool) -> None:
        self.texts = texts
        self.dialect = dialect
        self.lines = lines
        self.partial = b""  # the start of an event not yet whole
        self._events: list[tuple[bytes, str, Any, list[Piece], list[Piece]]] = []

    def add(self, out: _Out, raw: bytes, name: str, data: Any, pieces: list[Piece]) -> None:
        released = self.texts.feed(pieces) if pieces else []
        out.pieces.extend(released)
        if self._events or self.texts.holding:
            self._events.append((raw, name, data, pieces, released))
            if not self.texts.holding:
                self._release(out, [])
            return
        out.raw += raw
        if self.lines and data is not None:
            out.lines.append(self.dialect.event_line(name, data))

    def release_all(self) -> Read:
        """At the end (or a failure): everything held, the scrubbers' last text too."""
        out = _Out()
        tail = self.texts.close()
        out.pieces.extend(tail)
        if self._events:
            self._release(out, tail)
        out.raw += self.partial
        self.partial = b""
        return out.read()

    def _release(self, out: _Out, tail: list[Piece]) -> None:
        events, self._events = self._events, []
        said: dict[tuple[str, int], list[str]] = {}
        shown: dict[tuple[str, int], list[str]] = {}
        for _, _, _, pieces, released in events:
            for piece in pieces:
                said.setdefault((piece.kind, piece.choice), []).append(piece.text)
            for piece in released:
                shown.setdefault((piece.kind, piece.choice), []).append(piece.text)
        for piece in tail:
            shown.setdefault((piece.kind, piece.choice), []).append(piece.text)
        changed = {
            key: "".join(shown.get(key, [])) for key, texts in said.items()
            if "".join(texts) != "".join(shown.get(key, []))
        }  # fmt: skip
        for raw, name, data, pieces, _ in events:
            mine = [p for p in pieces if (p.kind, p.choice) in changed]
            if mine and data is not None:
                for piece in mine:  # the first piece of a stream holds its scrubbed text
                    data = _replaced(data, piece.text, changed.pop((piece.kind, piece.choice), ""))
                    changed.setdefault((piece.kind, piece.choice), "")
                named = b"" if name == "message" else b"event: %s\n" % name.encode()
                raw = named + b"data: " + orjson.dumps(data) + b"\n\n"
            out.raw += raw
            if self.lines and data is not None:
                out.lines.append(self.dialect.event_line(name, data))


def _replaced(value: Any, old: str, new: str) -> Any:
    """``value`` (parsed JSON) with its first string equal to ``old`` made ``new``;
    copied where changed."""
    found = [False]

    def walk(node: Any) -> Any:
        if found[0]:
            return node
        if isinstance(node, str):
            if node == old:
                found[0] = True
                return new
            return node
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        return node

    return walk(value)
