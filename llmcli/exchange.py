"""One exchange: send a request, read its answer, assemble it, hand out what arrived.

The same loop serves both dialects (Chat Completions, Anthropic Messages) and both
modes. A whole answer is parsed and checked; a stream is decoded as SSE (``llmcli.protocol.sse``),
each event fed to the dialect's assembler (``ChatStream``, ``MessageStream``), and every
network read handed out as one ``Read``: its raw bytes, the events it completed (for
``-o jsonl``) and the text pieces they carried. The stream must end with its terminator
(``[DONE]``, ``message_stop`` or every choice's finish reason); one that does not is a
``ProtocolError`` after everything that arrived was handed out. A server that ignores
``stream: true`` and answers whole is recognised by its first byte (``{``), whatever its
Content-Type says. Writers (``llmcli.io.outputs``) and the library (``llmcli.Client``)
consume the reads; neither runs code of the other's per chunk.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
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


@dataclass(frozen=True, slots=True)
class Read:
    """What one network read brought (a whole answer is one read)."""

    raw: bytes
    #: the -o jsonl line of each event it completed (only when asked for: ``lines=True``)
    lines: list[Any]
    pieces: list[Piece]
    whole: bool = False


class Exchange:
    """Iterate for the reads as they arrive; then ``reply`` is the whole reply. After a
    failure, ``partial()`` is what was assembled of it (None when nothing arrived)."""

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
        self.dialect = dialect
        self.stream = stream
        self.keep_text = keep_text
        self.lines = lines
        self.where = request.gateway
        self.reply: JSON | None = None
        #: the body's bytes are scrubbed as they arrive (``llmcli.http.session``); a secret that a
        #: stream sends in pieces is scrubbed from the text they make, and from the reply
        self._texts = _TextScrubbers(request.secrets) if request.secrets else None
        self._held = _HeldEvents(self._texts, dialect, lines) if self._texts else None
        self._assembly: Any = None
        self._events = 0
        self._done = False

    def partial(self) -> JSON | None:
        if self._assembly is None or not self._events:
            return None
        result: JSON = self._assembly.result()
        return result

    def __iter__(self) -> Iterator[Read]:
        try:
            if not self.stream:
                yield self._whole(self.http.send(self.request).body)
            else:
                yield from self._stream()
        except LlmcliError as e:  # a server's words may repeat a secret
            e.message = redact(e.message, self.request.secrets)
            raise

    def _whole(self, body: bytes) -> Read:
        parsed = parse_reply(body, self.request)
        reply = self.dialect.check(parsed, self.where)  # an error sent with a 200 raises
        self.reply = reply
        return Read(body, [parsed] if self.lines else [], list(self.dialect.pieces(reply)), True)

    def _stream(self) -> Iterator[Read]:
        request, dialect = self.request, self.dialect
        self._assembly = assembly = dialect.assembler(self.keep_text, self.where)
        decoder = SSEDecoder()
        with self.http.open(request) as response:
            chunks = self.http.iter_bytes(request, response)
            first = next(chunks, b"")
            if first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
                yield self._whole(self.http.read_whole(request, itertools.chain((first,), chunks)))
                return
            kept = 0
            try:
                for chunk in itertools.chain((first,), chunks):
                    if self.keep_text:  # a reply kept whole is capped as a whole body is
                        kept += len(chunk)
                        if kept > MAX_BODY:
                            raise ProtocolError(
                                f"stream from {self.where} is larger than {MAX_BODY >> 20} MiB, "
                                f"more than a reply kept whole may be ({request.method} "
                                f"{request.url})"
                            )
                    if self._held is not None:  # secrets: events held while they might hide one
                        yield from self._held_read(chunk, decoder, assembly)
                        continue
                    lines: list[Any] = []
                    pieces: list[Piece] = []
                    good = 0  # where the events handled so far end in the chunk
                    try:
                        for event in decoder.feed(chunk):
                            self._event(assembly, event.event, event.data, lines, pieces)
                            good = event.end
                    except LlmcliError:  # what came before the failing event still goes out
                        if good:
                            yield Read(chunk[:good], lines, self._scrubbed(pieces))
                        raise
                    yield Read(chunk, lines, self._scrubbed(pieces))
            except LlmcliError:  # text held back (it could have begun a secret) goes out
                if self._held is not None:
                    yield self._held.release_all()
                raise
            except TooLarge as e:
                raise ProtocolError(
                    f"stream from {self.where} has {e} ({request.method} {request.url})"
                ) from None
            decoder.close()  # an event without its blank line is discarded (WHATWG 9.2.6)
        if self._held is not None:
            yield self._held.release_all()
        if not (self._done or assembly.finished):
            raise ProtocolError(
                f"stream from {self.where} ended before it finished ({dialect.terminator}) "
                f"({request.method} {request.url})"
            )
        reply = assembly.result()
        self.reply = reply if self._texts is None else scrub_json(reply, request.secrets)

    def _scrubbed(self, pieces: list[Piece]) -> list[Piece]:
        return pieces if self._texts is None or not pieces else self._texts.feed(pieces)

    def _held_read(self, chunk: bytes, decoder: SSEDecoder, assembly: Any) -> Iterator[Read]:
        """One read when secrets may come back: each event goes out as it came unless the
        text it carries might begin a secret; then it waits (``_HeldEvents``)."""
        held = self._held
        assert held is not None
        out = _Out()
        start = 0
        try:
            for event in decoder.feed(chunk):
                pieces: list[Piece] = []
                data = self._event(assembly, event.event, event.data, [], pieces)
                raw = held.partial + chunk[start : event.end]
                held.partial, start = b"", event.end
                held.add(out, raw, event.event, data, pieces)
        except LlmcliError:
            if out:
                yield out.read()
            raise
        held.partial += chunk[start:]  # an event not yet whole: out with its end
        yield out.read()

    def _event(
        self, assembly: Any, name: str, data: str, lines: list[Any], pieces: list[Piece]
    ) -> Any:
        """Take one event; its parsed data (None for [DONE] and keep-alives)."""
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
        line = self.dialect.event_line(name, parsed) if self.lines else None
        pieces.extend(self.dialect.add(assembly, name, parsed))  # an error event raises
        if self.lines:
            lines.append(line)
        return parsed


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
