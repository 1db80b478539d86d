"""Everything llmcli reads: stdin, files, prompts, JSON and JSONL.

The user message is built from piped stdin (never a terminal), each ``-f`` file, then the
PROMPT words, joined by a blank line (DESIGN.md, "Input"). Bad JSON is reported as
``path:line:col: message`` (exit 65) before anything is sent; a file that cannot be
read is exit 66.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from llmcli.errors import DataError, InputFileError, UsageError

STDIN = "-"


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
        yield from self.stream

    def read(self) -> bytes:
        if self.is_tty or self.stream is None:
            raise UsageError("stdin is a terminal: pipe data in, or give PROMPT words")
        if self._data is None:
            self._data = self.stream.read()
        return self._data


def read_bytes(path: str, stdin: Stdin) -> bytes:
    """The bytes of ``path``; ``-`` is stdin."""
    if path == STDIN:
        return stdin.read()
    try:
        with open(path, "rb") as f:
            return f.read()
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


def load_messages(path: str, stdin: Stdin) -> list[dict[str, Any]]:
    """A conversation: a JSON array of message objects, or JSONL with one per line."""
    name = _display(path)
    text = _decode(read_bytes(path, stdin), name)
    if text.lstrip().startswith("["):
        values = parse_json(text, name)
        if not isinstance(values, list):
            raise DataError(f"{name}: expected a JSON array of messages")
        where = [f"{name}: message {i}" for i in range(1, len(values) + 1)]
    else:
        values = parse_jsonl(text, name)
        numbers = [n for n, line in enumerate(_lines(text), start=1) if line.strip()]
        where = [f"{name}:{n}:1" for n in numbers]
    return check_messages(values, where)


def check_messages(values: Any, where: Sequence[str] | str) -> list[dict[str, Any]]:
    """Each value must be a message object with a role; ``where`` names each (or all)."""
    if not isinstance(values, list):
        raise DataError(f"{where}: expected a list of messages")
    places = (
        [f"{where}: message {i}" for i in range(1, len(values) + 1)]
        if isinstance(where, str)
        else list(where)
    )
    for value, place in zip(values, places, strict=True):
        if not isinstance(value, dict):
            raise DataError(f"{place}: a message must be a JSON object")
        if not isinstance(value.get("role"), str):
            raise DataError(f'{place}: message has no "role"')
    return values


def parse_param(item: str) -> tuple[list[str], Any]:
    """``-p KEY=VALUE``: the value is JSON when it parses, else a string; dots nest keys."""
    key, sep, raw = item.partition("=")
    if not sep or not key or any(not k for k in key.split(".")):
        raise UsageError(f"-p {item!r}: expected KEY=VALUE (KEY may be dotted: a.b=1)")
    try:
        value: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = raw
    return key.split("."), value


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
    from llmcli.wire import header_problem

    if "\r" in item or "\n" in item:
        raise UsageError(f"-H {item!r}: a header cannot contain a line break")
    name, sep, value = item.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise UsageError(f"-H {item!r}: expected 'Name: value'")
    name, value = name.strip(), value.strip()
    if problem := header_problem(name, value):
        raise UsageError(f"-H {item!r}: {problem}")
    return name, value


def iter_lines(paths: Sequence[str], stdin: Stdin) -> Iterator[tuple[str, int, str]]:
    """``(name, line number, text)`` for every line of the files, read lazily.

    Lines end at LF (a CRLF's CR is dropped); memory holds one line at a time.
    """
    for path in paths:
        name = _display(path)
        for number, raw in enumerate(_raw_lines(path, stdin), start=1):
            line = raw.removesuffix(b"\n").removesuffix(b"\r")
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
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, while lines are yielded
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory") from None
    except OSError as e:
        raise InputFileError(f"{path}: {e.strerror or e}") from None
    with f:
        yield from f


def json_object(text: str, name: str, number: int) -> dict[str, Any]:
    """One JSONL line that must be an object; errors name ``name:line:col``."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise DataError(f"{name}:{number}:{e.colno}: {e.msg}") from None
    if not isinstance(value, dict):
        raise DataError(f"{name}:{number}:1: expected a JSON object")
    return value
