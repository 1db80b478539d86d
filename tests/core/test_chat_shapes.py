from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scaling import assert_linear

from llmcli.errors import (
    DataError,
    LlmcliError,
    NotAllowedError,
    ProtocolError,
    TemporaryError,
    UnavailableError,
)
from llmcli.protocol.chat.shapes import (
    Piece,
    apply_options,
    build_messages,
    check_completion,
    iter_pieces,
    message_text,
    reasoning_text,
    response_format,
    tool_calls,
    tool_choice,
)
from llmcli.protocol.chat.stream import ChatStream
from llmcli.protocol.error_objects import stream_error

JSON = dict[str, Any]

# build_messages


def test_build_messages_prompt_only() -> None:
    assert build_messages([], None, "hi") == [{"role": "user", "content": "hi"}]


def test_build_messages_system_and_prompt() -> None:
    assert build_messages([], "be brief", "hi") == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


@pytest.mark.parametrize("role", ["system", "developer"])
def test_build_messages_system_flag_replaces_leading_system(role: str) -> None:
    history = [
        {"role": role, "content": "old"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert build_messages(history, "new", "next") == [
        {"role": "system", "content": "new"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "next"},
    ]
    assert history[0] == {"role": role, "content": "old"}
    assert len(history) == 3


def test_build_messages_keeps_history_system_without_flag() -> None:
    history = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    assert build_messages(history, None, None) == history


def test_build_messages_system_not_first_is_kept() -> None:
    history = [{"role": "user", "content": "q"}, {"role": "system", "content": "mid"}]
    assert build_messages(history, "top", None) == [
        {"role": "system", "content": "top"},
        {"role": "user", "content": "q"},
        {"role": "system", "content": "mid"},
    ]


def test_build_messages_nothing() -> None:
    assert build_messages([], None, None) == []


# tool_choice, response_format


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice(value: str, expected: Any) -> None:
    assert tool_choice(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("json_object", {"type": "json_object"}),
        ("text", {"type": "text"}),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        ),
    ],
)
def test_response_format(value: Any, expected: Any) -> None:
    assert response_format(value) == expected


# apply_options


def apply(options: JSON, *, style: str = "openai", body: JSON | None = None) -> JSON:
    body = {"model": "m"} if body is None else body
    apply_options(body, options, reasoning_style=style)
    return body


def test_apply_options_none_and_empty_are_not_given() -> None:
    options = {
        "temperature": None,
        "stop": [],
        "tools": None,
        "logprobs": None,
        "reasoning_effort": None,
        "thinking": None,
    }
    assert apply(options) == {"model": "m"}


def test_apply_options_plain_fields() -> None:
    options = {
        "temperature": 0,
        "top_p": 0.9,
        "max_tokens": 10,
        "max_completion_tokens": 20,
        "seed": 7,
        "frequency_penalty": -0.5,
        "presence_penalty": 0.5,
        "user": "u1",
        "stream_options": {"include_usage": True},
        "chat_template_kwargs": {"k": 1},
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    assert apply(options) == {"model": "m", **options}


@pytest.mark.parametrize(
    ("stop", "expected"),
    [(["END"], "END"), (["a", "b"], ["a", "b"]), (("x",), "x")],
)
def test_apply_options_stop(stop: Any, expected: Any) -> None:
    assert apply({"stop": stop}) == {"model": "m", "stop": expected}


def test_apply_options_response_format_and_tool_choice() -> None:
    assert apply({"response_format": "json_object", "tool_choice": "lookup"}) == {
        "model": "m",
        "response_format": {"type": "json_object"},
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    }


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"logprobs": True}, {"logprobs": True}),
        ({"logprobs": False}, {}),
        ({"top_logprobs": 3}, {"top_logprobs": 3, "logprobs": True}),
        ({"top_logprobs": 0}, {"top_logprobs": 0, "logprobs": True}),
    ],
)
def test_apply_options_logprobs(options: JSON, expected: JSON) -> None:
    assert apply(options) == {"model": "m", **expected}


@pytest.mark.parametrize(("thinking", "flag"), [(True, True), (False, False)])
def test_apply_options_thinking(thinking: bool, flag: bool) -> None:
    assert apply({"thinking": thinking}) == {
        "model": "m",
        "chat_template_kwargs": {"enable_thinking": flag},
    }


def test_apply_options_thinking_merges_into_given_template_kwargs() -> None:
    assert apply({"chat_template_kwargs": {"a": 1}, "thinking": True}) == {
        "model": "m",
        "chat_template_kwargs": {"a": 1, "enable_thinking": True},
    }


def test_apply_options_does_not_mutate_options() -> None:
    kwargs = {"a": 1}
    options = {"chat_template_kwargs": kwargs, "thinking": False}
    apply(options)
    assert kwargs == {"a": 1}
    assert options == {"chat_template_kwargs": {"a": 1}, "thinking": False}


@pytest.mark.parametrize(
    ("style", "options", "expected"),
    [
        ("openai", {"reasoning_effort": "high"}, {"reasoning_effort": "high"}),
        ("openrouter", {"reasoning_effort": "low"}, {"reasoning": {"effort": "low"}}),
        ("openai", {"reasoning_budget": 8000}, {"reasoning": {"max_tokens": 8000}}),
        (
            "openrouter",
            {"reasoning_effort": "high", "reasoning_budget": 8000, "reasoning_exclude": True},
            {"reasoning": {"effort": "high", "max_tokens": 8000, "exclude": True}},
        ),
        (
            "openai",
            {"reasoning_effort": "medium", "reasoning_budget": 100},
            {"reasoning_effort": "medium", "reasoning": {"max_tokens": 100}},
        ),
        ("openai", {"reasoning_exclude": False}, {}),
    ],
)
def test_apply_options_reasoning(style: str, options: JSON, expected: JSON) -> None:
    assert apply(options, style=style) == {"model": "m", **expected}


def test_apply_options_overrides_body_fields() -> None:
    body = {"model": "m", "temperature": 1.0, "stop": ["x"], "reasoning": {"effort": "low"}}
    assert apply(
        {"temperature": 0.2, "stop": ["y"], "reasoning_budget": 5}, style="openrouter", body=body
    ) == {
        "model": "m",
        "temperature": 0.2,
        "stop": "y",
        "reasoning": {"effort": "low", "max_tokens": 5},
    }


# stream_error, check_completion


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (
            {"message": "Rate limit exceeded", "type": "rate_limit_error"},
            TemporaryError,
            "error from gw: Rate limit exceeded [rate_limit_error]",
        ),
        (
            {"message": "upstream failed", "type": "server_error", "code": "server_error"},
            UnavailableError,
            "error from gw: upstream failed [server_error]",
        ),
        (
            {"message": "bad param", "type": "invalid_request_error", "code": "bad_param"},
            DataError,
            "error from gw: bad param [invalid_request_error, bad_param]",
        ),
        (
            {
                "message": "Invalid API key",
                "type": "authentication_error",
                "code": "invalid_api_key",
            },
            NotAllowedError,
            "error from gw: Invalid API key [authentication_error, invalid_api_key]",
        ),
        (
            {"message": "no access", "type": "permission_error"},
            NotAllowedError,
            "error from gw: no access [permission_error]",
        ),
        (
            {"message": "no such model", "type": "not_found_error"},
            DataError,
            "error from gw: no such model [not_found_error]",
        ),
        (
            {"message": "Overloaded", "type": "overloaded_error"},
            UnavailableError,
            "error from gw: Overloaded [overloaded_error]",
        ),
        ({"type": "rate_limit_error"}, TemporaryError, "error from gw: rate_limit_error"),
        ({}, UnavailableError, "error from gw: error"),
        ("rate limited, slow down", TemporaryError, "error from gw: rate limited, slow down"),
        ("boom", UnavailableError, "error from gw: boom"),
    ],
)
def test_stream_error(error: Any, kind: type[LlmcliError], message: str) -> None:
    e = stream_error(error, "gw")
    assert type(e) is kind
    assert e.message == message
    assert str(e) == message


@pytest.mark.parametrize(
    ("code", "kind", "exit_code"),
    [
        (400, DataError, 65),
        (401, NotAllowedError, 77),
        (402, NotAllowedError, 77),
        (403, NotAllowedError, 77),
        (404, DataError, 65),
        (408, TemporaryError, 75),
        (413, DataError, 65),
        (422, DataError, 65),
        (429, TemporaryError, 75),
        (500, UnavailableError, 69),
        (502, UnavailableError, 69),
        (503, UnavailableError, 69),
    ],
)
def test_stream_error_numeric_code_follows_exit_code_table(
    code: int, kind: type[LlmcliError], exit_code: int
) -> None:
    # OpenRouter puts the HTTP status in "code" of an error sent inside a 200 response.
    e = stream_error({"message": "failed", "code": code}, "openrouter")
    assert type(e) is kind
    assert e.exit_code == exit_code
    assert e.message == f"error from openrouter: failed [{code}]"


def test_check_completion_returns_body() -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}]}
    assert check_completion(body, "gw") is body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "gw: expected a JSON object, got list"),
        ("text", "gw: expected a JSON object, got str"),
        (None, "gw: expected a JSON object, got NoneType"),
        ({"id": "x"}, 'gw: reply has no "choices"'),
        ({"choices": None}, 'gw: reply has no "choices"'),
        ({"choices": {}}, 'gw: reply has no "choices"'),
        ({"choices": [None]}, "gw: choice 0 is not a JSON object"),
        ({"choices": [{"index": 0, "message": {}}, "x"]}, "gw: choice 1 is not a JSON object"),
        ({"choices": [{"message": "hi"}]}, 'gw: choice 0: "message" is not a JSON object'),
        ({"choices": [{"message": ["hi"]}]}, 'gw: choice 0: "message" is not a JSON object'),
    ],
)
def test_check_completion_protocol_errors(body: Any, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        check_completion(body, "gw")
    assert info.value.exit_code == 76
    assert info.value.message == message


def test_check_completion_error_body() -> None:
    with pytest.raises(NotAllowedError) as info:
        check_completion({"error": {"message": "Insufficient balance", "code": 402}}, "lumyx")
    assert info.value.exit_code == 77
    assert info.value.message == "error from lumyx: Insufficient balance [402]"


def test_check_completion_error_with_choices_is_a_reply() -> None:
    body = {"error": {"message": "partial"}, "choices": [{"index": 0, "message": {}}]}
    assert check_completion(body, "gw") is body


def test_check_completion_choice_without_message_is_a_reply() -> None:
    body = {"choices": [{"index": 0, "message": None}, {"index": 1}]}
    assert check_completion(body, "gw") is body


# message_text, reasoning_text, iter_pieces, tool_calls


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"content": "hi"}, "hi"),
        ({"content": None}, ""),
        ({}, ""),
        (
            {
                "content": [
                    {"type": "text", "text": "a"},
                    {"type": "image_url", "image_url": {"url": "x"}},
                    "junk",
                    {"type": "text", "text": "b"},
                ]
            },
            "ab",
        ),
        (
            {
                "content": [
                    {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                    {"type": "text", "text": None},
                    {"type": "text", "text": 5},
                    {"type": "text", "text": "Hello"},
                ]
            },
            "Hello",
        ),
        ({"content": 5}, ""),
    ],
)
def test_message_text(message: JSON, text: str) -> None:
    assert message_text(message) == text


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"reasoning": "r", "reasoning_content": "rc"}, "r"),
        ({"reasoning": "", "reasoning_content": "rc"}, "rc"),
        ({"reasoning": None, "reasoning_details": [{"type": "reasoning.text", "text": "d"}]}, "d"),
        (
            {
                "reasoning_details": [
                    {"type": "reasoning.summary", "summary": "s1"},
                    {"type": "reasoning.encrypted", "data": "opaque"},
                    {"type": "reasoning.text", "text": "t2"},
                ]
            },
            "s1t2",
        ),
        ({"content": "x"}, ""),
        (
            {
                "content": [
                    {"type": "thinking", "thinking": [{"type": "text", "text": "Let me"}]},
                    {"type": "thinking", "thinking": " think."},
                    {"type": "text", "text": "Hello"},
                ]
            },
            "Let me think.",
        ),
        (
            {
                "content": [
                    {
                        "type": "thinking",
                        "thinking": [{"type": "text", "text": "a"}, "junk", {"text": "b"}],
                    },
                    {"type": "thinking", "thinking": None},
                ]
            },
            "ab",
        ),
        # the reasoning fields come first: the same text is not given twice
        ({"reasoning": "r", "content": [{"type": "thinking", "thinking": "r"}]}, "r"),
    ],
)
def test_reasoning_text(fields: JSON, text: str) -> None:
    assert reasoning_text(fields) == text


def test_iter_pieces_and_tool_calls_of_a_completion() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    completion = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "25 * 4 = 100",
                    "reasoning": "step by step",
                    "reasoning_content": "step by step",
                },
            },
            {"index": 1, "message": {"role": "assistant", "content": None, "tool_calls": [call]}},
        ]
    }
    assert list(iter_pieces(completion)) == [
        Piece("reasoning", 0, "step by step"),
        Piece("content", 0, "25 * 4 = 100"),
    ]
    assert tool_calls(completion) == [call]
    assert list(iter_pieces({})) == []
    assert tool_calls({"choices": None}) == []


def test_iter_pieces_of_a_magistral_completion() -> None:
    """Mistral Magistral answers whole with a list: thinking parts, then text parts."""
    message = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": "Let me think."}]},
            {"type": "text", "text": "Hello"},
        ],
    }
    completion = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    assert list(iter_pieces(check_completion(completion, "gw"))) == [
        Piece("reasoning", 0, "Let me think."),
        Piece("content", 0, "Hello"),
    ]


def test_iter_pieces_and_tool_calls_survive_odd_shapes() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    completion = {
        "choices": [
            {"index": None, "message": {"content": "a", "tool_calls": "nope"}},
            {"index": 1, "message": None},
            {"index": 2},
            {"index": "3", "message": {"content": [{"text": None}, {"text": "b"}]}},
            {"index": 4, "message": {"content": None, "tool_calls": [None, "x", call]}},
        ]
    }
    assert list(iter_pieces(check_completion(completion, "gw"))) == [
        Piece("content", 0, "a"),
        Piece("content", 3, "b"),
    ]
    assert tool_calls(completion) == [call]
    assert list(iter_pieces({"choices": [None, "x"]})) == []
    assert tool_calls({"choices": [None, {"message": "hi"}]}) == []
    assert tool_calls({"choices": {"message": {"tool_calls": [call]}}}) == []


# ChatStream: helpers


def chunk(*choices: JSON, **top: Any) -> JSON:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": list(choices),
        **top,
    }


def delta(index: int = 0, finish_reason: str | None = None, **fields: Any) -> JSON:
    return {"index": index, "delta": fields, "finish_reason": finish_reason}


def run(chunks: list[Any], keep_text: bool = True) -> tuple[ChatStream, list[Piece]]:
    stream = ChatStream(keep_text=keep_text, where="gw")
    pieces: list[Piece] = []
    for c in chunks:
        pieces.extend(stream.add(c))
    return stream, pieces


USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


# ChatStream: examples


def test_stream_simple_text() -> None:
    stream, pieces = run(
        [
            chunk(delta(role="assistant", content="")),
            chunk(delta(content="Hel")),
            chunk(delta(content="lo")),
            chunk(delta(finish_reason="stop")),
            chunk(usage=USAGE),
        ]
    )
    assert pieces == [Piece("content", 0, "Hel"), Piece("content", 0, "lo")]
    assert stream.finished
    assert stream.result() == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }


def test_stream_null_top_fields_do_not_hide_values() -> None:
    stream, _ = run(
        [
            chunk(delta(role="assistant", content="a"), usage=None, system_fingerprint="fp_1"),
            chunk(delta(finish_reason="stop"), usage=None, system_fingerprint=None),
            chunk(usage=USAGE),
            chunk(usage=None),
        ]
    )
    result = stream.result()
    assert result["usage"] == USAGE
    assert result["system_fingerprint"] == "fp_1"


def test_stream_content_null_then_text() -> None:
    stream, _ = run(
        [
            chunk(delta(role="assistant", content=None)),
            chunk(delta(content="x")),
            chunk(delta(finish_reason="stop")),
        ]
    )
    assert stream.result()["choices"][0]["message"] == {"role": "assistant", "content": "x"}


def test_stream_no_content_at_all_gives_null_content() -> None:
    stream, pieces = run([chunk(delta(role="assistant")), chunk(delta(finish_reason="length"))])
    assert pieces == []
    assert stream.result()["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "length"}
    ]


def test_stream_empty_content_with_tool_calls_becomes_null() -> None:
    stream, pieces = run(
        [
            chunk(delta(role="assistant", content="")),
            chunk(
                delta(
                    content="",
                    tool_calls=[
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ],
                )
            ),
            chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}])),
            chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}])),
            chunk(delta(finish_reason="tool_calls")),
        ]
    )
    assert pieces == []
    assert stream.result()["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ]


def test_stream_text_with_tool_calls_keeps_text() -> None:
    stream, _ = run(
        [
            chunk(delta(role="assistant", content="Let me check.")),
            chunk(
                delta(
                    tool_calls=[
                        {"index": 0, "id": "c", "type": "function", "function": {"name": "f"}}
                    ]
                )
            ),
            chunk(delta(finish_reason="tool_calls")),
        ]
    )
    assert stream.result()["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
    }


def test_stream_parallel_tool_calls_interleaved_out_of_order() -> None:
    stream, _ = run(
        [
            chunk(delta(role="assistant", content=None)),
            chunk(
                delta(
                    tool_calls=[
                        {
                            "index": 1,
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "g", "arguments": '{"y"'},
                        },
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        },
                    ]
                )
            ),
            chunk(
                delta(
                    tool_calls=[
                        {"index": 0, "function": {"arguments": '{"x": 1}'}},
                        {"index": 1, "function": {"arguments": ": 2}"}},
                    ]
                )
            ),
            chunk(delta(finish_reason="tool_calls")),
        ]
    )
    assert stream.result()["choices"][0]["message"]["tool_calls"] == [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": '{"y": 2}'}},
    ]


def test_stream_tool_calls_without_index_in_one_chunk() -> None:
    # Gemini's OpenAI compatibility sends complete calls without "index".
    stream, _ = run(
        [
            chunk(
                delta(
                    role="assistant",
                    tool_calls=[
                        {
                            "id": "a",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        },
                        {
                            "id": "b",
                            "type": "function",
                            "function": {"name": "g", "arguments": '{"q":1}'},
                        },
                    ],
                )
            ),
            chunk(delta(finish_reason="tool_calls")),
        ]
    )
    assert stream.result()["choices"][0]["message"]["tool_calls"] == [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": '{"q":1}'}},
    ]


def test_stream_tool_calls_without_index_in_separate_chunks() -> None:
    # One complete call per chunk, no "index" (Gemini, older Ollama): a new "id" is a new
    # call; merging them by position would concatenate the arguments into invalid JSON.
    stream, _ = run(
        [
            chunk(
                delta(
                    role="assistant",
                    tool_calls=[
                        {
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                )
            ),
            chunk(
                delta(
                    tool_calls=[
                        {
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Rome"}'},
                        }
                    ]
                )
            ),
            chunk(delta(finish_reason="tool_calls")),
        ]
    )
    assert stream.result()["choices"][0]["message"]["tool_calls"] == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"Rome"}'},
        },
    ]


def test_stream_tool_call_continuation_without_index_or_id() -> None:
    stream, _ = run(
        [
            chunk(
                delta(
                    role="assistant",
                    tool_calls=[
                        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{"}}
                    ],
                )
            ),
            chunk(delta(tool_calls=[{"function": {"arguments": '"k": true}'}}])),
            chunk(delta(finish_reason="tool_calls")),
        ]
    )
    assert stream.result()["choices"][0]["message"]["tool_calls"] == [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"k": true}'}}
    ]


def test_stream_openrouter_reasoning_fields() -> None:
    def detail(text: str) -> list[JSON]:
        return [{"type": "reasoning.text", "text": text, "index": 0, "format": "unknown"}]

    stream, pieces = run(
        [
            chunk(
                delta(
                    role="assistant",
                    content="",
                    reasoning="Let me ",
                    reasoning_details=detail("Let me "),
                )
            ),
            chunk(delta(content="", reasoning="think.", reasoning_details=detail("think."))),
            chunk(delta(content="100", reasoning=None, reasoning_details=[])),
            chunk({**delta(finish_reason="stop"), "native_finish_reason": "STOP"}),
            chunk(usage=USAGE, provider="P"),
        ]
    )
    assert pieces == [
        Piece("reasoning", 0, "Let me "),
        Piece("reasoning", 0, "think."),
        Piece("content", 0, "100"),
    ]
    assert stream.result() == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "provider": "P",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "100",
                    "reasoning": "Let me think.",
                    "reasoning_details": [
                        {
                            "type": "reasoning.text",
                            "text": "Let me think.",
                            "index": 0,
                            "format": "unknown",
                        }
                    ],
                },
                "native_finish_reason": "STOP",
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }


def test_stream_reasoning_content_only() -> None:
    stream, pieces = run(
        [
            chunk(delta(role="assistant", reasoning_content="hmm")),
            chunk(delta(reasoning_content=" ok")),
            chunk(delta(content="done", finish_reason="stop")),
        ]
    )
    assert pieces == [
        Piece("reasoning", 0, "hmm"),
        Piece("reasoning", 0, " ok"),
        Piece("content", 0, "done"),
    ]
    assert stream.result()["choices"][0]["message"] == {
        "role": "assistant",
        "reasoning_content": "hmm ok",
        "content": "done",
    }


def test_stream_refusal_is_concatenated() -> None:
    stream, pieces = run(
        [
            chunk(delta(role="assistant", content=None, refusal="I can't")),
            chunk(delta(refusal=" help.")),
            chunk(delta(finish_reason="stop")),
        ]
    )
    assert pieces == []
    assert stream.result()["choices"][0]["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": "I can't help.",
    }


def test_stream_logprobs_are_concatenated() -> None:
    t1 = {"token": "a", "logprob": -0.1, "bytes": [97], "top_logprobs": []}
    t2 = {"token": "b", "logprob": -0.2, "bytes": [98], "top_logprobs": []}
    stream, _ = run(
        [
            chunk({**delta(role="assistant", content="a"), "logprobs": {"content": [t1]}}),
            chunk({**delta(content="b"), "logprobs": {"content": [t2], "refusal": None}}),
            chunk({**delta(finish_reason="stop"), "logprobs": None}),
        ]
    )
    assert stream.result()["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "ab"},
            "logprobs": {"content": [t1, t2]},
            "finish_reason": "stop",
        }
    ]


def test_stream_logprobs_null_first_then_tokens() -> None:
    # vLLM and others send "logprobs": null in the role chunk, then token logprobs.
    t1 = {"token": "a", "logprob": -0.1}
    stream, _ = run(
        [
            chunk({**delta(role="assistant", content=""), "logprobs": None}),
            chunk({**delta(content="a"), "logprobs": {"content": [t1]}}),
            chunk({**delta(finish_reason="stop"), "logprobs": None}),
        ]
    )
    assert stream.result()["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "a"},
            "logprobs": {"content": [t1]},
            "finish_reason": "stop",
        }
    ]


def test_stream_several_choices() -> None:
    stream, pieces = run(
        [
            chunk(delta(0, role="assistant", content="A"), delta(1, role="assistant", content="B")),
            chunk(delta(1, content="b")),
            chunk(delta(0, finish_reason="stop")),
            chunk(delta(1, finish_reason="length")),
        ]
    )
    assert pieces == [Piece("content", 0, "A"), Piece("content", 1, "B"), Piece("content", 1, "b")]
    assert stream.result()["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": "Bb"}, "finish_reason": "length"},
    ]


def test_stream_finished() -> None:
    stream = ChatStream()
    assert not stream.finished
    stream.add(chunk())
    assert not stream.finished
    stream.add(chunk(delta(0, role="assistant", content="a"), delta(1, content="b")))
    assert not stream.finished
    stream.add(chunk(delta(0, finish_reason="stop")))
    assert not stream.finished
    stream.add(chunk(delta(1, content="c")))
    assert not stream.finished
    stream.add(chunk(delta(1, finish_reason="stop")))
    assert stream.finished
    stream.add(chunk(usage=USAGE))
    assert stream.finished


def test_stream_finished_only_by_finish_reasons() -> None:
    """``[DONE]`` is not a chunk: print_stream watches for it, the assembly has no flag."""
    stream = ChatStream()
    stream.add(chunk(delta(content="a")))
    assert not stream.finished
    stream.add(chunk(delta(finish_reason="stop")))
    assert stream.finished


def test_stream_result_of_nothing() -> None:
    assert ChatStream().result() == {"choices": []}


def test_long_stream_is_linear() -> None:
    """n and 8n chunks each of content (the quick path), reasoning and tool arguments: 8n
    take about 8 times as long, not 64 (as they would if each piece were added to a
    growing string)."""
    piece = "0123456789abcdef" * 16
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"s": "'}}
    head = [chunk(delta(role="assistant", content="", tool_calls=[{"index": 0, **call}]))]
    body = [
        chunk(delta(content=piece)),
        chunk(delta(reasoning_content=piece)),
        chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": piece}}])),
    ]
    tail = [
        chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": '"}'}}])),
        chunk(delta(finish_reason="tool_calls")),
    ]

    def work_for(n: int) -> Callable[[], None]:
        chunks = head + body * n + tail

        def work() -> None:
            stream = ChatStream()
            for c in chunks:
                stream.add(c)
            message = stream.result()["choices"][0]["message"]
            assert message["content"] == message["reasoning_content"] == piece * n
            arguments = message["tool_calls"][0]["function"]["arguments"]
            assert arguments == '{"s": "' + piece * n + '"}'

        return work

    assert_linear(work_for, 500)


def test_stream_null_delta_and_missing_choice_index() -> None:
    stream, _ = run(
        [
            chunk({"delta": {"role": "assistant", "content": "x"}}),
            chunk({"delta": None, "finish_reason": "stop"}),
        ]
    )
    assert stream.result()["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}
    ]


def test_stream_null_choice_index_is_zero() -> None:
    stream, pieces = run(
        [
            chunk({"index": None, "delta": {"role": "assistant", "content": "x"}}),
            chunk({"index": 0, "delta": {"content": "y"}, "finish_reason": None}),
            chunk({"index": None, "delta": {}, "finish_reason": "stop"}),
        ]
    )
    assert pieces == [Piece("content", 0, "x"), Piece("content", 0, "y")]
    assert stream.finished
    assert stream.result()["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "xy"}, "finish_reason": "stop"}
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"choices": [{"index": "1", "delta": {}}]}, "gw: choice index is not an integer: '1'"),
        ({"choices": [{"index": 1.0, "delta": {}}]}, "gw: choice index is not an integer: 1.0"),
        ({"choices": [{"index": True, "delta": {}}]}, "gw: choice index is not an integer: True"),
        ({"choices": [{"index": [0], "delta": {}}]}, "gw: choice index is not an integer: [0]"),
        ({"choices": 5}, 'gw: "choices" is not a list: 5'),
        ({"choices": {"index": 0}}, "gw: \"choices\" is not a list: {'index': 0}"),
    ],
)
def test_stream_bad_choices_are_protocol_errors(value: JSON, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        ChatStream(where="gw").add(value)
    assert type(info.value) is ProtocolError
    assert info.value.exit_code == 76
    assert info.value.message == message


def test_stream_tool_call_with_odd_index_goes_last() -> None:
    first = {"index": "a", "id": "c2", "type": "function", "function": {"name": "g"}}
    second = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f"}}
    stream, _ = run([chunk(delta(tool_calls=[first, second]))])
    calls = stream.result()["choices"][0]["message"]["tool_calls"]
    assert [c["id"] for c in calls] == ["c1", "c2"]


def test_stream_obfuscation_is_dropped() -> None:
    """OpenAI pads each chunk with a random ``obfuscation``; a whole reply has none."""
    stream, pieces = run(
        [
            chunk(
                {"index": 0, "delta": {"role": "assistant", "content": "", "obfuscation": "q"}},
                obfuscation="Zx9",
            ),
            chunk({"index": 0, "delta": {"content": "Hi"}, "obfuscation": "p"}, obfuscation="a"),
            chunk(delta(finish_reason="stop", obfuscation="kkk")),
            chunk(usage=USAGE, obfuscation="b2"),
        ]
    )
    assert pieces == [Piece("content", 0, "Hi")]
    assert stream.result() == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
        ],
        "usage": USAGE,
    }


def thinking(*texts: str) -> JSON:
    return {"type": "thinking", "thinking": [{"type": "text", "text": t} for t in texts]}


@pytest.mark.parametrize("keep_text", [True, False])
def test_stream_magistral_list_content(keep_text: bool) -> None:
    """Mistral Magistral streams thinking parts, then text parts, then plain strings."""
    stream, pieces = run(
        [
            chunk(delta(role="assistant", content="")),
            chunk(delta(content=[thinking("Let me")])),
            chunk(delta(content=[{"type": "thinking", "thinking": " think"}])),
            chunk(delta(content=[thinking(".", ""), {"type": "text", "text": "Hello"}])),
            chunk(delta(content=[{"type": "text", "text": ","}, "junk", {"type": "image"}])),
            chunk(delta(content=" world")),
            chunk(delta(0, "stop", content="!")),
        ],
        keep_text=keep_text,
    )
    assert pieces == [
        Piece("reasoning", 0, "Let me"),
        Piece("reasoning", 0, " think"),
        Piece("reasoning", 0, "."),
        Piece("content", 0, "Hello"),
        Piece("content", 0, ","),
        Piece("content", 0, " world"),
        Piece("content", 0, "!"),
    ]
    message = {"role": "assistant", "content": "Hello, world!", "reasoning": "Let me think."}
    if not keep_text:
        message = {"role": "assistant", "content": "", "reasoning": ""}
    assert stream.result()["choices"] == [{"index": 0, "message": message, "finish_reason": "stop"}]


def test_stream_magistral_thinking_only() -> None:
    stream, pieces = run([chunk(delta(0, "length", role="assistant", content=[thinking("hm")]))])
    assert pieces == [Piece("reasoning", 0, "hm")]
    assert stream.result()["choices"][0]["message"] == {
        "role": "assistant",
        "content": None,
        "reasoning": "hm",
    }


@pytest.mark.parametrize(
    ("error", "kind", "exit_code", "message"),
    [
        (
            {"message": "slow down", "type": "rate_limit_error"},
            TemporaryError,
            75,
            "error from gw: slow down [rate_limit_error]",
        ),
        (
            {"message": "Provider disconnected", "code": "server_error"},
            UnavailableError,
            69,
            "error from gw: Provider disconnected [server_error]",
        ),
        (
            {"message": "bad", "type": "invalid_request_error"},
            DataError,
            65,
            "error from gw: bad [invalid_request_error]",
        ),
        (
            {"message": "key revoked", "type": "authentication_error"},
            NotAllowedError,
            77,
            "error from gw: key revoked [authentication_error]",
        ),
    ],
)
def test_stream_error_chunk(
    error: JSON, kind: type[LlmcliError], exit_code: int, message: str
) -> None:
    stream = ChatStream(where="gw")
    stream.add(chunk(delta(role="assistant", content="partial")))
    with pytest.raises(kind) as info:
        stream.add({"id": "chatcmpl-1", "error": error, "choices": [delta(finish_reason="error")]})
    assert type(info.value) is kind
    assert info.value.exit_code == exit_code
    assert info.value.message == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1, 2], "gw: stream chunk is not a JSON object: [1, 2]"),
        ("[DONE]", "gw: stream chunk is not a JSON object: '[DONE]'"),
        (None, "gw: stream chunk is not a JSON object: None"),
        (3, "gw: stream chunk is not a JSON object: 3"),
    ],
)
def test_stream_non_object_chunk(value: Any, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        ChatStream(where="gw").add(value)
    assert type(info.value) is ProtocolError
    assert info.value.exit_code == 76
    assert info.value.message == message


def test_stream_non_object_chunk_message_is_cut() -> None:
    with pytest.raises(ProtocolError) as info:
        ChatStream(where="gw").add("x" * 500)
    assert info.value.message == "gw: stream chunk is not a JSON object: '" + "x" * 79


# ChatStream: generated replies


@st.composite
def cuts(draw: st.DrawFn, text: str, *, allow_empty_first: bool = False) -> list[str]:
    """``text`` split into pieces; empty text gives no pieces (or one empty piece)."""
    if not text:
        return [""] if allow_empty_first and draw(st.booleans()) else []
    points = draw(st.sets(st.integers(1, len(text) - 1), max_size=6)) if len(text) > 1 else set()
    edges = [0, *sorted(points), len(text)]
    pieces = [text[a:b] for a, b in pairwise(edges)]
    if allow_empty_first and draw(st.booleans()):
        pieces.insert(0, "")
    return pieces


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
calls_strategy = st.lists(
    st.tuples(
        st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True),
        st.dictionaries(st.text(max_size=6), json_values, max_size=3).map(json.dumps),
    ),
    max_size=3,
)


@st.composite
def replies(draw: st.DrawFn) -> tuple[list[JSON], JSON, str, str, list[JSON]]:
    """OpenAI/OpenRouter-style chunks for one reply, and what they must assemble into."""
    content = draw(st.text(max_size=40))
    reasoning = draw(st.text(max_size=40))
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
        for i, (name, args) in enumerate(draw(calls_strategy))
    ]

    queues: list[list[JSON]] = []
    queues.append(
        [
            {
                "content": "",
                "reasoning": piece,
                "reasoning_content": piece,
                "reasoning_details": [
                    {"type": "reasoning.text", "text": piece, "index": 0, "format": "unknown"}
                ],
            }
            for piece in draw(cuts(reasoning))
        ]
    )
    queues.append([{"content": piece} for piece in draw(cuts(content))])
    call_queues: list[list[JSON]] = []
    for i, call in enumerate(calls):
        fragments = draw(cuts(call["function"]["arguments"], allow_empty_first=True)) or [""]
        first = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": fragments[0]},
        }
        call_queues.append(
            [first, *({"index": i, "function": {"arguments": f}} for f in fragments[1:])]
        )

    deltas: list[JSON] = [{"role": "assistant", "content": ""}]
    while any(queues) or any(call_queues):
        open_text = [q for q in queues if q]
        open_calls = [q for q in call_queues if q]
        if open_calls and (not open_text or draw(st.booleans())):
            # one delta carrying fragments of one or more calls, interleaved across indexes
            group: list[JSON] = []
            for _ in range(draw(st.integers(1, 3))):
                live = [q for q in call_queues if q]
                if not live:
                    break
                group.append(draw(st.sampled_from(live)).pop(0))
            deltas.append({"tool_calls": group})
        else:
            deltas.append(draw(st.sampled_from(open_text)).pop(0))

    usage = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
    top = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    finish = "tool_calls" if calls else "stop"
    chunks = [
        {**top, "choices": [{"index": 0, "delta": d, "finish_reason": None}], "usage": None}
        for d in deltas
    ]
    chunks.append({**top, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    chunks.append({**top, "choices": [], "usage": usage})

    message: JSON = {"role": "assistant", "content": None if calls and not content else content}
    if reasoning:
        message["reasoning"] = reasoning
        message["reasoning_content"] = reasoning
        message["reasoning_details"] = [
            {"type": "reasoning.text", "text": reasoning, "index": 0, "format": "unknown"}
        ]
    if calls:
        message["tool_calls"] = calls
    expected = {
        "id": "gen-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }
    return chunks, expected, content, reasoning, calls


def texts(pieces: list[Piece], kind: str) -> str:
    return "".join(p.text for p in pieces if p.kind == kind)


@settings(max_examples=200, deadline=None)
@given(replies())
def test_stream_assembles_the_completion(
    reply: tuple[list[JSON], JSON, str, str, list[JSON]],
) -> None:
    chunks, expected, content, reasoning, calls = reply
    stream = ChatStream(keep_text=True)
    pieces: list[Piece] = []
    *body, finish, usage = chunks
    for c in body:
        pieces.extend(stream.add(c))
        assert stream.finished is False
    pieces.extend(stream.add(finish))
    assert stream.finished is True
    pieces.extend(stream.add(usage))
    assert stream.finished is True
    assert stream.result() == expected
    assert texts(pieces, "content") == content
    assert texts(pieces, "reasoning") == reasoning
    assert all(p.text and p.choice == 0 for p in pieces)

    # keep_text=False: the same pieces in the same order, complete tool calls, no text kept
    flat = ChatStream(keep_text=False)
    flat_pieces: list[Piece] = []
    for c in chunks:
        flat_pieces.extend(flat.add(c))
    assert flat_pieces == pieces
    content_deltas = [c["choices"][0]["delta"].get("content") for c in body]
    assert [p.text for p in flat_pieces if p.kind == "content"] == [t for t in content_deltas if t]
    assert flat.finished is True
    message = flat.result()["choices"][0]["message"]
    assert message.get("tool_calls", []) == calls
    assert message["content"] in ("", None)
    assert not message.get("reasoning")
    assert not message.get("reasoning_content")
    assert not message.get("reasoning_details")


@st.composite
def magistral_replies(draw: st.DrawFn) -> tuple[list[JSON], str, str]:
    """Mistral Magistral-style chunks: reasoning as thinking parts (a string, or a list of
    text parts), then content as text parts or plain strings."""
    reasoning = draw(st.text(max_size=40))
    content = draw(st.text(max_size=40))
    deltas: list[JSON] = [{"role": "assistant", "content": ""}]
    for piece in draw(cuts(reasoning)):
        if draw(st.booleans()):
            deltas.append({"content": [{"type": "thinking", "thinking": piece}]})
        else:
            deltas.append({"content": [thinking(*draw(cuts(piece)))]})
    for piece in draw(cuts(content)):
        plain = draw(st.booleans())
        deltas.append({"content": piece if plain else [{"type": "text", "text": piece}]})
    top = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "magistral"}
    chunks = [{**top, "choices": [{"index": 0, "delta": d}]} for d in deltas]
    chunks.append({**top, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return chunks, reasoning, content


@settings(max_examples=100, deadline=None)
@given(magistral_replies())
def test_stream_assembles_list_content(reply: tuple[list[JSON], str, str]) -> None:
    chunks, reasoning, content = reply
    stream, pieces = run(chunks)
    message: JSON = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning"] = reasoning
    assert stream.result()["choices"] == [{"index": 0, "message": message, "finish_reason": "stop"}]
    assert texts(pieces, "reasoning") == reasoning
    assert texts(pieces, "content") == content
    # what the stream shows is what the whole reply shows
    whole = {"choices": [{"index": 0, "message": message}]}
    assert texts(list(iter_pieces(whole)), "reasoning") == reasoning
    assert texts(list(iter_pieces(whole)), "content") == content
