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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from llmcli.errors import LlmcliError, ProtocolError
from llmcli.http.decoding import MAX_BODY
from llmcli.http.request import parse_reply
from llmcli.protocol import anthropic, openai
from llmcli.protocol.chatstream import ChatStream
from llmcli.protocol.messagestream import MessageStream
from llmcli.protocol.pieces import Piece
from llmcli.protocol.sse import SSEDecoder, TooLarge
from llmcli.redaction import Scrubber, redact, scrub_json

if TYPE_CHECKING:
    from llmcli.http.request import Request
    from llmcli.http.session import Session

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between Chat Completions and Anthropic Messages."""

    name: str
    assembler: Callable[[bool, str], Any]
    add: Callable[[Any, str, Any], list[Piece]]  # (assembly, event name, data)
    check: Callable[[Any, str], JSON]  # a whole reply, or the error it carries
    pieces: Callable[[Mapping[str, Any]], Iterator[Piece]]  # of a whole reply
    tools: Callable[[Mapping[str, Any]], list[JSON]]  # tool calls of a reply, as JSON lines
    event_line: Callable[[str, Any], Any]  # what -o jsonl prints for one stream event
    terminator: str  # what a finished stream ends with, for the error of one that did not


def _chat_add(assembly: ChatStream, name: str, chunk: Any) -> list[Piece]:
    if name == "error" and isinstance(chunk, dict) and not chunk.get("error"):
        chunk = {"error": chunk}
    return assembly.add(chunk)


CHAT = Dialect(
    name="chat",
    assembler=lambda keep, where: ChatStream(keep_text=keep, where=where),
    add=_chat_add,
    check=openai.check_completion,
    pieces=openai.iter_pieces,
    tools=openai.tool_calls,
    event_line=lambda name, data: data,
    terminator="no [DONE] and no finish_reason",
)
MESSAGES = Dialect(
    name="messages",
    assembler=lambda keep, where: MessageStream(keep_text=keep, where=where),
    add=lambda assembly, name, data: assembly.add(name, data),
    check=anthropic.check_message,
    pieces=anthropic.iter_pieces,
    tools=anthropic.tool_uses,
    event_line=lambda name, data: {"event": name, "data": data},
    terminator="no message_stop",
)


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
                if self._texts is not None and (held := self._texts.close()):
                    yield Read(b"", [], held)
                raise
            except TooLarge as e:
                raise ProtocolError(
                    f"stream from {self.where} has {e} ({request.method} {request.url})"
                ) from None
            decoder.close()  # an event without its blank line is discarded (WHATWG 9.2.6)
        if self._texts is not None and (held := self._texts.close()):
            yield Read(b"", [], held)
        if not (self._done or assembly.finished):
            raise ProtocolError(
                f"stream from {self.where} ended before it finished ({dialect.terminator}) "
                f"({request.method} {request.url})"
            )
        reply = assembly.result()
        self.reply = reply if self._texts is None else scrub_json(reply, request.secrets)

    def _scrubbed(self, pieces: list[Piece]) -> list[Piece]:
        return pieces if self._texts is None or not pieces else self._texts.feed(pieces)

    def _event(
        self, assembly: Any, name: str, data: str, lines: list[Any], pieces: list[Piece]
    ) -> None:
        if self._done or not data or data.isspace():  # empty data: a proxy's keep-alive
            return
        self._events += 1
        if data == openai.DONE:
            if self._events == 1:
                raise ProtocolError(
                    f"stream from {self.where} ended ([DONE]) before any reply arrived"
                )
            self._done = True
            return
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

    def close(self) -> list[Piece]:
        held = [(key, scrubber.close()) for key, scrubber in self._streams.items()]
        return [Piece(kind, choice, text.decode()) for (kind, choice), text in held if text]
