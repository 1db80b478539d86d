"""Everything llmcli reads: stdin, files, prompts, JSON and JSONL.

The user message is built from piped stdin (never a terminal), each ``-f`` file, then the
PROMPT words, joined by a blank line (DESIGN.md, "Input"). Bad JSON is reported as
``path:line:col: message`` (exit 65) before anything is sent; a file that cannot be
read is exit 66.

Every input is read with a bound (DESIGN.md, "Limits"): at most ``MAX_INPUT`` bytes plus
one, so ``-f /dev/zero`` or an endless pipe costs 64 MiB and an exit 65, never all memory;
a regular file's size is checked before a byte of it is read.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from llmcli.errors import DataError, InputFileError, UsageError
from llmcli.protocol import message_shapes

STDIN = "-"
MAX_INPUT = 64 * 1024 * 1024
AN_INPUT = "an input"


def too_large(name: str, limit: int, what: str, size: int | None = None) -> DataError:
    """``name: more than the 64 MiB an input may be`` (with the size, when it is known)."""
    amount = f"{size:,} bytes is more" if size is not None else "more"
    return DataError(f"{name}: {amount} than the {limit // 2**20} MiB {what} may be")


@dataclass(slots=True)
class Stdin:
    """Standard input, read at most once, and only when it is not a terminal."""

    stream: BinaryIO | None
    is_tty: bool
    _data: bytes | None = field(default=None, init=False)

    @classmethod
    def from_process(cls, *, ignore: bool = False) -> Stdin:
        if ignore:
            return cls(None, True)
        try:
            is_tty = os.isatty(0)
        except OSError:
            return cls(None, True)
        stream = sys.stdin.buffer if sys.stdin is not None else None
        return cls(stream, is_tty or stream is None)

    @property
    def piped(self) -> bool:
        return not self.is_tty

    def lines(self) -> Iterator[bytes]:
        """Stdin line by line as it arrives (for inputs too large to hold)."""
        if self.is_tty or self.stream is None:
            raise UsageError("stdin is a terminal: pipe data in, or give TEXT arguments")
        yield from _bounded_lines(self.stream)

    def read(self, limit: int = MAX_INPUT, what: str = AN_INPUT) -> bytes:
        """All of stdin, read once; more than ``limit`` (at most ``MAX_INPUT``) bytes is a
        ``DataError``, found after reading ``MAX_INPUT + 1`` bytes, not the whole stream."""
        if self.is_tty or self.stream is None:
            raise UsageError("stdin is a terminal: pipe data in, or give PROMPT words")
        if self._data is None:
            self._data = self.stream.read(MAX_INPUT + 1)
        if len(self._data) > limit:
            known = len(self._data) if len(self._data) <= MAX_INPUT else None
            raise too_large("<stdin>", limit, what, known)
        return self._data


def read_bytes(path: str, stdin: Stdin, limit: int = MAX_INPUT, what: str = AN_INPUT) -> bytes:
    """The bytes of ``path`` (``-`` is stdin); more than ``limit`` is a ``DataError``."""
    if path == STDIN:
        return stdin.read(limit, what)
    with open_file(path) as f:
        return read_from(f, path, limit, what)


def read_from(f: BinaryIO, name: str, limit: int, what: str = AN_INPUT) -> bytes:
    """All of an open file, up to ``limit`` bytes: a regular file's size is checked before
    it is read, and a device, a pipe or a growing file is read no further than the limit."""
    info = os.fstat(f.fileno())
    if stat.S_ISREG(info.st_mode) and info.st_size > limit:
        raise too_large(name, limit, what, info.st_size)
    try:
        data = f.read(limit + 1)
    except OSError as e:
        raise InputFileError(f"{name}: {e.strerror or e}") from None
    if len(data) > limit:
        raise too_large(name, limit, what)
    return data


def open_file(path: str) -> BinaryIO:
    """``path`` opened for reading; failing that, an ``InputFileError`` (exit 66)."""
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory") from None
    except OSError as e:
        raise InputFileError(f"{path}: {e.strerror or e}") from None


def _decode(data: bytes, name: str) -> str:
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(f"{name}:{line}:{col}: not valid UTF-8") from None


def read_text(path: str, stdin: Stdin) -> str:
    return _decode(read_bytes(path, stdin), _display(path))


def _display(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def compose_prompt(
    words: Sequence[str], files: Sequence[str], stdin: Stdin, *, implicit_stdin: bool = True
) -> str | None:
    """Piped stdin, then each file, then the words, separated by a blank line.

    Trailing line ends of each part are dropped so that ``echo hi | llmcli chat`` sends
    ``hi``. Returns None when there is no input at all. ``implicit_stdin`` is False when
    stdin is named explicitly elsewhere (``-f -``, ``--messages -``, ``--body -``).
    """
    parts: list[str] = []
    if implicit_stdin and stdin.piped and STDIN not in files:
        text = _decode(stdin.read(), "<stdin>")
        if text.strip():
            parts.append(text)
    parts.extend(read_text(path, stdin) for path in files)
    if words:
        parts.append(" ".join(words))
    parts = [p.rstrip("\r\n") for p in parts if p.strip()]
    return "\n\n".join(parts) if parts else None


def parse_json(data: bytes | str, name: str) -> Any:
    """Parse one JSON document; errors name ``name:line:col``."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise DataError(f"{name}:{e.lineno}:{e.colno}: {e.msg}") from None


def load_json(path: str, stdin: Stdin) -> Any:
    name = _display(path)
    return parse_json(_decode(read_bytes(path, stdin), name), name)


def _lines(text: str) -> list[str]:
    """Lines end at LF (CRLF too), never at U+2028 and kin, which JSON strings may hold."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def parse_jsonl(text: str, name: str) -> list[Any]:
    """One JSON value per non-blank line; errors name the line in the file."""
    values: list[Any] = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            values.append(orjson.loads(line))
        except orjson.JSONDecodeError as e:
            raise DataError(f"{name}:{number}:{e.colno}: {e.msg}") from None
    return values


def load_messages(path: str, stdin: Stdin, api: message_shapes.Api = "any") -> list[dict[str, Any]]:
    """A conversation: a JSON array of message objects, or JSONL with one per line, each
    in a shape ``api`` takes (``llmcli.protocol.message_shapes``). A bad one is named by its place:
    ``file:line`` in JSONL, ``file:line:col`` of its start in an array."""
    name = _display(path)
    text = _decode(read_bytes(path, stdin), name)
    if text.lstrip().startswith("["):
        values = parse_json(text, name)
        if not isinstance(values, list):
            raise DataError(f"{name}: expected a JSON array of messages")
        return _checked(values, lambda i: f"{name}:{_position(text, _item_start(text, i))}", api)
    values = parse_jsonl(text, name)
    numbers = [n for n, line in enumerate(_lines(text), start=1) if line.strip()]
    return _checked(values, lambda i: f"{name}:{numbers[i]}", api)


def check_messages(
    values: Any, where: str, api: message_shapes.Api = "any"
) -> list[dict[str, Any]]:
    """A list of messages in a shape ``api`` takes; ``where: message N`` names a bad one."""
    if not isinstance(values, list):
        raise DataError(f"{where}: expected a list of messages")
    return _checked(values, lambda i: f"{where}: message {i + 1}", api)


def _checked(
    values: list[Any], place: Callable[[int], str], api: message_shapes.Api
) -> list[dict[str, Any]]:
    for index, value in enumerate(values):
        if (problem := message_shapes.problem(value, api)) is not None:
            raise DataError(f"{place(index)}: {problem}")
    return values


#: a JSON string (skipped whole, so brackets and commas in it do not count), or structure
_JSON_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{},]')


def _item_start(text: str, index: int) -> int:
    """Where item ``index`` of the JSON array ``text`` (already parsed) starts."""
    at, depth, item = text.index("[") + 1, 0, 0
    if index > 0:
        for token in _JSON_TOKEN.finditer(text, at):
            mark = token.group()[0]
            depth += (mark in "[{") - (mark in "]}")
            if mark == "," and depth == 0 and (item := item + 1) == index:
                at = token.end()
                break
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _position(text: str, offset: int) -> str:
    """``line:col`` of ``offset``, both from 1, counted in characters as orjson does."""
    line_start = text.rfind("\n", 0, offset) + 1
    line = text.count("\n", 0, line_start) + 1
    return f"{line}:{offset - line_start + 1}"


#: -p keys that would overwrite what llmcli builds, and the flag that sets each
RESERVED_PARAMS = {
    "messages": "messages come from the prompt, -s and -f: give a conversation with "
    "--messages FILE",
    "model": "set the model with -m/--model",
    "stream": "the command decides streaming: use `llmcli stream` or `llmcli messages --stream`",
}


def parse_param(item: str) -> tuple[list[str], Any]:
    """``-p KEY=VALUE``: the value is JSON when it parses, else a string; dots nest keys."""
    key, sep, raw = item.partition("=")
    if not sep or not key or any(not k for k in key.split(".")):
        raise UsageError(f"-p {item!r}: expected KEY=VALUE (KEY may be dotted: a.b=1)")
    path = key.split(".")
    if path[0] in RESERVED_PARAMS:
        raise UsageError(f"-p {item!r}: {RESERVED_PARAMS[path[0]]}")
    try:
        value: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    return path, value


def set_path(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Set ``target[a][b]… = value``, creating objects on the way."""
    node = target
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def parse_header(item: str) -> tuple[str, str]:
    from llmcli.http.request import header_problem
    from llmcli.redaction import is_credential_header

    name, sep, value = item.partition(":")
    # a credential's value is never shown, not even in the error about it
    shown = repr(f"{name}: ***" if sep and is_credential_header(name) else item)
    if "\r" in item or "\n" in item:
        raise UsageError(f"-H {shown}: a header cannot contain a line break")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise UsageError(f"-H {shown}: expected 'Name: value'")
    name, value = name.strip(), value.strip()
    if problem := header_problem(name, value):
        raise UsageError(f"-H {shown}: {problem}")
    return name, value


def iter_lines(paths: Sequence[str], stdin: Stdin) -> Iterator[tuple[str, int, str]]:
    """``(name, line number, text)`` for every line of the files, read lazily.

    Lines end at LF (a CRLF's CR is dropped); memory holds one line at a time, and a line
    may be as long as a whole input (``MAX_INPUT``).
    """
    for path in paths:
        name = _display(path)
        for number, raw in enumerate(_raw_lines(path, stdin), start=1):
            line = raw.removesuffix(b"\n").removesuffix(b"\r")
            if len(line) > MAX_INPUT:
                raise too_large(f"{name}:{number}", MAX_INPUT, "a line")
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{name}:{number}:{e.start + 1}: not valid UTF-8") from None
            yield name, number, text


def _raw_lines(path: str, stdin: Stdin) -> Iterator[bytes]:
    if path == STDIN:
        yield from stdin.lines()
        return
    with open_file(path) as f:
        yield from _bounded_lines(f)


def _bounded_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines of at most ``MAX_INPUT`` bytes and their CRLF: a longer one comes in pieces,
    the first of which is all its caller needs to see to refuse it."""
    while line := stream.readline(MAX_INPUT + 2):
        yield line


def json_object(text: str, name: str, number: int) -> dict[str, Any]:
    """One JSONL line that must be an object; errors name ``name:line:col``."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise DataError(f"{name}:{number}:{e.colno}: {e.msg}") from None
    if not isinstance(value, dict):
        raise DataError(f"{name}:{number}:1: expected a JSON object")
    return value
