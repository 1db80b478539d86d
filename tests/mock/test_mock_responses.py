"""The offline gateway's Responses API (``POST /v1/responses``, llmcli.mock.responses_wire)
over real HTTP with httpx: whole answers, streams and their events, stored responses and
``previous_response_id``, the exact error bodies, faults, batches and replay."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmcli import mock
from llmcli.mock import RunningGateway

UNICODE_TEXT = "héllo wörld — 日本語 😀🎉 naïve café ∑ 👩\u200d💻 ok"
THOUGHT = "The user wrote 3 words. I will repeat them back."
SERVER_ERROR = {
    "code": "server_error",
    "message": "The server had an error while processing your request.",
}


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    with mock.start() as running:
        yield running


@pytest.fixture(scope="module")
def client(gw: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        yield c


def body_of(model: str = "echo", prompt: Any = "hello big world", **extra: Any) -> dict[str, Any]:
    return {"model": model, "input": prompt, **extra}


def whole(client: httpx.Client, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    r = client.post("/responses", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return dict(r.json())


def stream(client: httpx.Client, body: dict[str, Any], **headers: str) -> list[dict[str, Any]]:
    """The events of a streamed answer, each ``event:`` line checked against its type."""
    r = client.post("/responses", json={**body, "stream": True}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/event-stream"
    return events(r.content)


def events(raw: bytes) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: "), block
        event = orjson.loads(data[6:])
        assert event["type"] == name[7:]
        out.append(event)
    return out


def names(evs: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("response.") for e in evs]


def assembled(evs: list[dict[str, Any]]) -> list[str]:
    """Per output item, the text (summary, output text) or arguments its deltas make."""
    joined: dict[int, str] = {}
    for e in evs:
        if e["type"].endswith(".delta"):
            joined[e["output_index"]] = joined.get(e["output_index"], "") + e["delta"]
    return [joined.get(i, "") for i in range(max(joined, default=-1) + 1)]


def written(item: dict[str, Any]) -> str:
    if item["type"] == "reasoning":
        return "".join(s["text"] for s in item["summary"])
    if item["type"] == "message":
        return "".join(p["text"] for p in item["content"])
    return str(item["arguments"])


def message(digest: str, text: str, status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {
        "type": "message",
        "id": "msg_" + digest,
        "status": status,
        "role": "assistant",
        "content": [part],
    }


def usage(inputs: int, outputs: int, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": inputs,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": outputs,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": inputs + outputs,
    }


def digest_of(obj: dict[str, Any]) -> str:
    found = re.fullmatch(r"resp_([0-9a-f]{24})", obj["id"])
    assert found is not None, obj["id"]
    return found[1]


# ---- whole answers ------------------------------------------------------------------------


def test_echo_answer_is_the_whole_response_object(client: httpx.Client) -> None:
    before = int(time.time())
    obj = whole(client, body_of("echo"))
    after = int(time.time())
    digest = digest_of(obj)
    assert before <= obj["created_at"] <= after
    assert obj == {
        "id": "resp_" + digest,
        "object": "response",
        "created_at": obj["created_at"],
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "echo",
        "output": [message(digest, "hello big world")],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage(3, 3),
        "user": None,
        "metadata": {},
    }
    assert whole(client, body_of("echo")) == obj  # the same body: the same response


def test_request_fields_are_echoed_and_items_read(client: httpx.Client) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather of a place",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        "strict": True,
    }
    fmt = {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": True}
    items = [
        {"role": "developer", "content": "be brief"},
        {"type": "message", "role": "user", "content": "old question"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "old answer"}]},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "look here"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:;base64,AAAA"},
            ],
        },
    ]
    extra = {
        "instructions": "You are terse.",
        "tools": [tool],
        "tool_choice": "required",
        "text": {"format": fmt},
        "reasoning": {"effort": "low", "summary": "auto"},
        "temperature": 0.5,
        "metadata": {"job": "x"},
        "unknown_field": [1, 2],
    }
    obj = whole(client, body_of("echo", items, **extra))
    assert obj["output"] == [message(digest_of(obj), "look here")]
    assert {k: obj[k] for k in ("instructions", "tools", "tool_choice", "text")} == {
        "instructions": "You are terse.",
        "tools": [tool],
        "tool_choice": "required",
        "text": {"format": fmt},
    }
    assert obj["reasoning"] == {"effort": "low", "summary": "auto"}
    assert (obj["temperature"], obj["metadata"]) == (0.5, {"job": "x"})
    # instructions 3 + developer 2 + user 2 + assistant 2 + user 2 words
    assert obj["usage"] == usage(11, 2)


def test_think_answers_a_reasoning_item_then_the_message(client: httpx.Client) -> None:
    obj = whole(client, body_of("think"))
    digest = digest_of(obj)
    reasoning = {
        "type": "reasoning",
        "id": "rs_" + digest,
        "summary": [{"type": "summary_text", "text": THOUGHT}],
    }
    assert obj["output"] == [reasoning, message(digest, "hello big world")]
    assert obj["usage"] == usage(3, 13, reasoning=10)


def test_tools_answers_function_calls_then_reads_their_outputs(client: httpx.Client) -> None:
    first = whole(client, body_of("tools", "Paris"))
    digest = digest_of(first)
    assert first["status"] == "completed"
    assert first["output"] == [
        {
            "type": "function_call",
            "id": f"fc_{digest}_0",
            "call_id": "call_0",
            "name": "get_weather",
            "arguments": '{"location":"Paris"}',
            "status": "completed",
        },
        {
            "type": "function_call",
            "id": f"fc_{digest}_1",
            "call_id": "call_1",
            "name": "get_time",
            "arguments": '{"timezone":"UTC"}',
            "status": "completed",
        },
    ]
    outputs = [
        {"type": "function_call_output", "call_id": "call_0", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_1", "output": "noon"},
    ]
    # stateless: the whole conversation sent again
    history = [{"role": "user", "content": "Paris"}, *first["output"], *outputs]
    stateless = whole(client, body_of("tools", history))
    assert stateless["output"] == [message(digest_of(stateless), "tool said: sunny\nnoon")]
    chained = whole(client, body_of("tools", outputs, previous_response_id=first["id"]))
    assert chained["output"] == [message(digest_of(chained), "tool said: sunny\nnoon")]
    assert chained["previous_response_id"] == first["id"]


def test_max_output_tokens_cuts_the_reply_incomplete(client: httpx.Client) -> None:
    obj = whole(client, body_of("echo", "one two three four", max_output_tokens=2))
    assert obj["status"] == "incomplete"
    assert obj["incomplete_details"] == {"reason": "max_output_tokens"}
    assert obj["max_output_tokens"] == 2
    assert obj["output"] == [message(digest_of(obj), "one two ", "incomplete")]
    assert obj["usage"] == usage(4, 2)
    # reasoning first: the budget gone before the answer, no message at all
    thought = whole(client, body_of("think", "hello big world", max_output_tokens=4))
    assert thought["status"] == "incomplete"
    assert [written(i) for i in thought["output"]] == ["The user wrote 3 "]
    assert thought["usage"] == usage(3, 4, reasoning=4)
    # get_weather's arguments {"location":"New York"} are 2 words, get_time's 1 more
    calls = whole(client, body_of("tools", "New York", max_output_tokens=2))
    assert [i["name"] for i in calls["output"]] == ["get_weather"]
    assert (calls["status"], calls["usage"]) == ("incomplete", usage(2, 2))
    fits = whole(client, body_of("echo", "one two", max_output_tokens=2))
    assert (fits["status"], fits["incomplete_details"]) == ("completed", None)
    lorem = whole(client, body_of("lorem", "x", max_output_tokens=7))
    assert (lorem["status"], len(written(lorem["output"][0]).split())) == ("completed", 7)


def test_created_at_is_the_gateway_clock() -> None:
    with mock.start() as fresh, httpx.Client(base_url=fresh.base_url, timeout=10) as c:
        fresh.advance_clock(1000)
        before = int(time.time()) + 1000
        created = whole(c, body_of("echo", "clock", store=False))["created_at"]
        assert before <= created <= int(time.time()) + 1000


# ---- streams ------------------------------------------------------------------------------

STREAMS = {
    "echo": [
        "created",
        "in_progress",
        "output_item.added",
        "content_part.added",
        *["output_text.delta"] * 3,
        "output_text.done",
        "content_part.done",
        "output_item.done",
        "completed",
    ],
    "think": [
        "created",
        "in_progress",
        "output_item.added",
        "reasoning_summary_part.added",
        *["reasoning_summary_text.delta"] * 10,
        "reasoning_summary_text.done",
        "reasoning_summary_part.done",
        "output_item.done",
        "output_item.added",
        "content_part.added",
        *["output_text.delta"] * 3,
        "output_text.done",
        "content_part.done",
        "output_item.done",
        "completed",
    ],
    "tools": [
        "created",
        "in_progress",
        *[
            "output_item.added",
            *["function_call_arguments.delta"] * 4,  # 5 characters a fragment
            "function_call_arguments.done",
            "output_item.done",
        ]
        * 2,
        "completed",
    ],
}


@pytest.mark.parametrize("model", list(STREAMS))
def test_stream_events_in_order(client: httpx.Client, model: str) -> None:
    evs = stream(client, body_of(model, "Oslo" if model == "tools" else "hello big world"))
    assert names(evs) == STREAMS[model]
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))


@pytest.mark.parametrize("model", ["echo", "lorem", "think", "tools", "unicode"])
@pytest.mark.parametrize("extra", [{}, {"max_output_tokens": 5}])
def test_stream_assembles_to_the_whole_answer(
    client: httpx.Client, model: str, extra: dict[str, Any]
) -> None:
    body = body_of(model, "  spaced\n\tout  and more words here", **extra)
    obj = whole(client, body)
    evs = stream(client, body)
    final = evs[-1]
    assert final["type"] == f"response.{obj['status']}"
    assert final["response"] == obj
    assert assembled(evs) == [written(item) for item in obj["output"]]
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))
    start = {**obj, "status": "in_progress", "output": [], "usage": None}
    start["incomplete_details"] = None
    assert [e["response"] for e in evs[:2]] == [start, start]
    done = [e for e in evs if e["type"] == "response.output_item.done"]
    assert [(e["output_index"], e["item"]) for e in done] == list(enumerate(obj["output"]))


def test_stream_item_events_carry_ids_and_parts(client: httpx.Client) -> None:
    evs = stream(client, body_of("think", "hi there"))
    obj = evs[-1]["response"]
    rs, msg = obj["output"][0]["id"], obj["output"][1]["id"]
    summary = {"item_id": rs, "output_index": 0, "summary_index": 0}
    assert evs[2] == {
        "type": "response.output_item.added",
        "sequence_number": 2,
        "output_index": 0,
        "item": {"type": "reasoning", "id": rs, "summary": []},
    }
    assert evs[3] == {
        "type": "response.reasoning_summary_part.added",
        "sequence_number": 3,
        **summary,
        "part": {"type": "summary_text", "text": ""},
    }
    assert evs[4] == {
        "type": "response.reasoning_summary_text.delta",
        "sequence_number": 4,
        **summary,
        "delta": "The ",
    }
    text = "The user wrote 2 words. I will repeat them back."
    assert evs[14:16] == [
        {
            "type": "response.reasoning_summary_text.done",
            "sequence_number": 14,
            **summary,
            "text": text,
        },
        {
            "type": "response.reasoning_summary_part.done",
            "sequence_number": 15,
            **summary,
            "part": {"type": "summary_text", "text": text},
        },
    ]
    content = {"item_id": msg, "output_index": 1, "content_index": 0}
    empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    assert evs[17:21] == [
        {
            "type": "response.output_item.added",
            "sequence_number": 17,
            "output_index": 1,
            "item": {**obj["output"][1], "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", "sequence_number": 18, **content, "part": empty},
        {
            "type": "response.output_text.delta",
            "sequence_number": 19,
            **content,
            "delta": "hi ",
            "logprobs": [],
        },
        {
            "type": "response.output_text.delta",
            "sequence_number": 20,
            **content,
            "delta": "there",
            "logprobs": [],
        },
    ]
    assert evs[21:23] == [
        {
            "type": "response.output_text.done",
            "sequence_number": 21,
            **content,
            "text": "hi there",
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            "sequence_number": 22,
            **content,
            "part": {**empty, "text": "hi there"},
        },
    ]


def test_stream_function_call_events(client: httpx.Client) -> None:
    evs = stream(client, body_of("tools", "Oslo"))
    call = evs[-1]["response"]["output"][0]
    at = {"item_id": call["id"], "output_index": 0}
    assert [e for e in evs if e.get("output_index") == 0] == [
        {
            "type": "response.output_item.added",
            "sequence_number": 2,
            "output_index": 0,
            "item": {**call, "arguments": "", "status": "in_progress"},
        },
        *[
            {
                "type": "response.function_call_arguments.delta",
                "sequence_number": 3 + i,
                **at,
                "delta": piece,
            }
            for i, piece in enumerate(['{"loc', "ation", '":"Os', 'lo"}'])
        ],
        {
            "type": "response.function_call_arguments.done",
            "sequence_number": 7,
            **at,
            "arguments": '{"location":"Oslo"}',
            "name": "get_weather",
        },
        {
            "type": "response.output_item.done",
            "sequence_number": 8,
            "output_index": 0,
            "item": call,
        },
    ]


def test_a_cut_stream_ends_response_incomplete(client: httpx.Client) -> None:
    evs = stream(client, body_of("echo", "one two three four", max_output_tokens=3))
    assert names(evs)[-1] == "incomplete"
    final = evs[-1]["response"]
    assert (final["status"], final["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    assert assembled(evs) == ["one two three "]
    assert final["output"][0]["status"] == "incomplete"


# ---- encrypted reasoning, stored responses ------------------------------------------------


def test_include_encrypted_content(client: httpx.Client) -> None:
    body = body_of("think", include=["reasoning.encrypted_content"], store=False)
    obj = whole(client, body)
    item = obj["output"][0]
    assert set(item) == {"type", "id", "summary", "encrypted_content"}
    assert re.fullmatch(r"gAAAAAB[A-Za-z0-9_-]{86}==", item["encrypted_content"])
    assert whole(client, body)["output"][0] == item  # deterministic
    evs = stream(client, body)
    assert "encrypted_content" not in evs[2]["item"]  # output_item.added
    assert evs[-1]["response"]["output"] == obj["output"]
    assert "encrypted_content" not in whole(client, body_of("think"))["output"][0]
    # sent back without store: accepted, the conversation goes on
    turn = [{"role": "user", "content": "hello big world"}, *obj["output"]]
    again = [*turn, {"role": "user", "content": "and now"}]
    more = whole(client, body_of("think", again, store=False))
    assert written(more["output"][1]) == "and now"


def test_previous_response_id_puts_its_conversation_first(client: httpx.Client) -> None:
    first = whole(client, body_of("echo", "first question"))
    second = whole(client, body_of("echo", "second", previous_response_id=first["id"]))
    assert second["previous_response_id"] == first["id"]
    assert second["output"] == [message(digest_of(second), "second")]
    assert second["usage"] == usage(5, 1)  # 2 asked + 2 answered + 1
    third = whole(client, body_of("echo", [], previous_response_id=second["id"]))
    assert written(third["output"][0]) == "second"  # still the last user text
    assert third["usage"] == usage(6, 1)
    assert digest_of(third) not in (digest_of(first), digest_of(second))


def test_unknown_previous_response_id_is_404(client: httpx.Client) -> None:
    r = client.post("/responses", json=body_of(previous_response_id="resp_x"))
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": "Previous response with id 'resp_x' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }
    unstored = whole(client, body_of("echo", "not kept", store=False))
    assert unstored["store"] is False
    r = client.post("/responses", json=body_of(previous_response_id=unstored["id"]))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "previous_response_not_found"


def test_unstored_reasoning_item_without_encrypted_content_is_404(client: httpx.Client) -> None:
    reasoning = {"type": "reasoning", "id": "rs_abc123", "summary": []}
    items = [{"role": "user", "content": "hi"}, reasoning, {"role": "user", "content": "more"}]
    r = client.post("/responses", json=body_of("think", items, store=False))
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": "Item with id 'rs_abc123' not found. Items are not persisted when `store`"
            " is set to false. Try again with `store` set to true, or remove this item from"
            " your input.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }
    assert whole(client, body_of("think", items))["status"] == "completed"  # stored: fine
    sealed = [items[0], {**reasoning, "encrypted_content": "gAAAAABx"}, items[2]]
    assert whole(client, body_of("think", sealed, store=False))["status"] == "completed"


@pytest.mark.parametrize(
    ("value", "param", "code", "message"),
    [
        (None, "input", "missing_required_parameter", "Missing required parameter: 'input'."),
        (
            5,
            "input",
            "invalid_type",
            "Invalid type for 'input': expected one of a string or array of input items,"
            " but got an integer instead.",
        ),
        (
            {"role": "user"},
            "input",
            "invalid_type",
            "Invalid type for 'input': expected one of a string or array of input items,"
            " but got an object instead.",
        ),
        (
            ["hi"],
            "input[0]",
            "invalid_type",
            "Invalid type for 'input[0]': expected an input item, but got a string instead.",
        ),
        (
            [{"role": "user", "content": "hi"}, None],
            "input[1]",
            "invalid_type",
            "Invalid type for 'input[1]': expected an input item, but got null instead.",
        ),
    ],
)
def test_bad_input_is_400(
    client: httpx.Client, value: Any, param: str, code: str, message: str
) -> None:
    body = {"model": "echo"} if value is None else body_of("echo", value)
    for stream_it in (False, True):
        r = client.post("/responses", json={**body, "stream": stream_it})
        assert r.status_code == 400
        assert r.json() == {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        }


# ---- faults -------------------------------------------------------------------------------


def test_error_after_sends_openai_error_event(client: httpx.Client) -> None:
    r = client.post(
        "/responses",
        json=body_of("echo", stream=True),
        headers={"X-Mock-Fault": "error_after=3"},
    )
    evs = events(r.content)
    assert names(evs) == ["created", "in_progress", "output_item.added", "error"]
    assert evs[-1] == {"type": "error", **SERVER_ERROR, "param": None, "sequence_number": 3}
    assert r.headers["connection"] == "close"


def test_failed_fault_ends_the_stream_response_failed(client: httpx.Client) -> None:
    body = body_of("think")
    obj = whole(client, body)
    evs = stream(client, body, **{"X-Mock-Fault": "failed"})
    assert names(evs) == [*STREAMS["think"][:-1], "failed"]
    assert evs[-1]["response"] == {**obj, "status": "failed", "error": SERVER_ERROR}
    assert whole(client, body, **{"X-Mock-Fault": "failed"}) == obj  # streams only
    once = {"X-Mock-Fault": "failed;times=1"}
    assert names(stream(client, body_of("echo", "times", store=False), **once))[-1] == "failed"


def test_generic_stream_faults_apply(client: httpx.Client) -> None:
    cut = stream(client, body_of("echo"), **{"X-Mock-Fault": "eof=4"})
    assert names(cut) == ["created", "in_progress", "output_item.added", "content_part.added"]
    r = client.post(
        "/responses", json=body_of("echo", stream=True), headers={"X-Mock-Fault": "malformed=2"}
    )
    second = r.content.decode().split("\n\n")[1]
    assert second == 'event: response.in_progress\ndata: {"choices": ['
    r = client.post("/responses", json=body_of(), headers={"X-Mock-Fault": "status=503"})
    assert r.status_code == 503
    r = client.post("/responses", json=body_of(), headers={"X-Mock-Fault": "malformed"})
    assert (r.status_code, r.content) == (200, b'{"choices": [')


# ---- profiles, batches, replay ------------------------------------------------------------


def test_profiles_serving_responses() -> None:
    key = {"Authorization": "Bearer k"}
    with mock.start("openrouter") as gw, httpx.Client(timeout=10) as c:
        assert gw.url("responses") == gw.base_url + "/responses"
        r = c.post(gw.url("responses"), json=body_of("echo"), headers=key)
        assert r.status_code == 200 and r.json()["object"] == "response"
    for name in ("lumiltc", "lumenfall", "lumyx", "llmbase", "lumyxai", "anthropic"):
        with mock.start(name) as gw, httpx.Client(timeout=10) as c:
            with pytest.raises(ValueError):
                gw.url("responses")
            r = c.post(gw.base_url + "/responses", json=body_of("echo"), headers=key)
            assert r.status_code == 404, name


def test_batch_rows_get_whole_responses(tmp_path: Path) -> None:
    url = "/v1/responses"
    rows = [
        {"custom_id": "a", "method": "POST", "url": url, "body": body_of("think", "row a")},
        {"custom_id": "b", "method": "POST", "url": url, "body": {"model": "echo"}},
        {
            "custom_id": "c",
            "method": "POST",
            "url": url,
            "body": body_of("echo", "c", previous_response_id="resp_x"),
        },
    ]
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    with (
        mock.start(batch_seconds=3600, batch_dir=tmp_path) as gw,
        httpx.Client(base_url=gw.base_url, timeout=10) as c,
    ):
        file_id = c.post(
            "/files", files={"file": ("in.jsonl", data)}, data={"purpose": "batch"}
        ).json()["id"]
        made = c.post(
            "/batches",
            json={"input_file_id": file_id, "endpoint": url, "completion_window": "24h"},
        ).json()
        gw.advance_clock(3600)
        batch = c.get(f"/batches/{made['id']}").json()
        assert (batch["status"], batch["request_counts"]) == (
            "completed",
            {"total": 3, "completed": 1, "failed": 2},
        )
        out = c.get(f"/files/{batch['output_file_id']}/content").content.splitlines()
        errs = c.get(f"/files/{batch['error_file_id']}/content").content.splitlines()
        live = whole(c, body_of("think", "row a"))
    (row,) = [orjson.loads(x) for x in out]
    assert row["custom_id"] == "a"
    assert row["response"]["body"] == {**live, "created_at": made["created_at"]}
    failed = {r["custom_id"]: r["response"] for r in map(orjson.loads, errs)}
    assert failed["b"]["status_code"] == 400
    assert failed["b"]["body"]["error"]["param"] == "input"
    assert failed["c"]["status_code"] == 404
    assert failed["c"]["body"]["error"]["code"] == "previous_response_not_found"


def test_a_recorded_stream_replays_byte_for_byte(client: httpx.Client, tmp_path: Path) -> None:
    body = body_of("tools", "Rome", stream=True)
    live = client.post("/responses", json=body)
    line = {
        "request": {"method": "POST", "path": "/v1/responses", "headers": {}, "body": body},
        "response": {
            "status": 200,
            "headers": {"content-type": "text/event-stream"},
            "body": live.text,
        },
    }
    cassette = tmp_path / "c.jsonl"
    cassette.write_bytes(orjson.dumps(line) + b"\n")
    with mock.start(replay=cassette) as gw, httpx.Client(base_url=gw.base_url, timeout=10) as c:
        again = c.post("/responses", json=body)
    assert (again.status_code, again.content) == (200, live.content)
    assert events(again.content)[-1]["type"] == "response.completed"
