"""The offline gateway's ``tools`` model calling the tools a request offers, over real HTTP
on loopback with httpx, in the three dialects (``/chat/completions``, ``/messages``,
``/responses``), whole and streamed: arguments made from each tool's JSON Schema,
``tool_choice`` none and named, the trailing tool results quoted in order (``is_error``
ones too), and ``mock_tool_rounds`` rounds of calls before the answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

PROMPT = "weather in Oslo today"  # 4 words
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "where"},
        "days": {"type": "integer"},
        "scale": {"type": "number"},
        "metric": {"type": "boolean"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "extra": {"type": "object"},
        "maybe": {"type": ["null", "integer"]},
    },
    "required": ["city"],
}
CLOCK = {"type": "object", "properties": {}}
#: (name, schema) of the offered tools; None: no schema at all
TOOLS: list[tuple[str, dict[str, Any] | None]] = [
    ("lookup_weather", WEATHER),
    ("get_clock", CLOCK),
    ("ping", None),
]
WEATHER_ARGS = (
    '{"city":"weather in Oslo today","days":4,"scale":4.0,"metric":true,'
    '"unit":"celsius","tags":[],"extra":{},"maybe":4}'
)
ARGS = [WEATHER_ARGS, "{}", "{}"]
CALLS_TOKENS = 4 + 1 + 1  # the arguments' whitespace-separated words


# ---- the three dialects' shapes ---------------------------------------------------------


def chat_tools(tools: list[tuple[str, dict[str, Any] | None]] = TOOLS) -> list[dict[str, Any]]:
    out = []
    for name, schema in tools:
        function: dict[str, Any] = {"name": name, "description": f"the {name} tool"}
        if schema is not None:
            function["parameters"] = schema
        out.append({"type": "function", "function": function})
    return out


def anthropic_tools(
    tools: list[tuple[str, dict[str, Any] | None]] = TOOLS,
) -> list[dict[str, Any]]:
    out = []
    for name, schema in tools:
        tool: dict[str, Any] = {"name": name, "description": f"the {name} tool"}
        if schema is not None:
            tool["input_schema"] = schema
        out.append(tool)
    return out


def responses_tools(
    tools: list[tuple[str, dict[str, Any] | None]] = TOOLS,
) -> list[dict[str, Any]]:
    out = []
    for name, schema in tools:
        tool: dict[str, Any] = {"type": "function", "name": name}
        if schema is not None:
            tool["parameters"] = schema
        out.append(tool)
    return out


def chat_body(messages: Any = PROMPT, **extra: Any) -> dict[str, Any]:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return {"model": "tools", "messages": messages, "tools": chat_tools(), **extra}


def msg_body(messages: Any = PROMPT, **extra: Any) -> dict[str, Any]:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return {
        "model": "tools",
        "max_tokens": 100,
        "messages": messages,
        "tools": anthropic_tools(),
        **extra,
    }


def resp_body(items: Any = PROMPT, **extra: Any) -> dict[str, Any]:
    return {"model": "tools", "input": items, "tools": responses_tools(), **extra}


# ---- talking to the gateway -------------------------------------------------------------


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as c:
        yield c


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def sse(raw: bytes) -> list[tuple[str | None, Any]]:
    """(event name, decoded data) of each event; ``[DONE]`` as the string."""
    events: list[tuple[str | None, Any]] = []
    for block in raw.decode().split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            text = "\n".join(data)
            events.append((name, text if text == "[DONE]" else orjson.loads(text)))
    return events


def streamed(client: httpx.Client, path: str, body: dict[str, Any]) -> list[Any]:
    r = client.post(path, json={**body, "stream": True})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return sse(r.content)


def chat_stream(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """A chat stream assembled into the object the whole answer is."""
    events = streamed(
        client, "/chat/completions", {**body, "stream_options": {"include_usage": True}}
    )
    assert events[-1] == (None, "[DONE]")
    message: dict[str, Any] = {}
    calls: dict[int, dict[str, Any]] = {}
    finish = usage = None
    head: dict[str, Any] = {}
    for _, chunk in events[:-1]:
        head = {k: chunk[k] for k in ("id", "created", "model")}
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            finish = choice["finish_reason"] or finish
            if "role" in delta:
                message = {"role": delta["role"], "content": delta["content"]}
            elif delta.get("content") is not None:
                message["content"] = (message["content"] or "") + delta["content"]
            for call in delta.get("tool_calls", []):
                c = calls.setdefault(call["index"], {})
                if "id" in call:
                    c.update(id=call["id"], type=call["type"], function=dict(call["function"]))
                else:
                    c["function"]["arguments"] += call["function"]["arguments"]
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    choices = [{"index": 0, "message": message, "finish_reason": finish}]
    return {**head, "object": "chat.completion", "choices": choices, "usage": usage}


def msg_stream(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic stream assembled into the message the whole answer is; each tool
    input's fragments joined must be the exact JSON text (``partial_json`` key)."""
    events = streamed(client, "/messages", body)
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for name, data in events:
        assert data["type"] == name
        if name == "message_start":
            message = data["message"]
        elif name == "content_block_start":
            message["content"].append(dict(data["content_block"]))
        elif name == "content_block_delta":
            block, delta = message["content"][data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                assert delta["type"] == "input_json_delta"
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif name == "content_block_stop" and data["index"] in partial:
            block = message["content"][data["index"]]
            block["input"] = orjson.loads(partial[data["index"]])
            block["partial_json"] = partial[data["index"]]
        elif name == "message_delta":
            message.update(data["delta"])
            message["usage"]["output_tokens"] = data["usage"]["output_tokens"]
    assert events[-1][0] == "message_stop"
    return message


def resp_stream(client: httpx.Client, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The streamed ``response.completed`` object, and per output item the arguments (or
    text) its deltas make."""
    events = streamed(client, "/responses", body)
    joined: dict[int, str] = {}
    for _, event in events:
        if event["type"].endswith(".delta"):
            joined[event["output_index"]] = joined.get(event["output_index"], "") + event["delta"]
    name, last = events[-1]
    assert name == last["type"] == "response.completed"
    return last["response"], [joined[i] for i in sorted(joined)]


def chat_calls(args: list[str] = ARGS, names: list[str] | None = None, round_: str = "") -> Any:
    names = names or [name for name, _ in TOOLS]
    return [
        {"id": f"call_{round_}{i}", "type": "function", "function": {"name": n, "arguments": a}}
        for i, (n, a) in enumerate(zip(names, args, strict=True))
    ]


def tool_uses(args: list[str] = ARGS, names: list[str] | None = None, round_: str = "") -> Any:
    names = names or [name for name, _ in TOOLS]
    return [
        {"type": "tool_use", "id": f"toolu_{round_}{i}", "name": n, "input": orjson.loads(a)}
        for i, (n, a) in enumerate(zip(names, args, strict=True))
    ]


def function_calls(resp: dict[str, Any], args: list[str] = ARGS, round_: str = "") -> Any:
    digest = resp["id"].removeprefix("resp_")
    return [
        {
            "type": "function_call",
            "id": f"fc_{digest}_{i}",
            "call_id": f"call_{round_}{i}",
            "name": n,
            "arguments": a,
            "status": "completed",
        }
        for i, ((n, _), a) in enumerate(zip(TOOLS, args, strict=True))
    ]


# ---- every offered tool called, arguments from its schema -------------------------------


def test_chat_calls_every_offered_tool_with_schema_arguments(client: httpx.Client) -> None:
    whole = post(client, "/chat/completions", chat_body())
    choice = whole["choices"][0]
    assert choice == {
        "index": 0,
        "message": {"role": "assistant", "content": None, "tool_calls": chat_calls()},
        "finish_reason": "tool_calls",
    }
    assert choice["message"]["tool_calls"][0]["function"]["arguments"] == WEATHER_ARGS
    assert whole["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": CALLS_TOKENS,
        "total_tokens": 4 + CALLS_TOKENS,
    }
    assert chat_stream(client, chat_body()) == whole


def test_messages_calls_every_offered_function_tool_not_server_tools(client: httpx.Client) -> None:
    tools = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 1},
        *anthropic_tools()[:1],
        {"type": "custom", **anthropic_tools()[1]},
        {"type": "bash_20250124", "name": "bash"},
        anthropic_tools()[2],
    ]
    body = msg_body(tools=tools)
    whole = post(client, "/messages", body)
    assert whole["content"] == tool_uses()
    assert whole["content"][0]["input"] == {
        "city": PROMPT,
        "days": 4,
        "scale": 4.0,
        "metric": True,
        "unit": "celsius",
        "tags": [],
        "extra": {},
        "maybe": 4,
    }
    assert isinstance(whole["content"][0]["input"]["scale"], float)
    assert (whole["stop_reason"], whole["usage"]) == (
        "tool_use",
        {"input_tokens": 4, "output_tokens": CALLS_TOKENS},
    )
    stream = msg_stream(client, body)
    assert [b.pop("partial_json") for b in stream["content"]] == ARGS
    assert stream == whole


def test_responses_calls_every_offered_tool_with_schema_arguments(client: httpx.Client) -> None:
    body = resp_body(tools=[{"type": "web_search_preview"}, *responses_tools()])
    whole = post(client, "/responses", body)
    assert whole["status"] == "completed"
    assert whole["output"] == function_calls(whole)
    assert whole["output"][0]["arguments"] == WEATHER_ARGS
    assert (whole["usage"]["input_tokens"], whole["usage"]["output_tokens"]) == (4, CALLS_TOKENS)
    final, deltas = resp_stream(client, body)
    assert deltas == ARGS
    assert final["output"] == whole["output"]
    assert final["usage"] == whole["usage"]


def test_a_string_prompt_word_count_and_enum_follow_the_prompt(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "mode": {"enum": [3, "b"]},
            "q": {"type": "string"},
            "x": {"type": "number"},
        },
    }
    body = chat_body("one", tools=chat_tools([("count", schema)]))
    calls = post(client, "/chat/completions", body)["choices"][0]["message"]["tool_calls"]
    assert calls == chat_calls(['{"n":1,"mode":3,"q":"one","x":1.0}'], ["count"])


# ---- tool_choice --------------------------------------------------------------------------


def test_tool_choice_none_answers_like_echo(client: httpx.Client) -> None:
    chat = post(client, "/chat/completions", chat_body(tool_choice="none"))
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": PROMPT}
    assert chat["choices"][0]["finish_reason"] == "stop"
    assert chat_stream(client, chat_body(tool_choice="none"))["choices"] == chat["choices"]
    body = msg_body(tool_choice={"type": "none"})
    message = post(client, "/messages", body)
    assert message["content"] == [{"type": "text", "text": PROMPT}]
    assert message["stop_reason"] == "end_turn"
    assert msg_stream(client, body)["content"] == message["content"]
    resp = post(client, "/responses", resp_body(tool_choice="none"))
    assert [(i["type"], i["content"][0]["text"]) for i in resp["output"]] == [("message", PROMPT)]
    assert resp["tool_choice"] == "none"


def test_tool_choice_none_after_tool_results_answers_the_prompt(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": None, "tool_calls": chat_calls()[:1]},
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
    ]
    chat = post(client, "/chat/completions", chat_body(messages, tool_choice="none"))
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": PROMPT}


def test_a_named_tool_choice_calls_only_that_tool(client: httpx.Client) -> None:
    named = {"type": "function", "function": {"name": "get_clock"}}
    chat = post(client, "/chat/completions", chat_body(tool_choice=named))
    assert chat["choices"][0]["message"]["tool_calls"] == chat_calls(["{}"], ["get_clock"])
    assert chat_stream(client, chat_body(tool_choice=named))["choices"] == chat["choices"]
    body = msg_body(tool_choice={"type": "tool", "name": "lookup_weather"})
    message = post(client, "/messages", body)
    assert message["content"] == tool_uses([WEATHER_ARGS], ["lookup_weather"])
    assert message["stop_reason"] == "tool_use"
    stream = msg_stream(client, body)
    assert [b.pop("partial_json") for b in stream["content"]] == [WEATHER_ARGS]
    assert stream == message
    resp = post(client, "/responses", resp_body(tool_choice={"type": "function", "name": "ping"}))
    digest = resp["id"].removeprefix("resp_")
    assert resp["output"] == [
        {
            "type": "function_call",
            "id": f"fc_{digest}_0",
            "call_id": "call_0",
            "name": "ping",
            "arguments": "{}",
            "status": "completed",
        }
    ]


def test_auto_required_and_any_call_every_tool(client: httpx.Client) -> None:
    for choice in ("auto", "required"):
        chat = post(client, "/chat/completions", chat_body(tool_choice=choice))
        assert chat["choices"][0]["message"]["tool_calls"] == chat_calls()
    message = post(client, "/messages", msg_body(tool_choice={"type": "any"}))
    assert message["content"] == tool_uses()


def test_a_named_tool_not_offered_is_called_without_arguments(client: httpx.Client) -> None:
    named = {"type": "function", "function": {"name": "elsewhere"}}
    chat = post(client, "/chat/completions", chat_body(tool_choice=named))
    assert chat["choices"][0]["message"]["tool_calls"] == chat_calls(["{}"], ["elsewhere"])


def test_without_tools_the_model_calls_get_weather_and_get_time(client: httpx.Client) -> None:
    body = {"model": "tools", "messages": [{"role": "user", "content": "Paris"}]}
    calls = post(client, "/chat/completions", body)["choices"][0]["message"]["tool_calls"]
    assert calls == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'},
        },
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"timezone":"UTC"}'},
        },
    ]


# ---- the results quoted -------------------------------------------------------------------


def test_chat_quotes_every_trailing_tool_result_in_order(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": None, "tool_calls": chat_calls()},
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "noon"}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "pong"},
    ]
    whole = post(client, "/chat/completions", chat_body(messages))
    text = "tool said: sunny\nnoon\npong"
    assert whole["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": "stop",
    }
    assert whole["usage"]["completion_tokens"] == 5
    assert chat_stream(client, chat_body(messages))["choices"] == whole["choices"]


def test_messages_quotes_the_tool_results_error_ones_too(client: httpx.Client) -> None:
    results = [
        {"type": "tool_result", "tool_use_id": "toolu_0", "content": "sunny"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": "clock"}, {"type": "text", "text": "broken"}],
            "is_error": True,
        },
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "pong", "is_error": False},
    ]
    messages = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": tool_uses()},
        {"role": "user", "content": results},
    ]
    body = msg_body(messages)
    whole = post(client, "/messages", body)
    assert whole["content"] == [{"type": "text", "text": "tool said: sunny\nclock\nbroken\npong"}]
    assert (whole["stop_reason"], whole["usage"]["output_tokens"]) == ("end_turn", 6)
    assert msg_stream(client, body) == whole


def test_responses_quotes_the_trailing_outputs_in_order(client: httpx.Client) -> None:
    first = post(client, "/responses", resp_body())
    outputs = [
        {"type": "function_call_output", "call_id": "call_0", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_1", "output": "noon"},
        {
            "type": "function_call_output",
            "call_id": "call_2",
            "output": [{"type": "input_text", "text": "pong"}],
        },
    ]
    items = [{"role": "user", "content": PROMPT}, *first["output"], *outputs]
    whole = post(client, "/responses", resp_body(items))
    assert [(i["type"], i["content"][0]["text"]) for i in whole["output"]] == [
        ("message", "tool said: sunny\nnoon\npong")
    ]
    final, deltas = resp_stream(client, resp_body(items))
    assert final["output"] == whole["output"]
    assert deltas == ["tool said: sunny\nnoon\npong"]
    chained = post(client, "/responses", resp_body(outputs, previous_response_id=first["id"]))
    assert chained["output"][0]["content"][0]["text"] == "tool said: sunny\nnoon\npong"


# ---- several rounds -----------------------------------------------------------------------


def test_chat_calls_again_until_mock_tool_rounds(client: httpx.Client) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPT}]
    for n in range(3):
        body = chat_body(messages, mock_tool_rounds=3)
        whole = post(client, "/chat/completions", body)
        message = whole["choices"][0]["message"]
        assert message == {
            "role": "assistant",
            "content": None,
            "tool_calls": chat_calls(round_=f"{n}_" if n else ""),
        }
        assert chat_stream(client, body)["choices"] == whole["choices"]
        messages.append(message)
        for call in message["tool_calls"]:
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "content": f"{call['id']} ok"}
            )
    final = post(client, "/chat/completions", chat_body(messages, mock_tool_rounds=3))
    assert final["choices"][0]["message"]["content"] == (
        "tool said: call_2_0 ok\ncall_2_1 ok\ncall_2_2 ok"
    )
    # a new question starts counting again
    messages += [final["choices"][0]["message"], {"role": "user", "content": "again"}]
    again = post(client, "/chat/completions", chat_body(messages, mock_tool_rounds=3))
    calls = again["choices"][0]["message"]["tool_calls"]
    assert [c["id"] for c in calls] == ["call_3_0", "call_3_1", "call_3_2"]
    assert calls[0]["function"]["arguments"] == WEATHER_ARGS.replace(
        '"weather in Oslo today","days":4,"scale":4.0', '"again","days":1,"scale":1.0'
    ).replace('"maybe":4', '"maybe":1')


def test_messages_calls_again_until_mock_tool_rounds(client: httpx.Client) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPT}]
    for n in range(3):
        body = msg_body(messages, mock_tool_rounds=3)
        whole = post(client, "/messages", body)
        # the prompt stays the user's question, not the tool results after it
        assert whole["content"] == tool_uses(round_=f"{n}_" if n else "")
        stream = msg_stream(client, body)
        assert [b.pop("partial_json") for b in stream["content"]] == ARGS
        assert stream == whole
        messages.append({"role": "assistant", "content": whole["content"]})
        results = [
            {"type": "tool_result", "tool_use_id": b["id"], "content": f"{b['id']} ok"}
            for b in whole["content"]
        ]
        results[1]["is_error"] = True
        messages.append({"role": "user", "content": results})
    final = post(client, "/messages", msg_body(messages, mock_tool_rounds=3))
    assert final["content"] == [
        {"type": "text", "text": "tool said: toolu_2_0 ok\ntoolu_2_1 ok\ntoolu_2_2 ok"}
    ]
    assert final["stop_reason"] == "end_turn"


def test_responses_calls_again_until_mock_tool_rounds(client: httpx.Client) -> None:
    body = resp_body(mock_tool_rounds=3)
    for n in range(3):
        whole = post(client, "/responses", body)
        assert whole["output"] == function_calls(whole, round_=f"{n}_" if n else "")
        final, deltas = resp_stream(client, body)
        assert (final["output"], deltas) == (whole["output"], ARGS)
        outputs = [
            {"type": "function_call_output", "call_id": i["call_id"], "output": f"r{n} {i['name']}"}
            for i in whole["output"]
        ]
        body = resp_body(outputs, mock_tool_rounds=3, previous_response_id=whole["id"])
    answer = post(client, "/responses", body)
    assert [(i["type"], i["content"][0]["text"]) for i in answer["output"]] == [
        ("message", "tool said: r2 lookup_weather\nr2 get_clock\nr2 ping")
    ]


def test_mock_tool_rounds_without_tools_offered(client: httpx.Client) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Paris"}]
    body = {"model": "tools", "messages": messages, "mock_tool_rounds": 2}
    first = post(client, "/chat/completions", body)["choices"][0]["message"]
    results = [{"role": "tool", "tool_call_id": "call_0", "content": "sunny"}]
    body["messages"] = [*messages, first, *results]
    second = post(client, "/chat/completions", body)["choices"][0]["message"]
    assert [c["id"] for c in second["tool_calls"]] == ["call_1_0", "call_1_1"]
    assert [c["function"]["name"] for c in second["tool_calls"]] == ["get_weather", "get_time"]
    body["messages"] = [*body["messages"], second, {**results[0], "content": "rainy"}]
    third = post(client, "/chat/completions", body)["choices"][0]["message"]
    assert third == {"role": "assistant", "content": "tool said: rainy"}
