from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcli.errors import DataError, InputFileError, UsageError
from llmcli.io.inputs import (
    Stdin,
    compose_prompt,
    load_json,
    load_messages,
    parse_header,
    parse_json,
    parse_jsonl,
    parse_param,
    read_text,
    set_path,
)


class CountingStream(io.BytesIO):
    """A binary stream that counts how often it is read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)


def piped(data: bytes) -> Stdin:
    return Stdin(CountingStream(data), is_tty=False)


def terminal() -> Stdin:
    return Stdin(CountingStream(b"never read"), is_tty=True)


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


TTY_MESSAGE = "stdin is a terminal: pipe data in, or give PROMPT words"

# Stdin


def test_stdin_terminal_is_never_read() -> None:
    stdin = terminal()
    assert stdin.piped is False
    with pytest.raises(UsageError) as info:
        stdin.read()
    assert info.value.exit_code == 2
    assert info.value.message == TTY_MESSAGE
    assert stdin.stream is not None
    assert stdin.stream.reads == 0  # type: ignore[attr-defined]


def test_stdin_without_stream() -> None:
    with pytest.raises(UsageError) as info:
        Stdin(None, is_tty=False).read()
    assert info.value.exit_code == 2
    assert info.value.message == TTY_MESSAGE


def test_stdin_is_read_once() -> None:
    stdin = piped(b"data\n")
    assert stdin.piped is True
    assert stdin.read() == b"data\n"
    assert stdin.read() == b"data\n"
    assert stdin.stream.reads == 1  # type: ignore[union-attr]


# compose_prompt


def test_compose_words_only() -> None:
    assert compose_prompt(["hello", "world"], [], terminal()) == "hello world"


def test_compose_nothing_is_none() -> None:
    assert compose_prompt([], [], terminal()) is None
    assert compose_prompt([], [], piped(b"")) is None
    assert compose_prompt([], [], piped(b" \n\n")) is None


def test_compose_order_stdin_files_words(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", b"file a\n")
    b = write(tmp_path, "b.txt", b"file b\r\n\r\n")
    stdin = piped(b"from stdin\n")
    assert compose_prompt(["do", "it"], [a, b], stdin) == "from stdin\n\nfile a\n\nfile b\n\ndo it"


def test_compose_keeps_inner_and_leading_whitespace(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", b"  one\n\n  two  \n\n\n")
    assert compose_prompt([], [a], piped(b"\nx \n")) == "\nx \n\n  one\n\n  two  "


def test_compose_blank_stdin_is_ignored() -> None:
    assert compose_prompt(["hi"], [], piped(b"  \n")) == "hi"


def test_compose_stdin_not_read_when_named_elsewhere() -> None:
    stdin = piped(b"body json")
    assert compose_prompt(["hi"], [], stdin, implicit_stdin=False) == "hi"
    assert stdin.stream.reads == 0  # type: ignore[union-attr]


def test_compose_dash_file_reads_stdin_once(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", b"A\n")
    stdin = piped(b"S\n")
    assert compose_prompt(["w"], [a, "-"], stdin) == "A\n\nS\n\nw"
    assert stdin.stream.reads == 1  # type: ignore[union-attr]


def test_compose_dash_file_with_terminal_stdin() -> None:
    with pytest.raises(UsageError) as info:
        compose_prompt(["w"], ["-"], terminal())
    assert info.value.exit_code == 2
    assert info.value.message == TTY_MESSAGE


def test_compose_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.txt")
    with pytest.raises(InputFileError) as info:
        compose_prompt(["w"], [path], terminal())
    assert info.value.exit_code == 66
    assert info.value.message == f"{path}: No such file or directory"


def test_compose_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        compose_prompt([], [str(tmp_path)], terminal())
    assert info.value.exit_code == 66
    assert info.value.message == f"{tmp_path}: is a directory"


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"\xff", "1:1"),
        (b"ab\xffc", "1:3"),
        (b"ok\nline\n\tab\xfe", "3:4"),
        (b"one\r\ntwo \xc3(", "2:5"),
    ],
)
def test_compose_invalid_utf8_in_file(tmp_path: Path, data: bytes, where: str) -> None:
    path = write(tmp_path, "bad.txt", data)
    with pytest.raises(DataError) as info:
        compose_prompt([], [path], terminal())
    assert info.value.exit_code == 65
    assert info.value.message == f"{path}:{where}: not valid UTF-8"


def test_compose_invalid_utf8_on_stdin() -> None:
    with pytest.raises(DataError) as info:
        compose_prompt([], [], piped(b"hi\nx\x80"))
    assert info.value.exit_code == 65
    assert info.value.message == "<stdin>:2:2: not valid UTF-8"


def test_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.txt", b"\xef\xbb\xbfhi\n")
    assert compose_prompt([], [path], terminal()) == "hi"


def test_invalid_utf8_after_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.txt", b"\xef\xbb\xbfab\ncd\xff")
    with pytest.raises(DataError) as info:
        read_text(path, terminal())
    assert info.value.exit_code == 65
    assert info.value.message == f"{path}:2:3: not valid UTF-8"


# no U+FEFF: a leading one is a byte order mark, and dropped
texts = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\ufeff"), max_size=20
)


@given(
    stdin=st.none() | texts,
    files=st.lists(texts, max_size=3),
    words=st.lists(texts.filter(bool), max_size=3),
)
def test_compose_matches_the_rule(
    tmp_path_factory: pytest.TempPathFactory,
    stdin: str | None,
    files: list[str],
    words: list[str],
) -> None:
    folder = tmp_path_factory.mktemp("parts", numbered=True)
    paths = []
    for i, text in enumerate(files):
        paths.append(write(folder, f"f{i}", text.encode()))
    source = terminal() if stdin is None else piped(stdin.encode())
    parts = []
    if stdin is not None and stdin.strip():
        parts.append(stdin)
    parts.extend(files)
    if words:
        parts.append(" ".join(words))
    kept = [p.rstrip("\r\n") for p in parts if p.strip()]
    expected = "\n\n".join(kept) if kept else None
    assert compose_prompt(words, paths, source) == expected


# parse_json, load_json


def test_parse_json() -> None:
    assert parse_json(b'{"a": [1, 2.5, "x", null, true]}', "x.json") == {
        "a": [1, 2.5, "x", None, True]
    }
    assert parse_json("[]", "x.json") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('{"a": 1,\n "b" 2}', "body.json:2:6: unexpected character, expected ':' after key"),
        ("", "body.json:1:1: Input is a zero-length, empty document"),
        ("[1,", "body.json:1:4: unexpected end of data"),
        ('{"a":1}x', "body.json:1:8: unexpected content after document"),
        ('{"a":}', "body.json:1:6: unexpected character, expected a JSON value"),
    ],
)
def test_parse_json_errors(data: str, message: str) -> None:
    with pytest.raises(DataError) as info:
        parse_json(data, "body.json")
    assert info.value.exit_code == 65
    assert info.value.message == message


def test_load_json_file_and_stdin(tmp_path: Path) -> None:
    path = write(tmp_path, "body.json", b'\xef\xbb\xbf{"model": "m"}\n')
    assert load_json(path, terminal()) == {"model": "m"}
    assert load_json("-", piped(b'{"x": 1}')) == {"x": 1}


def test_load_json_errors_name_the_source(tmp_path: Path) -> None:
    path = write(tmp_path, "body.json", b'{\n  "model": "m",\n}')
    with pytest.raises(DataError) as info:
        load_json(path, terminal())
    assert info.value.exit_code == 65
    assert info.value.message == f"{path}:2:15: trailing comma is not allowed"
    with pytest.raises(DataError) as info:
        load_json("-", piped(b'{"a":}'))
    assert info.value.message == "<stdin>:1:6: unexpected character, expected a JSON value"
    with pytest.raises(InputFileError) as info2:
        load_json(str(tmp_path / "missing.json"), terminal())
    assert info2.value.exit_code == 66
    assert info2.value.message == f"{tmp_path / 'missing.json'}: No such file or directory"


# parse_jsonl


def test_parse_jsonl_skips_blank_lines() -> None:
    text = '{"a": 1}\n\n   \n{"b": 2}\r\n[3]\n'
    assert parse_jsonl(text, "x.jsonl") == [{"a": 1}, {"b": 2}, [3]]
    assert parse_jsonl("", "x.jsonl") == []


def test_parse_jsonl_error_names_the_file_line() -> None:
    with pytest.raises(DataError) as info:
        parse_jsonl('{"a": 1}\n\n{"b" 2}\n', "x.jsonl")
    assert info.value.exit_code == 65
    assert info.value.message == "x.jsonl:3:6: unexpected character, expected ':' after key"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_parse_jsonl_lines_end_only_at_line_feeds(separator: str) -> None:
    # JSON allows these characters unescaped inside strings; only \n ends a JSONL line.
    text = f'{{"role": "user", "content": "a{separator}b"}}\n{{"role": "assistant"}}\n'
    assert parse_jsonl(text, "x.jsonl") == [
        {"role": "user", "content": f"a{separator}b"},
        {"role": "assistant"},
    ]


# load_messages


def test_load_messages_jsonl(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.jsonl",
        b'{"role": "system", "content": "s"}\n\n{"role": "user", "content": "u"}\n',
    )
    assert load_messages(path, terminal()) == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
    ]


def test_load_messages_jsonl_syntax_error_line_3(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.jsonl",
        b'{"role": "system", "content": "s"}\n'
        b'{"role": "user", "content": "u"}\n'
        b'{"role": "assistant" "content": "a"}\n',
    )
    with pytest.raises(DataError) as info:
        load_messages(path, terminal())
    assert info.value.exit_code == 65
    assert info.value.message == f"{path}:3:22: unexpected character, expected ',' or '}}'"
    assert info.value.message.startswith(str(tmp_path / "bad.jsonl") + ":3:22: ")


def test_load_messages_json_array(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.json",
        b'\n  [\n {"role": "user", "content": "a"},\n {"role": "assistant", "content": "b"}\n]\n',
    )
    assert load_messages(path, terminal()) == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
    ]


def test_load_messages_from_stdin() -> None:
    assert load_messages("-", piped(b'{"role": "user", "content": "x"}\n')) == [
        {"role": "user", "content": "x"}
    ]


@pytest.mark.parametrize(
    ("name", "data", "suffix"),
    [
        (
            "m.json",
            b'[{"role": "user"},\n {"role" "x"}]',
            ":2:10: unexpected character, expected ':' after key",
        ),
        (
            "m.json",
            b'[{"role": "user", "content": "a"}, {"content": "b"}]',
            ':1:36: message has no "role"',
        ),
        (
            "m.json",
            b'[{"role": "user", "content": "a"},\n  3]',
            ":2:3: a message must be a JSON object",
        ),
        ("m.json", b'[{"role": 1}]', ':1:2: message has no "role"'),
        (
            "m.jsonl",
            b'{"role": "user", "content": "a"}\n\n{"content": "x"}\n',
            ':3: message has no "role"',
        ),
        ("m.jsonl", b'"just text"\n', ":1: a message must be a JSON object"),
        (
            "m.jsonl",
            b'{"role": "user", "content": "a"}\n[{"role": "user"}]\n',
            ":2: a message must be a JSON object",
        ),
    ],
)
def test_load_messages_errors(tmp_path: Path, name: str, data: bytes, suffix: str) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(DataError) as info:
        load_messages(path, terminal())
    assert info.value.exit_code == 65
    assert info.value.message == path + suffix


def test_load_messages_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "none.jsonl")
    with pytest.raises(InputFileError) as info:
        load_messages(path, terminal())
    assert info.value.exit_code == 66
    assert info.value.message == f"{path}: No such file or directory"


# parse_param, set_path


@pytest.mark.parametrize(
    ("item", "path", "value"),
    [
        ("temperature=0.5", ["temperature"], 0.5),
        ("n=1", ["n"], 1),
        ("flag=true", ["flag"], True),
        ("flag=false", ["flag"], False),
        ("x=null", ["x"], None),
        ("name=abc", ["name"], "abc"),
        ("name=hello world", ["name"], "hello world"),
        ('obj={"a":1}', ["obj"], {"a": 1}),
        ('stop=["a","b"]', ["stop"], ["a", "b"]),
        ('s="quoted"', ["s"], "quoted"),
        ("a.b.c=1", ["a", "b", "c"], 1),
        (
            "chat_template_kwargs.enable_thinking=true",
            ["chat_template_kwargs", "enable_thinking"],
            True,
        ),
        ("x=", ["x"], ""),
        ("x=a=b", ["x"], "a=b"),
        ("x=01", ["x"], "01"),
        ("x=NaN", ["x"], "NaN"),
        ("x={bad", ["x"], "{bad"),
    ],
)
def test_parse_param(item: str, path: list[str], value: Any) -> None:
    assert parse_param(item) == (path, value)


@pytest.mark.parametrize("item", ["novalue", "=1", "", "a..b=1", ".a=1", "a.=1", "."])
def test_parse_param_bad(item: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_param(item)
    assert info.value.exit_code == 2
    assert info.value.message == f"-p {item!r}: expected KEY=VALUE (KEY may be dotted: a.b=1)"


@pytest.mark.parametrize(
    ("target", "path", "value", "expected"),
    [
        ({}, ["a"], 1, {"a": 1}),
        ({}, ["a", "b", "c"], 1, {"a": {"b": {"c": 1}}}),
        ({"a": {"x": 1}}, ["a", "b"], 2, {"a": {"x": 1, "b": 2}}),
        ({"a": 5}, ["a", "b"], 2, {"a": {"b": 2}}),
        ({"a": {"b": 1}}, ["a"], 3, {"a": 3}),
        ({"m": "x"}, ["n"], None, {"m": "x", "n": None}),
    ],
)
def test_set_path(target: dict[str, Any], path: list[str], value: Any, expected: Any) -> None:
    set_path(target, path, value)
    assert target == expected


def test_param_into_body() -> None:
    body: dict[str, Any] = {"model": "m", "chat_template_kwargs": {"x": 1}}
    for item in ["chat_template_kwargs.enable_thinking=false", "top_k=40"]:
        set_path(body, *parse_param(item))
    assert body == {
        "model": "m",
        "chat_template_kwargs": {"x": 1, "enable_thinking": False},
        "top_k": 40,
    }


# parse_header


@pytest.mark.parametrize(
    ("item", "header"),
    [
        ("X-Foo: bar", ("X-Foo", "bar")),
        ("X-Foo:bar", ("X-Foo", "bar")),
        ("  X-Foo  :   bar baz  ", ("X-Foo", "bar baz")),
        ("Authorization: Bearer a:b", ("Authorization", "Bearer a:b")),
        ("X-Empty:", ("X-Empty", "")),
    ],
)
def test_parse_header(item: str, header: tuple[str, str]) -> None:
    assert parse_header(item) == header


@pytest.mark.parametrize("item", ["NoColon", ": v", "  : v", "Bad Name: v", ""])
def test_parse_header_bad(item: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_header(item)
    assert info.value.exit_code == 2
    assert info.value.message == f"-H {item!r}: expected 'Name: value'"


@pytest.mark.parametrize("item", ["X-Foo: a\r\nEvil: 1", "X-Foo: a\nb", "X-Foo: a\rb"])
def test_parse_header_rejects_line_breaks(item: str) -> None:
    # A line break in a value cannot be sent (httpx refuses it at send time, and llmcli
    # then retries it as a broken connection); it is bad input, named before sending.
    with pytest.raises(UsageError) as info:
        parse_header(item)
    assert info.value.exit_code == 2
    assert info.value.message.startswith(f"-H {item!r}: ")


def test_compose_skips_empty_and_blank_parts(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n")
    stdin = Stdin(io.BytesIO(b""), is_tty=False)
    assert compose_prompt(["hi"], [str(empty), str(blank)], stdin) == "hi"
