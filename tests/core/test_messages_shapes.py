from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scaling import assert_linear

from llmcli import mock as offline
from llmcli.errors import (
    DataError,
    LlmcliError,
    NotAllowedError,
    ProtocolError,
    TemporaryError,
    UnavailableError,
)
from llmcli.protocol.messages.shapes import (
    ANTHROPIC_VERSION,
    DEFAULT_MAX_TOKENS,
    apply_options,
    build_messages,
    check_message,
    from_openai,
    iter_pieces,
    split_system,
    stream_error,
    tool,
    tool_choice,
    tool_uses,
)
from llmcli.protocol.messages.stream import MessageStream
from llmcli.protocol.pieces import Piece
from llmcli.protocol.sse import SSEDecoder

JSON = dict[str, Any]
Event = tuple[str, JSON]
SIG = "EqQBCkgIBRABGAIiQMockSig=="
Draw = Callable[[st.SearchStrategy[Any]], Any]

# request building


def test_constants() -> None:
    assert DEFAULT_MAX_TOKENS == 4096
    assert ANTHROPIC_VERSION == "2023-06-01"


def test_build_messages_appends_prompt_without_touching_history() -> None:
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert build_messages(history, "next") == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "next"},
    ]
    assert len(history) == 2
    assert build_messages(history, None) == history
    assert build_messages([], "hi") == [{"role": "user", "content": "hi"}]


def test_from_openai_converts_tool_calls_results_and_attachments() -> None:
    pdf = "data:application/pdf;base64,JVBERi0="
    history: list[JSON] = [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
                {"type": "file", "file": {"filename": "a.pdf", "file_data": pdf}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "reasoning": "dropped",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{bad"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": None},
        {"role": "assistant", "content": "Done.", "reasoning": "dropped"},
    ]
    before = copy.deepcopy(history)
    assert from_openai(history) == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
                {
                    "type": "document",
                    "source": {
                        "type": "base64",
                        "media_type": "application/pdf",
                        "data": "JVBERi0=",
                    },
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
                {"type": "tool_use", "id": "c2", "name": "g", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "one"},
                {"type": "tool_result", "tool_use_id": "c2", "content": ""},
            ],
        },
        {"role": "assistant", "content": "Done."},
    ]
    assert history == before


def test_from_openai_survives_odd_but_readable_shapes() -> None:
    history: list[JSON] = [
        {
            "role": "user",
            "content": ["junk", {"type": "image_url", "image_url": "https://x/i.png"}],
        },
        {"role": "tool", "tool_call_id": "c0", "content": "r"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "listed"}],
            "tool_calls": [
                {"id": "c1", "function": "f"},
                {"id": "c2", "function": {"name": "g", "arguments": {"already": "parsed"}}},
                {"id": "c3", "function": {"name": "h", "arguments": 5}},
            ],
        },
        {"role": "user", "content": [{"type": "file", "file": None}]},
    ]
    assert from_openai(history) == [
        {
            "role": "user",
            "content": [
                "junk",
                {"type": "image", "source": {"type": "url", "url": "https://x/i.png"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c0", "content": "r"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "listed"},
                {"type": "tool_use", "id": "c1", "name": None, "input": {}},
                {"type": "tool_use", "id": "c2", "name": "g", "input": {"already": "parsed"}},
                {"type": "tool_use", "id": "c3", "name": "h", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": ""}}]},
    ]


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([{"role": "user", "content": "q"}, "oops"], "message 2: a message must be a JSON object"),
        ([None], "message 1: a message must be a JSON object"),
        ([["role", "user"]], "message 1: a message must be a JSON object"),
        (
            [{"role": "user", "content": {"text": "q"}}],
            'message 1: "content" must be a string or a list',
        ),
        ([{"role": "tool", "content": 5}], 'message 1: "content" must be a string or a list'),
        (
            [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": {"id": "c"}}],
            'message 2: "tool_calls" must be a list of JSON objects',
        ),
        (
            [{"role": "assistant", "content": None, "tool_calls": ["c1"]}],
            'message 1: "tool_calls" must be a list of JSON objects',
        ),
    ],
)
def test_from_openai_bad_messages_are_data_errors(history: list[Any], message: str) -> None:
    with pytest.raises(DataError) as info:
        from_openai(history)
    assert type(info.value) is DataError
    assert info.value.exit_code == 65
    assert info.value.message == message


def test_split_system_none() -> None:
    history = [{"role": "user", "content": "q"}]
    assert split_system(history) == (None, [{"role": "user", "content": "q"}])
    assert split_system([]) == (None, [])


def test_split_system_lifts_every_system_and_developer_string() -> None:
    history = [
        {"role": "system", "content": "one"},
        {"role": "user", "content": "q"},
        {"role": "developer", "content": "two"},
        {"role": "assistant", "content": "a"},
    ]
    before = copy.deepcopy(history)
    assert split_system(history) == (
        "one\n\ntwo",
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
    )
    assert history == before


def test_split_system_list_content_gives_text_blocks() -> None:
    cached = {"type": "text", "text": "big", "cache_control": {"type": "ephemeral"}}
    history: list[JSON] = [
        {"role": "system", "content": "plain"},
        {"role": "system", "content": [cached]},
        {"role": "user", "content": "q"},
    ]
    system, rest = split_system(history)
    assert system == [
        {"type": "text", "text": "plain"},
        {"type": "text", "text": "big", "cache_control": {"type": "ephemeral"}},
    ]
    assert rest == [{"role": "user", "content": "q"}]
    assert isinstance(system, list)
    system[1]["cache_control"]["type"] = "changed"
    assert cached["cache_control"] == {"type": "ephemeral"}


def test_apply_options_plain_and_none_means_not_given() -> None:
    body: JSON = {"model": "m"}
    apply_options(
        body,
        {
            "max_tokens": 100,
            "temperature": 0.5,
            "top_p": 0.9,
            "top_k": 40,
            "stop": None,
            "tools": None,
            "tool_choice": None,
            "thinking_budget": None,
            "metadata": None,
            "system": None,
        },
    )
    assert body == {"model": "m", "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "top_k": 40}


def test_apply_options_sets_no_default_max_tokens() -> None:
    body: JSON = {}
    apply_options(body, {})
    assert body == {}


def test_apply_options_stop_becomes_stop_sequences() -> None:
    body: JSON = {}
    apply_options(body, {"stop": ["END", "\n\n"]})
    assert body == {"stop_sequences": ["END", "\n\n"]}
    body = {}
    apply_options(body, {"stop": ("one",)})
    assert body == {"stop_sequences": ["one"]}
    body = {}
    apply_options(body, {"stop": "alone"})
    assert body == {"stop_sequences": ["alone"]}
    body = {}
    apply_options(body, {"stop": []})
    assert body == {}


def test_apply_options_thinking_budget() -> None:
    body: JSON = {}
    apply_options(body, {"thinking_budget": 2048})
    assert body == {"thinking": {"type": "enabled", "budget_tokens": 2048}}


def test_apply_options_metadata_and_system() -> None:
    metadata = {"user_id": "u-1"}
    body: JSON = {"system": "old"}
    apply_options(body, {"metadata": metadata, "system": "new"})
    assert body == {"system": "new", "metadata": {"user_id": "u-1"}}
    body["metadata"]["user_id"] = "changed"
    assert metadata == {"user_id": "u-1"}


OPENAI_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather at a place",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}
ANTHROPIC_TOOL = {
    "name": "get_time",
    "description": "Time in a zone",
    "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}},
}
WEB_SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}


def test_tool_converts_openai_shape() -> None:
    assert tool(OPENAI_TOOL) == {
        "name": "get_weather",
        "description": "Weather at a place",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
    }
    bare = {"type": "function", "function": {"name": "noop"}}
    assert tool(bare) == {"name": "noop", "input_schema": {"type": "object"}}


def test_apply_options_tools_both_shapes_without_mutation() -> None:
    options = {"tools": [OPENAI_TOOL, ANTHROPIC_TOOL, WEB_SEARCH_TOOL]}
    before = copy.deepcopy(options)
    body: JSON = {}
    apply_options(body, options)
    assert body == {
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather at a place",
                "input_schema": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                },
            },
            ANTHROPIC_TOOL,
            WEB_SEARCH_TOOL,
        ]
    }
    body["tools"][0]["input_schema"]["properties"].clear()
    body["tools"][1]["input_schema"]["properties"].clear()
    body["tools"][2]["max_uses"] = 9
    assert options == before


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("any", {"type": "any"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice_words(word: str, expected: JSON) -> None:
    assert tool_choice(word) == expected
    body: JSON = {}
    apply_options(body, {"tool_choice": word})
    assert body == {"tool_choice": expected}


def test_tool_choice_dicts() -> None:
    given_ = {"type": "tool", "name": "x", "disable_parallel_tool_use": True}
    body: JSON = {}
    apply_options(body, {"tool_choice": given_})
    assert body == {"tool_choice": {"type": "tool", "name": "x", "disable_parallel_tool_use": True}}
    body["tool_choice"]["name"] = "changed"
    assert given_["name"] == "x"
    openai_shape = {"type": "function", "function": {"name": "get_weather"}}
    assert tool_choice(openai_shape) == {"type": "tool", "name": "get_weather"}


# replies and errors

MESSAGE: JSON = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {"type": "thinking", "thinking": "let me see", "signature": SIG},
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "text", "text": "It is sunny."},
        {"type": "text", "text": ""},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"q": 1}},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 20},
}


def test_check_message_returns_the_body() -> None:
    assert check_message(MESSAGE, "gw") is MESSAGE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "gw: expected a JSON object, got list"),
        ("text", "gw: expected a JSON object, got str"),
        (
            {"type": "completion", "content": []},
            "gw: reply is not a \"message\" (type 'completion')",
        ),
        ({"content": []}, 'gw: reply is not a "message" (type None)'),
        ({"type": "message"}, 'gw: reply has no "content" list'),
        ({"type": "message", "content": "hi"}, 'gw: reply has no "content" list'),
    ],
)
def test_check_message_protocol_errors(body: Any, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        check_message(body, "gw")
    assert str(info.value) == message
    assert info.value.exit_code == 76


ERROR_TYPES = [
    ("invalid_request_error", DataError, 65),
    ("not_found_error", DataError, 65),
    ("request_too_large", DataError, 65),
    ("authentication_error", NotAllowedError, 77),
    ("permission_error", NotAllowedError, 77),
    ("billing_error", NotAllowedError, 77),
    ("rate_limit_error", TemporaryError, 75),
    ("api_error", UnavailableError, 69),
    ("overloaded_error", UnavailableError, 69),
    ("timeout_error", UnavailableError, 69),
]


@pytest.mark.parametrize(("kind", "cls", "code"), ERROR_TYPES)
def test_stream_error_types(kind: str, cls: type[LlmcliError], code: int) -> None:
    error = stream_error({"type": kind, "message": "went wrong"}, "anthropic")
    assert type(error) is cls
    assert error.exit_code == code
    assert str(error) == f"error from anthropic: went wrong [{kind}]"


@pytest.mark.parametrize(("kind", "cls", "code"), ERROR_TYPES)
def test_check_message_error_body(kind: str, cls: type[LlmcliError], code: int) -> None:
    body = {"type": "error", "error": {"type": kind, "message": "nope"}, "request_id": "r1"}
    with pytest.raises(cls) as info:
        check_message(body, "gw")
    assert info.value.exit_code == code
    assert str(info.value) == f"error from gw: nope [{kind}]"


def test_check_message_error_without_type_field() -> None:
    with pytest.raises(NotAllowedError) as info:
        check_message({"error": {"type": "authentication_error", "message": "bad key"}}, "gw")
    assert str(info.value) == "error from gw: bad key [authentication_error]"


def test_stream_error_without_message_and_other_shapes() -> None:
    error = stream_error({"type": "overloaded_error"}, "gw")
    assert type(error) is UnavailableError
    assert str(error) == "error from gw: overloaded_error [overloaded_error]"
    # not an Anthropic type: read the OpenAI way
    other = stream_error({"message": "slow down", "code": 429}, "gw")
    assert type(other) is TemporaryError
    assert str(other) == "error from gw: slow down [429]"
    assert type(stream_error("boom", "gw")) is UnavailableError


def test_iter_pieces_in_block_order() -> None:
    assert list(iter_pieces(MESSAGE)) == [
        Piece("reasoning", 0, "let me see"),
        Piece("content", 0, "It is sunny."),
    ]
    assert list(iter_pieces({"content": None})) == []


def test_tool_uses_are_only_the_calls_for_the_client() -> None:
    """The server ran ``server_tool_use`` and ``mcp_tool_use`` itself: text mode must not
    print them as calls to make (they stay in ``-o json``)."""
    mcp = {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "f", "server_name": "s", "input": {}}
    message = {**MESSAGE, "content": [*MESSAGE["content"], mcp]}
    assert tool_uses(message) == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"q": 1}},
    ]
    assert tool_uses({"content": []}) == []
    assert tool_uses({"content": "tool_use"}) == []


# stream assembly: hand-written event sequences as the API sends them


def ev(kind: str, **fields: Any) -> Event:
    return kind, {"type": kind, **fields}


def start(**usage: Any) -> Event:
    message: JSON = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 25, "output_tokens": 1},
    }
    return ev("message_start", message=message)


def finish(stop_reason: str = "end_turn", output_tokens: int = 15) -> list[Event]:
    return [
        ev(
            "message_delta",
            delta={"stop_reason": stop_reason, "stop_sequence": None},
            usage={"output_tokens": output_tokens},
        ),
        ev("message_stop"),
    ]


def delta(index: int, kind: str, **fields: Any) -> Event:
    return ev("content_block_delta", index=index, delta={"type": kind, **fields})


def expected(content: list[JSON], stop_reason: str = "end_turn") -> JSON:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 15},
    }


def assemble(events: list[Event], **kwargs: Any) -> tuple[MessageStream, list[Piece]]:
    stream = MessageStream(**kwargs)
    pieces: list[Piece] = []
    for name, data in events:
        pieces.extend(stream.add(name, data))
    return stream, pieces


TEXT_EVENTS = [
    start(),
    ev("content_block_start", index=0, content_block={"type": "text", "text": ""}),
    ev("ping"),
    delta(0, "text_delta", text="Hello"),
    delta(0, "text_delta", text=", wor"),
    delta(0, "text_delta", text="ld!"),
    ev("content_block_stop", index=0),
    *finish(),
]


def test_text_stream() -> None:
    stream, pieces = assemble(TEXT_EVENTS)
    assert stream.result() == expected([{"type": "text", "text": "Hello, world!"}])
    assert pieces == [
        Piece("content", 0, "Hello"),
        Piece("content", 0, ", wor"),
        Piece("content", 0, "ld!"),
    ]
    assert stream.finished


def test_thinking_with_signature_then_text() -> None:
    events = [
        start(),
        ev(
            "content_block_start",
            index=0,
            content_block={"type": "thinking", "thinking": "", "signature": ""},
        ),
        delta(0, "thinking_delta", thinking="Let me "),
        delta(0, "thinking_delta", thinking="think."),
        delta(0, "signature_delta", signature=SIG),
        ev("content_block_stop", index=0),
        ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        delta(1, "text_delta", text="Done."),
        ev("content_block_stop", index=1),
        *finish(),
    ]
    stream, pieces = assemble(events)
    assert stream.result() == expected(
        [
            {"type": "thinking", "thinking": "Let me think.", "signature": SIG},
            {"type": "text", "text": "Done."},
        ]
    )
    assert pieces == [
        Piece("reasoning", 0, "Let me "),
        Piece("reasoning", 0, "think."),
        Piece("content", 0, "Done."),
    ]


def test_signature_without_key_in_start_is_added() -> None:
    events = [
        start(),
        ev("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        delta(0, "thinking_delta", thinking="hm"),
        delta(0, "signature_delta", signature="ab"),
        delta(0, "signature_delta", signature="cd"),
        ev("content_block_stop", index=0),
        *finish(),
    ]
    result = assemble(events)[0].result()
    assert result["content"] == [{"type": "thinking", "thinking": "hm", "signature": "abcd"}]


def tool_start(index: int, tool_id: str, name: str, kind: str = "tool_use") -> Event:
    block = {"type": kind, "id": tool_id, "name": name, "input": {}}
    return ev("content_block_start", index=index, content_block=block)


def test_two_tool_uses_with_fragments_split_mid_token() -> None:
    events = [
        start(),
        ev("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        delta(0, "text_delta", text="Checking."),
        ev("content_block_stop", index=0),
        tool_start(1, "toolu_a", "get_weather"),
        delta(1, "input_json_delta", partial_json=""),
        delta(1, "input_json_delta", partial_json='{"loca'),
        delta(1, "input_json_delta", partial_json='tion": "San Fr'),
        delta(1, "input_json_delta", partial_json='ancisco", "days": 1'),
        delta(1, "input_json_delta", partial_json='2, "unit": nu'),
        delta(1, "input_json_delta", partial_json="ll}"),
        ev("content_block_stop", index=1),
        tool_start(2, "toolu_b", "get_time"),
        delta(2, "input_json_delta", partial_json=""),
        ev("content_block_stop", index=2),
        *finish("tool_use"),
    ]
    stream, pieces = assemble(events)
    result = stream.result()
    assert result == expected(
        [
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "id": "toolu_a",
                "name": "get_weather",
                "input": {"location": "San Francisco", "days": 12, "unit": None},
            },
            {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}},
        ],
        "tool_use",
    )
    assert pieces == [Piece("content", 0, "Checking.")]
    assert tool_uses(result) == result["content"][1:]


def test_tool_use_without_any_delta_keeps_start_input() -> None:
    events = [start(), tool_start(0, "t", "noop"), ev("content_block_stop", index=0), *finish()]
    assert assemble(events)[0].result()["content"] == [
        {"type": "tool_use", "id": "t", "name": "noop", "input": {}}
    ]


def test_redacted_thinking_and_server_tool_blocks() -> None:
    result_block = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": [{"type": "web_search_result", "url": "https://example.com", "title": "Ex"}],
    }
    events = [
        start(),
        ev(
            "content_block_start",
            index=0,
            content_block={"type": "redacted_thinking", "data": "EmwKAhgBEgy3va=="},
        ),
        ev("content_block_stop", index=0),
        tool_start(1, "srvtoolu_1", "web_search", "server_tool_use"),
        delta(1, "input_json_delta", partial_json='{"query": "wea'),
        delta(1, "input_json_delta", partial_json='ther"}'),
        ev("content_block_stop", index=1),
        ev("content_block_start", index=2, content_block=result_block),
        ev("content_block_stop", index=2),
        *finish(),
    ]
    stream, pieces = assemble(events)
    assert stream.result() == expected(
        [
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va=="},
            {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "web_search",
                "input": {"query": "weather"},
            },
            result_block,
        ]
    )
    assert pieces == []


def test_citations_delta_appends() -> None:
    c1 = {"type": "char_location", "cited_text": "a", "document_index": 0}
    c2 = {"type": "char_location", "cited_text": "b", "document_index": 0}
    events = [
        start(),
        ev("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        delta(0, "citations_delta", citation=c1),
        delta(0, "text_delta", text="cited"),
        delta(0, "citations_delta", citation=c2),
        ev("content_block_stop", index=0),
        *finish(),
    ]
    assert assemble(events)[0].result()["content"] == [
        {"type": "text", "text": "cited", "citations": [c1, c2]}
    ]


def test_unknown_delta_type_is_kept_generically() -> None:
    events = [
        start(),
        ev("content_block_start", index=0, content_block={"type": "future", "note": ""}),
        delta(0, "future_delta", note="ab", count=1),
        delta(0, "future_delta", note="cd", count=2, extra=None),
        ev("content_block_stop", index=0),
        *finish(),
    ]
    assert assemble(events)[0].result()["content"] == [
        {"type": "future", "note": "abcd", "count": 2}
    ]


def test_block_order_by_index_not_arrival() -> None:
    events = [
        start(),
        ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        ev("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        delta(1, "text_delta", text="second"),
        delta(0, "text_delta", text="first"),
        ev("content_block_stop", index=0),
        ev("content_block_stop", index=1),
        *finish(),
    ]
    assert assemble(events)[0].result()["content"] == [
        {"type": "text", "text": "first"},
        {"type": "text", "text": "second"},
    ]


def test_usage_merge_input_from_start_output_from_delta() -> None:
    events = [
        start(
            input_tokens=472,
            cache_creation_input_tokens=0,
            cache_read_input_tokens=10,
            output_tokens=2,
        ),
        ev(
            "message_delta",
            delta={"stop_reason": "max_tokens", "stop_sequence": None},
            usage={"output_tokens": 89, "input_tokens": None, "server_tool_use": {"n": 1}},
        ),
        ev("message_stop"),
    ]
    result = assemble(events)[0].result()
    assert result["usage"] == {
        "input_tokens": 472,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 10,
        "output_tokens": 89,
        "server_tool_use": {"n": 1},
    }
    assert result["stop_reason"] == "max_tokens"


def test_later_message_delta_usage_wins() -> None:
    events = [
        start(input_tokens=5, output_tokens=1),
        ev("message_delta", delta={"stop_reason": None}, usage={"output_tokens": 10}),
        ev("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 30}),
        ev("message_stop"),
    ]
    result = assemble(events)[0].result()
    assert result["usage"] == {"input_tokens": 5, "output_tokens": 30}
    assert result["stop_reason"] == "end_turn"


def test_stop_sequence_from_message_delta() -> None:
    events = [
        start(),
        *TEXT_EVENTS[1:-2],
        ev(
            "message_delta",
            delta={"stop_reason": "stop_sequence", "stop_sequence": "END"},
            usage={"output_tokens": 15},
        ),
        ev("message_stop"),
    ]
    result = assemble(events)[0].result()
    assert (result["stop_reason"], result["stop_sequence"]) == ("stop_sequence", "END")


def test_finished_only_after_message_stop() -> None:
    stream = MessageStream()
    for name, data in TEXT_EVENTS[:-1]:
        stream.add(name, data)
        assert not stream.finished
    assert stream.result()["stop_reason"] == "end_turn"
    stream.add(*TEXT_EVENTS[-1])
    assert stream.finished


def test_events_without_event_line_go_by_data_type() -> None:
    stream, pieces = assemble([("message", data) for _, data in TEXT_EVENTS])
    assert stream.result() == expected([{"type": "text", "text": "Hello, world!"}])
    assert len(pieces) == 3
    assert stream.finished


def test_ping_and_unknown_events_are_ignored() -> None:
    stream = MessageStream()
    assert stream.add("ping", {"type": "ping"}) == []
    assert stream.add("something_new", {"type": "something_new", "x": 1}) == []
    assert stream.add("something_new", "not even an object") == []
    assert stream.add("message", {"type": "future_event"}) == []
    assert stream.result() == {"type": "message", "role": "assistant", "content": []}


@pytest.mark.parametrize(("kind", "cls", "code"), ERROR_TYPES)
def test_error_event_raises(kind: str, cls: type[LlmcliError], code: int) -> None:
    stream = MessageStream(where="anthropic")
    stream.add(*TEXT_EVENTS[0])
    data = {"type": "error", "error": {"type": kind, "message": "Overloaded"}}
    with pytest.raises(cls) as info:
        stream.add("error", data)
    assert info.value.exit_code == code
    assert str(info.value) == f"error from anthropic: Overloaded [{kind}]"
    with pytest.raises(cls):
        MessageStream().add("message", data)


def test_invalid_partial_json_raises_protocol_error() -> None:
    events = [
        start(),
        tool_start(3, "t", "f"),
        delta(3, "input_json_delta", partial_json='{"a": '),
        delta(3, "input_json_delta", partial_json="}"),
    ]
    stream, _ = assemble(events)
    with pytest.raises(ProtocolError) as info:
        stream.add("content_block_stop", {"type": "content_block_stop", "index": 3})
    assert str(info.value).startswith("gateway: content block 3: tool input is not valid JSON: ")
    assert info.value.exit_code == 76


def test_cut_stream_result_keeps_raw_partial_input() -> None:
    events = [start(), tool_start(0, "t", "f"), delta(0, "input_json_delta", partial_json='{"a"')]
    stream, _ = assemble(events)
    assert stream.result()["content"] == [
        {"type": "tool_use", "id": "t", "name": "f", "input": '{"a"'}
    ]
    assert not stream.finished
    # result() does not consume anything: the stream goes on
    stream.add(*delta(0, "input_json_delta", partial_json=": 1}"))
    stream.add(*ev("content_block_stop", index=0))
    assert stream.result()["content"][0]["input"] == {"a": 1}


def test_event_data_not_an_object_raises() -> None:
    with pytest.raises(ProtocolError) as info:
        MessageStream().add("content_block_delta", [1, 2])
    assert str(info.value) == "gateway: content_block_delta event is not a JSON object: [1, 2]"


def test_bad_index_raises() -> None:
    stream = MessageStream()
    with pytest.raises(ProtocolError) as info:
        stream.add(*ev("content_block_start", index="0", content_block={"type": "text"}))
    assert str(info.value) == "gateway: content block index is not an integer: '0'"


def test_delta_without_block_start_is_assembled() -> None:
    events = [start(), delta(0, "text_delta", text="hi"), ev("content_block_stop", index=0)]
    assert assemble(events)[0].result()["content"] == [{"type": "text", "text": "hi"}]


def test_add_does_not_mutate_event_data() -> None:
    events = copy.deepcopy(TEXT_EVENTS)
    stream, _ = assemble(events)
    stream.result()
    assert events == TEXT_EVENTS
    assert events[1][1]["content_block"] == {"type": "text", "text": ""}


def test_keep_text_false_yields_every_piece_in_order() -> None:
    events = [
        start(),
        ev(
            "content_block_start",
            index=0,
            content_block={"type": "thinking", "thinking": "", "signature": ""},
        ),
        delta(0, "thinking_delta", thinking="a"),
        delta(0, "thinking_delta", thinking="b"),
        delta(0, "signature_delta", signature=SIG),
        ev("content_block_stop", index=0),
        ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        delta(1, "text_delta", text="c"),
        delta(1, "text_delta", text=""),
        delta(1, "text_delta", text="d"),
        ev("content_block_stop", index=1),
        tool_start(2, "t", "f"),
        delta(2, "input_json_delta", partial_json='{"x": '),
        delta(2, "input_json_delta", partial_json="[1]}"),
        ev("content_block_stop", index=2),
        *finish(),
    ]
    kept, kept_pieces = assemble(events)
    flat, flat_pieces = assemble(events, keep_text=False)
    assert (
        flat_pieces
        == kept_pieces
        == [
            Piece("reasoning", 0, "a"),
            Piece("reasoning", 0, "b"),
            Piece("content", 0, "c"),
            Piece("content", 0, "d"),
        ]
    )
    assert flat.result() == expected(
        [
            {"type": "thinking", "thinking": "", "signature": SIG},
            {"type": "text", "text": ""},
            {"type": "tool_use", "id": "t", "name": "f", "input": {"x": [1]}},
        ]
    )
    assert kept.result()["content"][:2] == [
        {"type": "thinking", "thinking": "ab", "signature": SIG},
        {"type": "text", "text": "cd"},
    ]


def test_long_stream_is_linear() -> None:
    """n and 8n deltas each of thinking, signature, text and tool input: 8n take about 8
    times as long, not 64 (as they would if each piece were added to a growing string)."""
    piece = "0123456789abcdef" * 16
    head = [
        start(),
        ev("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        tool_start(2, "t", "f"),
        delta(2, "input_json_delta", partial_json='{"s": "'),
    ]
    body = [
        delta(0, "thinking_delta", thinking=piece),
        delta(0, "signature_delta", signature=piece),
        delta(1, "text_delta", text=piece),
        delta(2, "input_json_delta", partial_json=piece),
    ]
    tail = [
        delta(2, "input_json_delta", partial_json='"}'),
        ev("content_block_stop", index=2),
        *finish(),
    ]

    def work_for(n: int) -> Callable[[], None]:
        events = head + body * n + tail

        def work() -> None:
            stream = MessageStream()
            for event in events:
                stream.add(*event)
            thinking, text, tool = stream.result()["content"]
            assert thinking["thinking"] == thinking["signature"] == text["text"] == piece * n
            assert tool["input"] == {"s": piece * n}

        return work

    assert_linear(work_for, 500)


# property: any message rendered as events assembles back into itself

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
texts = st.text(max_size=40)


@st.composite
def blocks(draw: st.DrawFn) -> JSON:
    kind = draw(st.sampled_from(["text", "thinking", "redacted_thinking", "tool_use"]))
    if kind == "text":
        return {"type": "text", "text": draw(texts)}
    if kind == "thinking":
        return {"type": "thinking", "thinking": draw(texts), "signature": draw(texts)}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": draw(texts)}
    tool_kind = draw(st.sampled_from(["tool_use", "server_tool_use"]))
    arguments = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
    return {"type": tool_kind, "id": draw(texts), "name": draw(texts), "input": arguments}


@st.composite
def messages(draw: st.DrawFn) -> JSON:
    return {
        "id": "msg_" + draw(st.text("0123456789abcdef", min_size=1, max_size=8)),
        "type": "message",
        "role": "assistant",
        "model": draw(texts),
        "content": draw(st.lists(blocks(), min_size=1, max_size=4)),
        "stop_reason": draw(st.sampled_from(["end_turn", "max_tokens", "tool_use"])),
        "stop_sequence": draw(st.none() | texts),
        "usage": {
            "input_tokens": draw(st.integers(0, 10**6)),
            "output_tokens": draw(st.integers(0, 10**6)),
        },
    }


def split(draw: Draw, text: str) -> list[str]:
    """``text`` cut at random points (maybe mid-token, mid-escape, mid-surrogate pair)."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=6)))
    bounds = [0, *[c for c in cuts if c < len(text)], len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


def render(draw: Draw, message: JSON) -> list[Event]:
    """The event sequence the API would stream for ``message``, with random pings."""
    head = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    head["usage"] = {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1}
    events: list[Event] = [ev("message_start", message=head)]

    def ping() -> None:
        if draw(st.booleans()):
            events.append(ev("ping"))

    for index, block in enumerate(message["content"]):
        kind = block["type"]
        opened: JSON
        deltas: list[tuple[str, str, str]]
        if kind == "text":
            opened = {"type": "text", "text": ""}
            deltas = [("text_delta", "text", t) for t in split(draw, block["text"])]
        elif kind == "thinking":
            opened = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [("thinking_delta", "thinking", t) for t in split(draw, block["thinking"])]
            deltas += [("signature_delta", "signature", t) for t in split(draw, block["signature"])]
        elif kind == "redacted_thinking":
            opened, deltas = dict(block), []
        else:
            opened = {**block, "input": {}}
            raw = json.dumps(block["input"], ensure_ascii=draw(st.booleans()))
            deltas = [("input_json_delta", "partial_json", t) for t in split(draw, raw)]
        events.append(ev("content_block_start", index=index, content_block=opened))
        ping()
        for kind_, field, piece in deltas:
            events.append(delta(index, kind_, **{field: piece}))
            ping()
        events.append(ev("content_block_stop", index=index))
    events.append(
        ev(
            "message_delta",
            delta={
                "stop_reason": message["stop_reason"],
                "stop_sequence": message["stop_sequence"],
            },
            usage={"output_tokens": message["usage"]["output_tokens"]},
        )
    )
    events.append(ev("message_stop"))
    return events


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_property_stream_assembles_the_message(data: st.DataObject) -> None:
    message = data.draw(messages())
    events = render(data.draw, message)
    named = data.draw(st.booleans())
    stream, pieces = assemble([(name if named else "message", d) for name, d in events])
    assert stream.finished
    assert stream.result() == message
    sent = [
        (d["delta"]["type"], d["delta"].get("text", d["delta"].get("thinking")))
        for _, d in events
        if d["type"] == "content_block_delta"
    ]
    assert pieces == [
        Piece("content" if kind == "text_delta" else "reasoning", 0, text)
        for kind, text in sent
        if kind in ("text_delta", "thinking_delta") and text
    ]
    for kind in ("content", "reasoning"):
        assert "".join(p.text for p in pieces if p.kind == kind) == "".join(
            p.text for p in iter_pieces(message) if p.kind == kind
        )
    flat, flat_pieces = assemble(events, keep_text=False)
    assert flat_pieces == pieces
    assert flat.finished
    assert tool_uses(flat.result()) == tool_uses(message)


# the offline gateway: the stream it sends assembles into the body it sends without stream

MODELS = ["echo", "think", "tools", "lorem", "unicode"]


@pytest.fixture(scope="module")
def messages_url() -> Iterator[str]:
    with offline.start() as running:
        yield running.url("messages")


def request(model: str, stream: bool) -> JSON:
    return {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi there"}],
        "stream": stream,
    }


def decode(chunks: Iterator[bytes]) -> tuple[MessageStream, list[Piece], list[str]]:
    decoder = SSEDecoder()
    stream = MessageStream(where="offline")
    pieces: list[Piece] = []
    names: list[str] = []
    for chunk in chunks:
        for event in decoder.feed(chunk):
            names.append(event.event)
            pieces.extend(stream.add(event.event, orjson.loads(event.data)))
    for event in decoder.close():
        names.append(event.event)
        pieces.extend(stream.add(event.event, orjson.loads(event.data)))
    return stream, pieces, names


@pytest.mark.parametrize("fault", [None, "slow=1:0"])
@pytest.mark.parametrize("model", MODELS)
def test_offline_gateway_stream_equals_body(
    messages_url: str, model: str, fault: str | None
) -> None:
    headers = {"X-Mock-Fault": fault} if fault else {}
    with httpx.Client(timeout=30) as client:
        whole = client.post(messages_url, json=request(model, False))
        assert whole.status_code == 200
        body = check_message(whole.json(), "offline")
        with client.stream("POST", messages_url, json=request(model, True), headers=headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            chunks = list(r.iter_raw())
    stream, pieces, names = decode(iter(chunks))
    raw = b"".join(chunks)
    assert stream.finished
    assert names[0] == "message_start"
    assert names[-1] == "message_stop"
    assert "ping" in names
    assert stream.result() == body
    assert "".join(p.text for p in pieces) == "".join(p.text for p in iter_pieces(body))
    assert [p.kind for p in iter_pieces(body)] == list(dict.fromkeys(p.kind for p in pieces))
    if fault:  # and every byte boundary, deterministically, whatever the network merged
        assert len(chunks) > 1
        split_up, split_pieces, _ = decode(iter([raw[i : i + 1] for i in range(len(raw))]))
        assert split_pieces == pieces
        assert split_up.result() == body


def test_offline_gateway_tools_model_has_two_tool_uses(messages_url: str) -> None:
    body = httpx.post(messages_url, json=request("tools", False), timeout=30).json()
    assert [b["name"] for b in tool_uses(body)] == ["get_weather", "get_time"]
    assert body["stop_reason"] == "tool_use"
