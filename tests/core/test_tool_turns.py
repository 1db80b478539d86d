"""Tool turns in each dialect, as pure functions: calls out of replies, results back in,
calls a conversation left unanswered."""

from __future__ import annotations

from typing import Any

import pytest

from llmcli.protocol import tool_turns
from llmcli.protocol.tool_turns import Call, Result

CHAT_CALL = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a":1}'}}
CHAT_REPLY = {
    "choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [CHAT_CALL]}}]
}
USE = {"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1}}
MESSAGE_REPLY = {"role": "assistant", "content": [{"type": "text", "text": "Adding."}, USE]}
FUNCTION_CALL = {"type": "function_call", "call_id": "f1", "name": "add", "arguments": '{"a":1}'}
RESPONSE_REPLY = {"id": "resp_1", "output": [{"type": "reasoning", "summary": []}, FUNCTION_CALL]}


@pytest.mark.parametrize(
    ("api", "reply", "call_id", "raw"),
    [
        ("chat", CHAT_REPLY, "c1", CHAT_CALL),
        ("messages", MESSAGE_REPLY, "t1", USE),
        ("responses", RESPONSE_REPLY, "f1", FUNCTION_CALL),
    ],
)
def test_calls_of_a_reply(api: str, reply: dict[str, Any], call_id: str, raw: Any) -> None:
    assert tool_turns.calls(api, reply) == [Call(call_id, "add", '{"a":1}', raw)]


def test_a_reply_without_calls_has_none() -> None:
    assert tool_turns.calls("chat", {"choices": [{"message": {"content": "hi"}}]}) == []
    assert tool_turns.calls("messages", {"content": [{"type": "text", "text": "hi"}]}) == []
    assert tool_turns.calls("responses", {"output": []}) == []


def test_the_next_chat_body_holds_the_reply_and_the_results() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "1+?"}]}
    call = tool_turns.calls("chat", CHAT_REPLY)[0]
    nxt = tool_turns.answered("chat", body, CHAT_REPLY, [Result(call, "2")])
    assert nxt == {
        "model": "m",
        "messages": [
            {"role": "user", "content": "1+?"},
            {"role": "assistant", "content": None, "tool_calls": [CHAT_CALL]},
            {"role": "tool", "tool_call_id": "c1", "content": "2"},
        ],
    }
    assert body["messages"] == [{"role": "user", "content": "1+?"}]  # not changed


def test_anthropic_results_are_one_user_turn_with_is_error_on_failures() -> None:
    body = {"messages": [{"role": "user", "content": "1+?"}]}
    call = tool_turns.calls("messages", MESSAGE_REPLY)[0]
    nxt = tool_turns.answered("messages", body, MESSAGE_REPLY, [Result(call, "no", error=True)])
    assert nxt["messages"][1:] == [
        MESSAGE_REPLY,
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "no", "is_error": True}
            ],
        },
    ]


def test_responses_resend_the_output_items_or_continue_on_the_server() -> None:
    call = tool_turns.calls("responses", RESPONSE_REPLY)[0]
    results = [Result(call, "2")]
    output = {"type": "function_call_output", "call_id": "f1", "output": "2"}
    stateless = tool_turns.answered("responses", {"input": "1+?"}, RESPONSE_REPLY, results)
    assert stateless["input"] == [
        {"role": "user", "content": "1+?"},
        {"type": "reasoning", "summary": []},
        FUNCTION_CALL,
        output,
    ]
    unkept = tool_turns.answered(
        "responses", {"input": "1+?", "store": False}, RESPONSE_REPLY, results
    )
    assert [i.get("type") for i in unkept["input"]] == [
        None,
        "function_call",
        "function_call_output",
    ]
    stateful = tool_turns.answered(
        "responses", {"input": "1+?", "previous_response_id": "resp_0"}, RESPONSE_REPLY, results
    )
    assert stateful == {"input": [output], "previous_response_id": "resp_1"}


@pytest.mark.parametrize(
    ("api", "tools", "names"),
    [
        ("chat", [{"type": "function", "function": {"name": "a"}}, {"type": "web_search"}], ["a"]),
        ("messages", [{"name": "a", "input_schema": {}}], ["a"]),
        (
            "responses",
            [{"type": "function", "name": "a"}, {"type": "custom", "name": "b"}],
            ["a", "b"],
        ),
    ],
)
def test_offered_names(api: str, tools: list[Any], names: list[str]) -> None:
    assert tool_turns.offered(api, {"tools": tools}) == names


def test_unanswered_calls_at_the_end_of_a_chat_conversation() -> None:
    assistant = {"role": "assistant", "content": None, "tool_calls": [CHAT_CALL]}
    body = {"messages": [{"role": "user", "content": "q"}, assistant]}
    calls, where = tool_turns.unanswered("chat", body)
    assert [c.id for c in calls] == ["c1"] and where == 2
    answered_body = {"messages": [*body["messages"], {"role": "tool", "tool_call_id": "c1"}]}
    assert tool_turns.unanswered("chat", answered_body) == ([], 0)


def test_results_of_unanswered_calls_go_before_a_new_prompt() -> None:
    assistant = {"role": "assistant", "content": None, "tool_calls": [CHAT_CALL]}
    body = {
        "messages": [
            {"role": "user", "content": "q"},
            assistant,
            {"role": "user", "content": "and?"},
        ]
    }
    calls, where = tool_turns.unanswered("chat", body)
    assert where == 2
    fixed = tool_turns.answer_unanswered("chat", body, where, [Result(calls[0], "2")])
    assert [m["role"] for m in fixed["messages"]] == ["user", "assistant", "tool", "user"]


def test_anthropic_results_join_the_next_user_turn() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "q"},
            MESSAGE_REPLY,
            {"role": "user", "content": "and?"},
        ]
    }
    calls, where = tool_turns.unanswered("messages", body)
    fixed = tool_turns.answer_unanswered("messages", body, where, [Result(calls[0], "2")])
    assert fixed["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "2"},
            {"type": "text", "text": "and?"},
        ],
    }


def test_unanswered_function_calls_end_a_responses_input() -> None:
    body = {"input": [{"role": "user", "content": "q"}, {"type": "reasoning"}, FUNCTION_CALL]}
    calls, where = tool_turns.unanswered("responses", body)
    assert [c.id for c in calls] == ["f1"] and where == 3
    done = {
        "input": [*body["input"], {"type": "function_call_output", "call_id": "f1", "output": "2"}]
    }
    assert tool_turns.unanswered("responses", done) == ([], 0)


@pytest.mark.parametrize(
    ("api", "choice", "after"),
    [
        ("chat", "required", "auto"),
        ("chat", {"type": "function", "function": {"name": "add"}}, "auto"),
        ("chat", "none", "none"),
        ("messages", {"type": "tool", "name": "add", "disable_parallel_tool_use": True},
         {"type": "auto", "disable_parallel_tool_use": True}),
        ("messages", {"type": "any"}, {"type": "auto"}),
        ("messages", {"type": "auto"}, {"type": "auto"}),
        ("responses", {"type": "function", "name": "add"}, "auto"),
        ("responses", {"type": "web_search_preview"}, {"type": "web_search_preview"}),
    ],
)  # fmt: skip
def test_a_forced_tool_choice_is_auto_once_the_call_is_answered(
    api: str, choice: Any, after: Any
) -> None:
    reply = {"chat": CHAT_REPLY, "messages": MESSAGE_REPLY, "responses": RESPONSE_REPLY}[api]
    call = tool_turns.calls(api, reply)[0]
    key = "input" if api == "responses" else "messages"
    nxt = tool_turns.answered(api, {key: [], "tool_choice": choice}, reply, [Result(call, "2")])
    assert nxt["tool_choice"] == after
