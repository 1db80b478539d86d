"""Message shapes checked before sending: the pure checks directly, with hypothesis over
JSON shapes; where a bad message is named (file:line, file:line:col, --body's message N);
``-p`` keys that would overwrite what the flags build; and end to end, that nothing is sent.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import llmcli
from hypothesis import given
from hypothesis import strategies as st

from llmcli import mock as offline
from llmcli.cli.prompt import Prompt, gather
from llmcli.errors import DataError, UsageError
from llmcli.io.inputs import Stdin, check_messages, load_messages, parse_param
from llmcli.protocol.message_shapes import ANTHROPIC_BLOCKS, CHAT_PARTS, Api, problem
from llmcli.protocol.messages import shapes as messages_shapes

APIS: tuple[Api, ...] = ("chat", "messages", "any")
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
IMAGE_URL = {"type": "image_url", "image_url": {"url": "https://x/a.png"}}
FILE = {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A"}}
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
THINKING = {"type": "thinking", "thinking": "hmm", "signature": "sig"}
MAGISTRAL = {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}

# messages and the APIs that take them --------------------------------------------------------

GOOD: list[tuple[Any, set[str]]] = [
    ({"role": "user", "content": "hi"}, {"chat", "messages"}),
    ({"role": "user", "content": ""}, {"chat", "messages"}),
    ({"role": "system", "content": "be brief", "name": "x"}, {"chat", "messages"}),
    (
        {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
        {"chat", "messages"},
    ),
    (
        {"role": "user", "content": [{"type": "text", "text": "a", "cache_control": {}}]},
        {"chat", "messages"},
    ),
    ({"role": "user", "content": [IMAGE_URL, FILE]}, {"chat", "messages"}),
    (
        {"role": "user", "content": [{"type": "image_url", "image_url": "https://x"}]},
        {"chat", "messages"},
    ),
    ({"role": "user", "content": [AUDIO]}, {"chat"}),
    ({"role": "user", "content": [{"type": "video_url", "video_url": {"url": "v"}}]}, {"chat"}),
    ({"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}, {"chat"}),
    ({"role": "assistant", "content": None, "tool_calls": [CALL]}, {"chat", "messages"}),
    ({"role": "assistant", "tool_calls": [CALL]}, {"chat", "messages"}),
    ({"role": "assistant", "content": "ok", "tool_calls": []}, {"chat", "messages"}),
    (
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "g"}}],
        },
        {"chat"},
    ),
    ({"role": "assistant", "content": None, "refusal": "I can't"}, {"chat"}),
    ({"role": "assistant", "content": None, "audio": {"id": "audio_1"}}, {"chat"}),
    ({"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}, {"chat"}),
    ({"role": "assistant", "content": [MAGISTRAL, {"type": "text", "text": "a"}]}, {"chat"}),
    (
        {"role": "assistant", "content": "a", "reasoning": "r", "reasoning_details": [{}]},
        {"chat", "messages"},
    ),
    ({"role": "tool", "tool_call_id": "call_1", "content": "sunny"}, {"chat", "messages"}),
    ({"role": "tool", "tool_call_id": "call_1", "content": None}, {"messages"}),
    ({"role": "function", "name": "f", "content": None}, {"chat"}),
    ({"role": "function", "name": "f", "content": "42"}, {"chat"}),
    ({"role": "user", "content": [IMAGE, {"type": "text", "text": "what?"}]}, {"messages"}),
    ({"role": "user", "content": [{"type": "document", "source": {"type": "url"}}]}, {"messages"}),
    (
        {"role": "assistant", "content": [THINKING, {"type": "text", "text": "a"}, TOOL_USE]},
        {"messages"},
    ),
    ({"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]}, {"messages"}),
    ({"role": "user", "content": [TOOL_RESULT]}, {"messages"}),
    (
        {"role": "user", "content": [{**TOOL_RESULT, "content": [{"type": "text", "text": "a"}]}]},
        {"messages"},
    ),
    ({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}, {"messages"}),
    (
        {
            "role": "assistant",
            "content": [{"type": "server_tool_use", "id": "s", "name": "web_search"}],
        },
        {"messages"},
    ),
    ({"role": "user", "content": [{"type": "search_result", "source": "s"}]}, {"messages"}),
    ({"role": "user", "content": [{"type": "container_upload", "file_id": "f"}]}, {"messages"}),
]


@pytest.mark.parametrize(("message", "apis"), GOOD)
def test_each_api_takes_its_shapes_and_any_takes_both(message: Any, apis: set[str]) -> None:
    for api in ("chat", "messages"):
        assert (problem(message, api) is None) == (api in apis), api
    assert problem(message, "any") is None


BAD: list[tuple[Any, str]] = [
    (5, "a message must be a JSON object"),
    (["role", "user"], "a message must be a JSON object"),
    ({"content": "x"}, 'message has no "role"'),
    ({"role": None, "content": "x"}, 'message has no "role"'),
    (
        {"role": "bogus", "content": "x"},
        'role "bogus" is not one of system, developer, user, assistant, tool, function',
    ),
    (
        {"role": "User", "content": "x"},
        'role "User" is not one of system, developer, user, assistant, tool, function',
    ),
    (
        {"role": "user", "content": 5},
        "content must be a string or a list of content parts, not a number",
    ),
    (
        {"role": "user", "content": True},
        "content must be a string or a list of content parts, not a boolean",
    ),
    (
        {"role": "user", "content": {"text": "a"}},
        "content must be a string or a list of content parts, not an object",
    ),
    (
        {"role": "user", "content": None},
        "content must be a string or a list of content parts, not null",
    ),
    ({"role": "user"}, 'a user message has no "content"'),
    ({"role": "system"}, 'a system message has no "content"'),
    ({"role": "user", "content": ["a"]}, "content part 1 must be a JSON object, not a string"),
    ({"role": "user", "content": [{"text": "a"}]}, 'content part 1 has no "type"'),
    (
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "bogus"}]},
        'content part 2: unknown type "bogus"',
    ),
    (
        {"role": "user", "content": [{"type": "text"}]},
        'content part 1 (text): "text" must be a string, not null',
    ),
    (
        {"role": "user", "content": [{"type": "text", "text": 3}]},
        'content part 1 (text): "text" must be a string, not a number',
    ),
    (
        {"role": "user", "content": [{"type": "image_url", "image_url": {}}]},
        'content part 1 (image_url): "image_url" must be an object with a "url"',
    ),
    (
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "A"}}]},
        'content part 1 (input_audio): "input_audio" must be an object with "data" and "format"',
    ),
    (
        {"role": "user", "content": [{"type": "file", "file": "a.pdf"}]},
        'content part 1 (file): "file" must be an object, not a string',
    ),
    (
        {"role": "user", "content": [{"type": "image", "source": "x"}]},
        'content part 1 (image): "source" must be an object, not a string',
    ),
    (
        {"role": "assistant", "content": [{**TOOL_USE, "input": "{}"}]},
        'content part 1 (tool_use): "input" must be an object, not a string',
    ),
    (
        {"role": "assistant", "content": [{**TOOL_USE, "id": None}]},
        'content part 1 (tool_use): "id" must be a string, not null',
    ),
    (
        {"role": "user", "content": [{"type": "tool_result", "content": "x"}]},
        'content part 1 (tool_result): "tool_use_id" must be a string, not null',
    ),
    (
        {"role": "user", "content": [{**TOOL_RESULT, "content": 3}]},
        'content part 1 (tool_result): "content" must be a string or a list of blocks, '
        "not a number",
    ),
    (
        {"role": "assistant", "content": [{"type": "redacted_thinking"}]},
        'content part 1 (redacted_thinking): "data" must be a string, not null',
    ),
    (
        {"role": "assistant", "content": [{"type": "refusal", "refusal": None}]},
        'content part 1 (refusal): "refusal" must be a string, not null',
    ),
    ({"role": "assistant"}, 'an assistant message needs "content" or "tool_calls"'),
    (
        {"role": "assistant", "content": None},
        'an assistant message needs "content" or "tool_calls"',
    ),
    (
        {"role": "assistant", "content": None, "tool_calls": []},
        'an assistant message needs "content" or "tool_calls"',
    ),
    (
        {"role": "assistant", "content": 5},
        "content must be a string or a list of content parts, not a number",
    ),
    (
        {"role": "assistant", "tool_calls": {"id": "c"}},
        '"tool_calls" must be a list of tool calls, not an object',
    ),
    ({"role": "assistant", "tool_calls": ["c"]}, "tool call 1 must be a JSON object, not a string"),
    ({"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}, 'tool call 1 has no "id"'),
    (
        {"role": "assistant", "tool_calls": [CALL, {"id": "c", "function": {}}]},
        'tool call 2: "function" must be an object with a "name"',
    ),
    (
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": 1}}],
        },
        'tool call 1: "custom" must be an object with a "name"',
    ),
    (
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 1}}],
        },
        'tool call 1: "arguments" must be a JSON string, not a number',
    ),
    ({"role": "tool", "content": "sunny"}, 'a tool message needs "tool_call_id"'),
    (
        {"role": "tool", "tool_call_id": 7, "content": "sunny"},
        '"tool_call_id" must be a string, not a number',
    ),
    (
        {"role": "tool", "tool_call_id": "c", "content": 7},
        "content must be a string or a list of content parts, not a number",
    ),
    ({"role": "function", "content": "42"}, 'a function message needs "name"'),
    (
        {"role": "function", "name": "f", "content": [1]},
        "content must be a string or null, not a list",
    ),
]


@pytest.mark.parametrize(("message", "expected"), BAD)
def test_what_no_api_takes_is_named(message: Any, expected: str) -> None:
    assert problem(message, "any") == expected
    assert problem(message, "chat") is not None
    assert problem(message, "messages") is not None


@pytest.mark.parametrize(
    ("message", "api", "expected"),
    [
        (
            {"role": "user", "content": [TOOL_USE]},
            "chat",
            'content part 1: "tool_use" is not a type of the Chat Completions API',
        ),
        (
            {"role": "user", "content": [AUDIO]},
            "messages",
            'content part 1: "input_audio" is not a type of the Messages API',
        ),
        (
            {"role": "function", "name": "f", "content": "x"},
            "messages",
            'role "function" is not one of user, assistant, system, developer, tool',
        ),
        (
            {"role": "assistant", "content": None, "refusal": "no"},
            "messages",
            'an assistant message needs "content" or "tool_calls"',
        ),
        (
            {"role": "tool", "tool_call_id": "c", "content": None},
            "chat",
            "content must be a string or a list of content parts, not null",
        ),
        (
            {"role": "assistant", "content": [{"type": "thinking", "thinking": ["a"]}]},
            "messages",
            'content part 1 (thinking): "thinking" must be a string, not a list',
        ),
        (
            {"role": "bogus\n", "content": "x"},
            "chat",
            'role "bogus\\n" is not one of system, developer, user, assistant, tool, function',
        ),
        (
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {}}]},
            "messages",
            'tool call 1: "function" must be an object with a "name"',
        ),
    ],
)
def test_what_one_api_does_not_take(message: Any, api: Api, expected: str) -> None:
    assert problem(message, api) == expected


def test_every_type_listed_is_checked_by_its_api() -> None:
    for part_type in CHAT_PARTS:
        assert problem({"role": "user", "content": [{"type": part_type}]}, "chat") != (
            f'content part 1: "{part_type}" is not a type of the Chat Completions API'
        )
    for part_type in ANTHROPIC_BLOCKS:
        assert problem({"role": "user", "content": [{"type": part_type}]}, "messages") != (
            f'content part 1: "{part_type}" is not a type of the Messages API'
        )


# properties over JSON shapes -----------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "x"])
PART_TYPES = st.sampled_from(sorted({*CHAT_PARTS, *ANTHROPIC_BLOCKS, "bogus"}))
PARTS = st.fixed_dictionaries(
    {"type": PART_TYPES},
    optional={
        k: JSON_VALUES | st.text(max_size=3)
        for k in ("text", "image_url", "file", "source", "id", "name", "input", "tool_use_id")
    },
)
MESSAGES = st.fixed_dictionaries(
    {"role": ROLES},
    optional={
        "content": st.none() | st.text(max_size=5) | st.lists(PARTS | JSON_VALUES, max_size=3),
        "tool_calls": st.none() | st.lists(st.just(CALL) | JSON_VALUES, max_size=2) | JSON_VALUES,
        "tool_call_id": st.text(max_size=3) | JSON_VALUES,
        "name": st.text(max_size=3),
        "refusal": st.none() | st.text(max_size=3),
    },
)


@given(MESSAGES | JSON_VALUES)
def test_any_takes_what_either_takes_and_nothing_raises(message: Any) -> None:
    found = {api: problem(message, api) for api in APIS}
    assert all(p is None or (isinstance(p, str) and "\n" not in p) for p in found.values())
    if found["chat"] is None or found["messages"] is None:
        assert found["any"] is None


@given(st.lists(MESSAGES, max_size=4))
def test_what_the_messages_check_passes_converts(history: list[Any]) -> None:
    """anthropic.from_openai never refuses a history the messages check took."""
    if all(problem(m, "messages") is None for m in history):
        messages_shapes.from_openai(history)


# where a bad message is named ---------------------------------------------------------------


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_jsonl_names_the_line_of_the_message(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "conv.jsonl",
        b'{"role": "user", "content": "a"}\n\n{"role": "assistant", "content": "b"}\r\n'
        b'{"role": "user", "content": 5}\n',
    )
    with pytest.raises(DataError) as info:
        load_messages(path, Stdin(None, True))
    assert info.value.exit_code == 65
    assert info.value.message == (
        f"{path}:4: content must be a string or a list of content parts, not a number"
    )


def test_an_array_names_the_line_and_column_where_the_message_starts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "conv.json",
        '[{"role": "user", "content": "a, [b] {c} \\" ],"},\n'
        '  {"role": "assistant", "content": [{"type": "text", "text": "é,"}]}, \t\n'
        '\t {"role": "user", "content": [{"type": "bogus"}]}]'.encode(),
    )
    with pytest.raises(DataError) as info:
        load_messages(path, Stdin(None, True), "chat")
    assert info.value.message == (f'{path}:3:3: content part 1: unknown type "bogus"')


WHITESPACE = st.text(alphabet=" \t\r\n", max_size=3)
TEXTS = st.text(alphabet=st.sampled_from(list('ab,[]{}"\\\n é:')), max_size=8)


@given(st.lists(st.tuples(WHITESPACE, TEXTS), min_size=1, max_size=5), st.data())
def test_array_positions_are_where_the_bad_message_starts(
    items: list[tuple[str, str]], data: st.DataObject
) -> None:
    bad = data.draw(st.integers(0, len(items) - 1))
    text, starts = "[", []
    for index, (space, content) in enumerate(items):
        text += ("," if index else "") + space
        starts.append(text)
        message = {"role": "user", "content": content if index != bad else 5}
        text += orjson.dumps(message, option=orjson.OPT_INDENT_2 if index % 2 else 0).decode()
    text += "]"
    before = starts[bad]
    line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    with pytest.raises(DataError) as info:
        load_messages("-", Stdin(io.BytesIO(text.encode()), False))
    assert info.value.message.startswith(f"<stdin>:{line}:{col}: content must be")


def test_body_messages_are_named_by_number() -> None:
    with pytest.raises(DataError) as info:
        check_messages([{"role": "user", "content": "a"}, {"role": "bogus"}], "--body b.json")
    assert info.value.message == (
        '--body b.json: message 2: role "bogus" is not one of system, developer, user, '
        "assistant, tool, function"
    )


def test_gather_checks_the_history_for_the_commands_api(tmp_path: Path) -> None:
    history = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [IMAGE_URL, {"type": "text", "text": "what?"}]},
        {"role": "assistant", "content": [THINKING, TOOL_USE]},
        {"role": "user", "content": [TOOL_RESULT]},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    conv = write(tmp_path, "conv.jsonl", b"".join(orjson.dumps(m) + b"\n" for m in history))
    stdin = Stdin(None, True)
    assert gather(Prompt(messages=conv), stdin, api="messages").history == history
    with pytest.raises(DataError) as info:
        gather(Prompt(messages=conv), stdin, api="chat")
    assert info.value.message == (
        f'{conv}:3: content part 2: "tool_use" is not a type of the Chat Completions API'
    )
    body = write(
        tmp_path, "body.json", orjson.dumps({"messages": [{"role": "user", "content": [AUDIO]}]})
    )
    with pytest.raises(DataError) as info:
        gather(Prompt(body=body), stdin, api="messages")
    assert info.value.message == (
        f'--body {body}: message 1: content part 1: "input_audio" is not a type of the Messages API'
    )
    saved = write(tmp_path, "saved.jsonl", orjson.dumps({"role": "user", "content": [TOOL_RESULT]}))
    with pytest.raises(DataError) as info:
        gather(Prompt(continue_=saved), stdin, api="chat")
    assert info.value.message == (
        f'{saved}: message 1: content part 1: "tool_result" is not a type of the Chat '
        "Completions API"
    )


# -p keys that the flags build ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "hint"),
    [
        (
            "messages=5",
            "messages come from the prompt, -s and -f: give a conversation with --messages FILE",
        ),
        (
            "messages.0.content=x",
            "messages come from the prompt, -s and -f: give a conversation with --messages FILE",
        ),
        ("model=gpt-x", "set the model with -m/--model"),
        (
            "stream=false",
            "the command decides streaming: use `llmcli stream` or `llmcli messages --stream`",
        ),
    ],
)
def test_params_that_would_overwrite_what_the_flags_build(item: str, hint: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_param(item)
    assert info.value.exit_code == 2
    assert info.value.message == f"-p {item!r}: {hint}"
    assert parse_param("stream_options.include_usage=true") == (
        ["stream_options", "include_usage"],
        True,
    )
    assert parse_param("models=1") == (["models"], 1)


# end to end: nothing is sent ----------------------------------------------------------------


BAD_LINES = [
    (
        {"role": "user", "content": 5},
        "content must be a string or a list of content parts, not a number",
    ),
    (
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "img"}]},
        'content part 2: unknown type "img"',
    ),
    ({"role": "assistant"}, 'an assistant message needs "content" or "tool_calls"'),
]
ROLE = (
    {"role": "bogus", "content": "x"},
    'role "bogus" is not one of system, developer, user, assistant, tool, function',
)


@pytest.mark.parametrize(
    ("command", "line", "expected"),
    [
        *((c, *bad) for c in ("chat", "stream", "messages") for bad in BAD_LINES),
        ("chat", *ROLE),
        ("stream", *ROLE),
    ],
)
def test_a_bad_messages_file_is_named_and_nothing_is_sent(
    gw: offline.RunningGateway, tmp_path: Path, command: str, line: Any, expected: str
) -> None:
    conv = tmp_path / "conv.jsonl"
    conv.write_bytes(
        b'{"role": "user", "content": "a"}\n{"role": "assistant", "content": "b"}\n'
        + orjson.dumps(line)
        + b"\n"
    )
    r = llmcli(command, "--base-url", gw.base_url, "-m", "echo", "--messages", str(conv), "x")
    assert (r.code, r.out, r.err) == (65, b"", f"llmcli: {conv}:3: {expected}\n")
    assert gw.requests == []


def test_a_bad_continue_file_and_body_are_named_too(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    conv = tmp_path / "conv.jsonl"
    conv.write_bytes(b'{"role": "user", "content": "a"}\n\n{"role": "assistant", "content": 5}\n')
    r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", "-c", str(conv), "x")
    assert (r.code, r.out) == (65, b"")
    assert r.err == (
        f"llmcli: {conv}:3: content must be a string or a list of content parts, not a number\n"
    )
    body = tmp_path / "body.json"
    body.write_bytes(b'{"messages": [{"role": "user", "content": [{"type": "bogus"}]}]}')
    r = llmcli("messages", "--base-url", gw.base_url, "-m", "echo", "--body", str(body), "x")
    assert (r.code, r.out) == (65, b"")
    assert r.err == (f'llmcli: --body {body}: message 1: content part 1: unknown type "bogus"\n')
    assert gw.requests == []


@pytest.mark.parametrize(
    ("command", "item", "hint"),
    [
        (
            "chat",
            "messages=5",
            "messages come from the prompt, -s and -f: give a conversation with --messages FILE",
        ),
        (
            "messages",
            'messages=[{"role": "user", "content": "x"}]',
            "messages come from the prompt, -s and -f: give a conversation with --messages FILE",
        ),
        ("stream", "model=other", "set the model with -m/--model"),
        (
            "chat",
            "stream=true",
            "the command decides streaming: use `llmcli stream` or `llmcli messages --stream`",
        ),
    ],
)
def test_params_that_the_flags_build_are_usage_errors(
    gw: offline.RunningGateway, command: str, item: str, hint: str
) -> None:
    r = llmcli(command, "--base-url", gw.base_url, "-m", "echo", "-p", item, "x")
    assert (r.code, r.out, r.err) == (2, b"", f"llmcli: -p {item!r}: {hint}\n")
    assert gw.requests == []
