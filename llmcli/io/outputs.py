"""Writers for stdout (data only) and stderr (everything for humans).

``Output`` is the only writer of both streams. ``Writer`` and its kinds turn an
exchange's reads into one ``-o`` mode (text, json, jsonl, sse), chosen once per command.

stdout gets exactly the requested data, flushed after every network read so a pipe sees
text as it arrives. Reasoning, usage, retries, warnings and errors go to stderr, and
ANSI styling only when stderr is a terminal and ``NO_COLOR`` is unset
(https://no-color.org). rich is imported only for terminal tables.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import orjson

from llmcli.errors import LlmcliError

if TYPE_CHECKING:
    from llmcli.exchange import Exchange, Read
    from llmcli.protocol.dialect import Dialect

_DIM, _RED, _RESET = "\x1b[2m", "\x1b[31m", "\x1b[0m"
#: a server's words on stderr cannot drive the terminal nor forge a line of llmcli's own:
#: in a line, every control character (C0, DEL, C1: ESC and CSI among them) is shown as
#: ``\x1b``; in text of many lines (reasoning, a traceback) all but tab and newline
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROLS_IN_TEXT = {c: v for c, v in _CONTROLS.items() if c not in (0x09, 0x0A)}


@dataclass(slots=True)
class Terminal:
    """Which standard streams are terminals, computed once (like mods' isOutputTTY)."""

    stdout_tty: bool
    stderr_tty: bool
    color: bool  # ANSI styling on stderr
    stdout_color: bool = False  # ANSI styling on stdout (tables)

    @classmethod
    def detect(cls, env: Mapping[str, str] | None = None) -> Terminal:
        env = os.environ if env is None else env
        out = _isatty(sys.stdout)
        err = _isatty(sys.stderr)
        allowed = not env.get("NO_COLOR") and env.get("TERM") != "dumb"
        return cls(out, err, err and allowed, out and allowed)


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False


class Output:
    """stdout as bytes, stderr as lines; the only writer of both."""

    def __init__(
        self,
        terminal: Terminal,
        stdout: BinaryIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.terminal = terminal
        self.stdout = stdout if stdout is not None else sys.stdout.buffer
        self.stderr = stderr if stderr is not None else sys.stderr
        self._last = b"\n"  # last byte written to stdout
        self.written = 0  # bytes handed to stdout: none yet, nothing is out
        self._reasoning_open = False
        self.secrets: tuple[str, ...] = ()

    def keep_secret(self, *secrets: str) -> None:
        """Secrets that no line on stderr may show (DESIGN.md, "Limits")."""
        self.secrets = tuple(dict.fromkeys((*self.secrets, *secrets)))

    def _redact(self, text: str) -> str:
        """A line for stderr: every secret hidden, every control character escaped."""
        from llmcli.redaction import redact

        return redact(text, self.secrets).translate(_CONTROLS)

    # stdout -------------------------------------------------------------------------

    def data(self, chunk: bytes) -> None:
        """Raw bytes; they reach the reader at the next ``flush()``. Every byte: a
        buffered writer returns after a short write (a pipe whose reader left took part
        of it), and what it did not take is written again, which then fails (EPIPE:
        ``BrokenPipeError``, exit 141) or goes on."""
        if chunk:
            write_all(self.stdout, chunk)
            self._last = chunk[-1:]
            self.written += len(chunk)

    def flush(self) -> None:
        """Called after each network read, and when a command is done."""
        while True:
            try:
                self.stdout.flush()
                return
            except BlockingIOError:  # a non-blocking stdout that is full: wait, not fail
                _wait_writable(self.stdout)

    def text(self, text: str) -> None:
        self._close_reasoning()
        self.data(text.encode("utf-8"))

    def end_text(self) -> None:
        """Finish text output with a newline, as ``jq -r`` and ``echo`` do."""
        if self._last != b"\n":
            self.data(b"\n")

    def json(self, value: Any) -> None:
        self.data(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")

    def jsonl(self, value: Any) -> None:
        self.data(orjson.dumps(value) + b"\n")

    def table(
        self, headers: list[str], rows: list[list[str]], right: frozenset[int] = frozenset()
    ) -> None:
        """A table for people at a terminal; rich is imported only here."""
        from rich.console import Console
        from rich.table import Table

        self.flush()
        table = Table(
            box=None, pad_edge=False, header_style="" if not self.terminal.stdout_color else "bold"
        )
        for i, header in enumerate(headers):
            table.add_column(header, justify="right" if i in right else "left")
        for cells in rows:
            table.add_row(*cells)
        plain = not self.terminal.stdout_color
        Console(file=sys.stdout, color_system=None if plain else "auto", highlight=False).print(
            table
        )

    def progress(self, text: str | None) -> None:
        """A status line kept in place on a terminal's stderr; None clears it."""
        if not self.terminal.stderr_tty:
            return
        self.stderr.write("\r\x1b[K" + (text or ""))
        self.stderr.flush()

    @property
    def mid_line(self) -> bool:
        return self._last != b"\n"

    # stderr -------------------------------------------------------------------------

    def _style(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self.terminal.color else text

    def reasoning(self, text: str) -> None:
        """Reasoning streams to stderr as it arrives, dimmed on a terminal (where the
        model's words cannot drive it: controls escaped); to a file or pipe, as sent."""
        self._reasoning_open = True
        if self.terminal.stderr_tty:
            text = text.translate(_CONTROLS_IN_TEXT)
        self.stderr.write(self._style(text, _DIM))
        self.stderr.flush()

    def _close_reasoning(self) -> None:
        if self._reasoning_open:
            self._reasoning_open = False
            self.stderr.write("\n")
            self.stderr.flush()

    def help(self, text: str) -> None:
        """llmcli's own text of many lines (a command's usage), as it is."""
        self._close_reasoning()
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def note(self, line: str) -> None:
        """One line for humans on stderr (retries, verbose traces, warnings, usage)."""
        self._close_reasoning()
        self.stderr.write(self._redact(line) + "\n")
        self.stderr.flush()

    def error(self, message: str) -> None:
        self._close_reasoning()
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.stdout.flush()  # what arrived goes out before the error line
        self.new_line()
        self.stderr.write(self._style(f"llmcli: {self._redact(message)}", _RED) + "\n")
        self.stderr.flush()

    def new_line(self) -> None:
        """After half a line of text on a terminal, what follows on stderr (an error, the
        shell's prompt after ^C) starts on a line of its own."""
        if self.terminal.stdout_tty and self.mid_line and self.terminal.stderr_tty:
            self.stderr.write("\n")
            self.stderr.flush()
            self._last = b"\n"

    def traceback(self) -> None:
        """The current exception's traceback (``--debug``), every secret redacted."""
        import traceback

        from llmcli.redaction import redact

        text = redact(traceback.format_exc(), self.secrets).translate(_CONTROLS_IN_TEXT)
        self.stderr.write(text)
        self.stderr.flush()

    def usage_line(self, value: Any) -> None:
        self.note(orjson.dumps(value).decode())


def write_all(stream: BinaryIO, data: bytes) -> None:
    """``data`` written whole to ``stream``: a short write continued, a non-blocking
    stream that is full waited for (only EPIPE, a reader gone, ends the writing)."""
    view = memoryview(data)
    while view:
        try:
            n = stream.write(view)
        except BlockingIOError as e:
            n = e.characters_written
        if not n:  # None or 0: nothing taken now
            _wait_writable(stream)
            continue
        view = view[n:]


def _wait_writable(stream: BinaryIO) -> None:
    import select

    try:
        select.select([], [stream.fileno()], [])
    except (OSError, ValueError, io.UnsupportedOperation):
        raise BrokenPipeError(32, "the output takes no more bytes") from None


def silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# Writers: one per output mode, chosen once per command (as httpie picks its stream) ------


class Writer:
    """Consumes an exchange's reads for one ``-o`` mode. ``lines``: the exchange should
    make the -o jsonl line of each event; ``keep_text``: the reply must keep its text.
    With tools that run (``tools_run``), a reply that calls tools is a step, not the
    answer: ``text`` and ``json`` print the final reply only (``hold``: a whole reply's
    text waits for its end, to be known as final)."""

    lines = False
    keep_text = False

    def __init__(self, out: Output, dialect: Dialect, reasoning: bool = False) -> None:
        self.out = out
        self.dialect = dialect
        self.reasoning = reasoning
        self.tools_run = False
        self.hold = False

    def read(self, read: Read) -> None:
        """What one network read brought."""

    def done(self, reply: Mapping[str, Any]) -> None:
        """The reply is complete."""

    def failed(self, partial: Mapping[str, Any] | None) -> None:
        """The exchange failed; ``partial`` is what was assembled of the reply."""


class TextWriter(Writer):
    """The first choice's text as it arrives (reasoning on stderr with ``--reasoning``),
    a final newline, then each tool call as one JSON line: never silently dropped."""

    def __init__(self, out: Output, dialect: Dialect, reasoning: bool = False) -> None:
        super().__init__(out, dialect, reasoning)
        self.held: list[str] = []

    def read(self, read: Read) -> None:
        out = self.out
        for piece in read.pieces:
            if piece.choice != 0:
                continue
            if piece.kind == "content":
                if self.hold:
                    self.held.append(piece.text)
                else:
                    self.show(piece.text)
            elif self.reasoning:
                out.reasoning(piece.text)

    def show(self, text: str) -> None:
        """A piece of the reply's text, as it arrives."""
        self.out.text(text)

    def shown(self) -> None:
        """The reply's text is all there (or all there will be)."""

    def done(self, reply: Mapping[str, Any]) -> None:
        calls = self.dialect.tools(reply)
        held, self.held = self.held, []
        if self.tools_run and calls:  # a step: its calls run, its streamed words end a line
            self.shown()
            self.out.end_text()
            return
        for text in held:
            self.show(text)
        self.shown()
        self.out.end_text()
        for call in calls:
            self.out.jsonl(call)

    def failed(self, partial: Mapping[str, Any] | None) -> None:
        self.shown()  # what arrived is out


class MarkdownWriter(TextWriter):
    """The text writer at a terminal: the reply's text rendered as Markdown as it
    streams (``llmcli.io.markdown``; rich is imported only here)."""

    def __init__(self, out: Output, dialect: Dialect, reasoning: bool = False) -> None:
        import shutil

        from llmcli.io.markdown import MarkdownStream

        super().__init__(out, dialect, reasoning)
        size = shutil.get_terminal_size()
        self.markdown = MarkdownStream(size.columns, out.terminal.stdout_color, size.lines)

    def show(self, text: str) -> None:
        rendered = self.markdown.feed(text)
        if rendered:
            self.out.text(rendered)

    def shown(self) -> None:
        rendered = self.markdown.close()
        if rendered:
            self.out.text(rendered)


class JsonWriter(Writer):
    """The reply as one JSON document (a stream assembled); what arrived of a failed one."""

    keep_text = True

    def done(self, reply: Mapping[str, Any]) -> None:
        if not (self.tools_run and self.dialect.tools(reply)):
            self.out.json(reply)

    def failed(self, partial: Mapping[str, Any] | None) -> None:
        if partial is not None:
            self.out.json(partial)


class JsonlWriter(Writer):
    """One compact JSON line per stream event (the whole body for a whole reply)."""

    lines = True

    def read(self, read: Read) -> None:
        for line in read.lines:
            self.out.jsonl(line)


class SseWriter(Writer):
    """The bytes exactly as the server sent them."""

    def read(self, read: Read) -> None:
        self.out.data(read.raw)


def renders(flag: bool | None, out: Output, env: Mapping[str, str] | None = None) -> bool:
    """Whether the text is shown as rendered Markdown: only when stdout is a terminal
    (a pipe or a file gets the text as sent, whatever the flags); there, as --render /
    --no-render say, else as ``LLMCLI_RENDER`` (1 or 0) says, else yes."""
    if not out.terminal.stdout_tty:
        return False
    if flag is not None:
        return flag
    value = (os.environ if env is None else env).get("LLMCLI_RENDER", "").strip().lower()
    return value not in ("0", "false", "no", "off")


WRITERS: dict[str, type[Writer]] = {
    "text": TextWriter,
    "json": JsonWriter,
    "jsonl": JsonlWriter,
    "sse": SseWriter,
}


def write(exchange: Exchange, writer: Writer) -> dict[str, Any]:
    """Run the exchange through the writer, flushing stdout after every network read."""
    out = writer.out
    try:
        for read in exchange:
            writer.read(read)
            out.flush()
    except (LlmcliError, KeyboardInterrupt):
        writer.failed(exchange.partial())
        raise
    reply = exchange.reply
    assert reply is not None
    writer.done(reply)
    return reply
