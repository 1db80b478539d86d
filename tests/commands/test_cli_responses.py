"""``llmcli responses`` end to end: the Responses API, whole and streamed, through the
real process against the offline gateway on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import host, llmcli

from llmcli import mock as offline
from llmcli.client import Client

MODELS = ["echo", "think", "tools", "unicode", "lorem"]


def fault(spec: str) -> tuple[str, str]:
    return ("-H", f"X-Mock-Fault: {spec}")


def raw_stream(url: str, body: dict[str, Any], spec: str = "") -> bytes:
    headers = {"X-Mock-Fault": spec} if spec else {}
    answer = httpx.post(url + "/responses", json={**body, "stream": True}, headers=headers)
    assert answer.status_code == 200
    return answer.content


def test_text_whole_and_streamed(url: str) -> None:
    for extra in ((), ("--stream",)):
        r = llmcli("responses", *extra, "--base-url", url, "-m", "echo", "hello there")
        assert (r.code, r.out, r.err) == (0, b"hello there\n", "")


@pytest.mark.parametrize("model", MODELS)
def test_the_assembled_stream_equals_the_whole_response(url: str, model: str) -> None:
    """In the library (one process): whole, streamed, and streamed a byte at a time."""
    body = {"model": model, "input": "what now, pipes?"}
    with Client(base_url=url, api_key="k") as client:
        whole = client.responses(body)
        streamed = client.responses({**body, "stream": True})
        pieces = list(client.stream(body, api="responses"))
    assert whole["object"] == "response" and whole["status"] == "completed"
    assert streamed == whole
    assert pieces[-1].kind == "reply" and pieces[-1].data == whole
    text = "".join(p.text for p in pieces if p.kind == "content")
    assert text == "".join(
        part["text"]
        for item in whole["output"]
        if item["type"] == "message"
        for part in item["content"]
    )


@pytest.mark.parametrize("model", ["think", "tools", "unicode"])
def test_an_event_cut_anywhere_gives_the_same_output(url: str, model: str) -> None:
    args = ("--base-url", url, "-m", model, "split me")
    whole = llmcli("responses", "-o", "json", *args)
    split = llmcli("responses", "--stream", "-o", "json", *args, *fault("slow=1:0"))
    assert (whole.code, split.code) == (0, 0)
    assert split.out == whole.out
    text = llmcli("responses", "--stream", *args, *fault("slow=7:0;split_utf8"))
    assert text.out == llmcli("responses", *args).out


def test_reasoning_summaries_go_to_stderr_only_with_reasoning(url: str) -> None:
    args = ("--base-url", url, "-m", "think", "two words")
    plain = llmcli("responses", "--stream", *args)
    shown = llmcli("responses", "--stream", "--reasoning", *args)
    response = orjson.loads(llmcli("responses", "-o", "json", *args).out)
    summary = response["output"][0]["summary"][0]["text"]
    assert summary == "The user wrote 2 words. I will repeat them back."
    assert plain.out == shown.out == b"two words\n"
    assert (plain.err, shown.err) == ("", summary + "\n")


def test_jsonl_is_every_event_with_its_name_and_sse_the_bytes(url: str) -> None:
    body = {"model": "think", "input": "two words"}
    raw = raw_stream(url, body)
    sse = llmcli("responses", "--stream", "-o", "sse", "--base-url", url, "-m", "think",
                 "two words")  # fmt: skip
    assert (sse.code, sse.out) == (0, raw)
    jsonl = llmcli("responses", "--stream", "-o", "jsonl", "--base-url", url, "-m", "think",
                   "two words")  # fmt: skip
    lines = [orjson.loads(line) for line in jsonl.out.splitlines()]
    events = [block for block in raw.split(b"\n\n") if block]
    assert len(lines) == len(events)
    assert [line["event"] for line in lines] == [
        block.split(b"\n")[0].removeprefix(b"event: ").decode() for block in events
    ]
    assert lines[0]["event"] == "response.created" and lines[-1]["event"] == "response.completed"
    assert [line["data"]["sequence_number"] for line in lines] == list(range(len(lines)))


def test_function_calls_are_printed_as_json_lines_after_the_text(url: str) -> None:
    for extra in ((), ("--stream",)):
        r = llmcli("responses", *extra, "--base-url", url, "-m", "tools", "Paris")
        assert r.code == 0, r.err
        calls = [orjson.loads(line) for line in r.out.splitlines()]
        assert [(c["type"], c["name"], c["call_id"]) for c in calls] == [
            ("function_call", "get_weather", "call_0"),
            ("function_call", "get_time", "call_1"),
        ]
        assert orjson.loads(calls[0]["arguments"]) == {"location": "Paris"}


def test_incomplete_exits_0_with_the_text_and_a_line_saying_why(url: str) -> None:
    for extra in ((), ("--stream",)):
        r = llmcli("responses", *extra, "--base-url", url, "-m", "echo",
                   "--max-output-tokens", "2", "one two three four")  # fmt: skip
        assert (r.code, r.out) == (0, b"one two \n")
        assert r.err == "llmcli: the response is incomplete: max_output_tokens\n"


def test_an_error_event_a_failed_response_and_a_cut_stream(url: str) -> None:
    args = ("responses", "--stream", "--base-url", url, "-m", "echo", "one two three")
    error = llmcli(*args, *fault("error_after=4"))
    assert error.code == 69
    assert error.err == (
        f"llmcli: error from {host(url)}: The server had an error while processing your "
        "request. [server_error]\n"
    )
    failed = llmcli(*args, *fault("failed"))
    assert (failed.code, failed.out) == (69, b"one two three")
    assert failed.err == (
        f"llmcli: error from {host(url)}: The server had an error while processing your "
        "request. [server_error]\n"
    )
    cut = llmcli(*args, *fault("no_done"))
    assert (cut.code, cut.out) == (76, b"one two three")
    assert cut.err == (
        f"llmcli: stream from {host(url)} ended before it finished (no response.completed "
        f"or response.incomplete) (POST {url}/responses)\n"
    )
    partial = llmcli(*args, "-o", "json", *fault("no_done"))
    assert partial.code == 76
    assert orjson.loads(partial.out)["output"][0]["content"][0]["text"] == "one two three"


def test_an_error_answered_as_an_event_stream_with_a_500(url: str) -> None:
    body = (
        "event: error\n"
        'data: {"type": "error", "code": "server_error", "message": "model crashed"}\n\n'
    )
    spec = "status=500;content_type=text/event-stream;body=" + body.replace("\n", "%0A").replace(
        ";", "%3B"
    )
    r = llmcli("responses", "--stream", "--retries", "0", "--base-url", url, "-m", "echo",
               "hi", *fault(spec))  # fmt: skip
    assert r.code == 69
    assert r.err == (
        f"llmcli: 500 Internal Server Error from {host(url)}: model crashed [server_error] "
        f"(POST {url}/responses)\n"
    )


def test_dry_run_body(url: str, tmp_path: Path) -> None:
    schema = tmp_path / "answer.json"
    schema.write_bytes(b'{"type": "object", "properties": {"n": {"type": "integer"}}}')
    tool = tmp_path / "add.json"
    tool.write_bytes(b'{"type": "object", "description": "Add.", "properties": {}}')
    r = llmcli("responses", "--dry-run", "--base-url", url, "-m", "gpt-5", "-s", "Be brief.",
               "--max-output-tokens", "64", "--reasoning-effort", "low", "--reasoning-summary",
               "auto", "--no-store", "--include", "message.output_text.logprobs",
               "--schema", str(schema), "--tool", f"add={tool}", "--tool-choice", "add",
               "-p", "truncation=auto", "hello")  # fmt: skip
    assert r.code == 0, r.err
    sent = orjson.loads(r.out)
    assert sent["url"] == url + "/responses"
    assert sent["body"] == {
        "input": "hello",
        "instructions": "Be brief.",
        "model": "gpt-5",
        "max_output_tokens": 64,
        "store": False,
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["message.output_text.logprobs", "reasoning.encrypted_content"],
        "tools": [{"type": "function", "name": "add", "description": "Add.",
                   "parameters": orjson.loads(tool.read_bytes())}],
        "tool_choice": {"type": "function", "name": "add"},
        "text": {"format": {"type": "json_schema", "name": "answer",
                            "schema": orjson.loads(schema.read_bytes()), "strict": True}},
        "truncation": "auto",
    }  # fmt: skip


def test_json_and_schema_are_checked_here(url: str, tmp_path: Path) -> None:
    schema = tmp_path / "s.json"
    schema.write_bytes(b'{"type": "object"}')
    text = llmcli("responses", "--json", "--base-url", url, "-m", "echo", "plain words")
    assert (text.code, text.out) == (3, b"plain words\n")
    assert text.err == (
        "llmcli: the reply is not JSON, which --json asked for: it is text ('plain words')\n"
    )
    good = llmcli("responses", "--schema", str(schema), "--base-url", url, "-m", "echo",
                  '{"a": 1}')  # fmt: skip
    assert (good.code, good.out) == (0, b'{"a": 1}\n')


def test_a_stateless_conversation_sends_encrypted_reasoning_back(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    conv = tmp_path / "c.jsonl"
    args = ("responses", "--base-url", gw.base_url, "-m", "think", "--no-store", "-c", str(conv))
    first = llmcli(*args, "-s", "Be brief.", "first turn")
    assert (first.code, first.out) == (0, b"first turn\n"), first.err
    second = llmcli(*args, "second turn")
    assert (second.code, second.out) == (0, b"second turn\n"), second.err
    items = [orjson.loads(line) for line in conv.read_bytes().splitlines()]
    assert items[4] == {"type": "llmcli.response_id", "id": items[4]["id"], "stored": False}
    assert [i.get("type", i.get("role")) for i in items] == [
        "system", "user", "reasoning", "message", "llmcli.response_id",
        "user", "reasoning", "message", "llmcli.response_id",
    ]  # fmt: skip
    sent = orjson.loads(gw.requests[1].body)
    assert sent["instructions"] == "Be brief."
    assert sent["store"] is False and sent["include"] == ["reasoning.encrypted_content"]
    assert sent["input"] == [*items[1:4], {"role": "user", "content": "second turn"}]
    assert sent["input"][1]["encrypted_content"].startswith("gAAAA")


def test_a_stateful_conversation_sends_only_the_new_input(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    conv = tmp_path / "c.jsonl"
    args = ("responses", "--base-url", gw.base_url, "-m", "echo", "-c", str(conv))
    assert llmcli(*args, "-s", "Be brief.", "first turn").code == 0
    first_id = orjson.loads(conv.read_bytes().splitlines()[-1])["id"]
    second = llmcli(*args, "--previous-response-id", "last", "second turn")
    assert (second.code, second.out) == (0, b"second turn\n"), second.err
    sent = orjson.loads(gw.requests[1].body)
    assert sent["previous_response_id"] == first_id
    assert sent["input"] == "second turn"
    assert sent["instructions"] == "Be brief."  # instructions do not carry over
    none = llmcli("responses", "--base-url", gw.base_url, "-m", "echo", "-c",
                  str(tmp_path / "new.jsonl"), "--previous-response-id", "last", "hi")  # fmt: skip
    assert none.code == 2
    assert none.err.endswith("--previous-response-id last: " + str(tmp_path / "new.jsonl")
                             + " holds no response yet\n")  # fmt: skip
    private = tmp_path / "private.jsonl"
    assert llmcli(*args[:-1], str(private), "--no-store", "one").code == 0
    unstored = llmcli(*args[:-1], str(private), "--previous-response-id", "last", "two")
    assert unstored.code == 2
    assert unstored.err == (
        f"llmcli: --previous-response-id last: the last response in {private} was not stored "
        "(--no-store): continue without --previous-response-id, which sends it all\n"
    )
    switched = llmcli(*args, "--no-store", "third turn")  # stored reasoning: never sent back
    assert switched.code == 0, switched.err


def test_chat_points_to_responses_for_a_model_only_served_there(url: str) -> None:
    message = "This model is only supported in v1/responses and not in v1/chat/completions."
    error = orjson.dumps({"error": {"message": message, "type": "invalid_request_error",
                                    "param": "model", "code": None}}).decode()  # fmt: skip
    spec = "status=404;content_type=application/json;body=" + error.replace(";", "%3B")
    r = llmcli("chat", "--base-url", url, "-m", "gpt-5-codex", "hi", *fault(spec))
    assert r.code == 65
    assert r.err.startswith(f"llmcli: 404 Not Found from {host(url)}: {message}")
    assert r.err.endswith(" (use `llmcli responses`, which speaks the Responses API)\n")


def test_batch_rows_go_to_responses(url: str, tmp_path: Path) -> None:
    rows = [
        {"custom_id": "a", "method": "POST", "url": "/v1/responses",
         "body": {"model": "echo", "input": "first"}},
        {"custom_id": "b", "method": "POST", "url": "/v1/responses", "body": {"input": "x"}},
        {"custom_id": "c", "url": "/v1/responses", "body": {"model": "echo", "input": []}},
    ]  # fmt: skip
    source = b"".join(orjson.dumps(row) + b"\n" for row in rows)
    r = llmcli("batch", "run", "--base-url", url, "-m", "think", "--max-tokens", "50",
               "-s", "Be brief.", stdin=source)  # fmt: skip
    assert r.code == 65, r.err
    out = [orjson.loads(line) for line in r.out.splitlines()]
    assert [o["custom_id"] for o in out] == ["a", "b", "c"]
    first, second = out[0]["response"]["body"], out[1]["response"]["body"]
    assert first["object"] == "response" and first["model"] == "echo"
    assert first["instructions"] == "Be brief." and first["max_output_tokens"] == 50
    assert second["model"] == "think"
    assert out[2]["error"]["message"] == (
        'line 3: a responses body needs "input" (a string or items)'
    )


def test_batch_submit_takes_responses_rows(url: str, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(orjson.dumps({"custom_id": "a", "method": "POST", "url": "/v1/responses",
                                   "body": {"model": "echo", "input": "hi"}}) + b"\n")  # fmt: skip
    r = llmcli("batch", "submit", "-g", "mock", "--base-url", url, str(rows))
    assert r.code == 0, r.err
    batch = orjson.loads(r.out)
    assert batch["endpoint"] == "/v1/responses"
    done = llmcli("batch", "fetch", "-g", "mock", "--base-url", url, "--wait", batch["id"])
    assert done.code == 0, done.err
    row = orjson.loads(done.out)
    assert row["custom_id"] == "a" and row["response"]["body"]["object"] == "response"


def test_messages_are_input_items_and_nested_tools_are_flattened(url: str, tmp_path: Path) -> None:
    history = tmp_path / "items.jsonl"
    items = [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": [{"type": "text", "text": "add 1 and 2"}]},
        {"type": "function_call", "call_id": "c1", "name": "add", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "3"},
        {"type": "some_future_item", "x": 1},
    ]
    history.write_bytes(b"".join(orjson.dumps(i) + b"\n" for i in items))
    tools = tmp_path / "tools.json"
    nested = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    tools.write_bytes(orjson.dumps([nested, {"type": "web_search"}]))
    r = llmcli("responses", "--dry-run", "--base-url", url, "-m", "m", "--messages",
               str(history), "--tools", str(tools), "and now?")  # fmt: skip
    assert r.code == 0, r.err
    body = orjson.loads(r.out)["body"]
    assert body["instructions"] == "Answer in French."
    assert body["input"] == [
        {"role": "user", "content": [{"type": "input_text", "text": "add 1 and 2"}]},
        *items[2:],
        {"role": "user", "content": "and now?"},
    ]
    assert body["tools"] == [
        {"type": "function", "name": "add", "parameters": {"type": "object"}},
        {"type": "web_search"},
    ]
    history.write_bytes(b'{"role": "user", "content": "hi"}\n["not", "an", "item"]\n')
    bad = llmcli("responses", "--dry-run", "--base-url", url, "-m", "m", "--messages",
                 str(history), "x")  # fmt: skip
    assert bad.code == 65
    assert bad.err == f"llmcli: {history}:2: a message must be a JSON object\n"
