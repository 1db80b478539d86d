"""``llmcli messages`` end to end: Anthropic Messages, whole and streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import SECRET, host, llmcli

from llmcli import mock as offline


def fault(spec: str) -> tuple[str, str]:
    return ("-H", f"X-Mock-Fault: {spec}")


def test_text_whole_and_streamed(url: str) -> None:
    for extra in ((), ("--stream",)):
        r = llmcli("messages", *extra, "--base-url", url, "-m", "echo", "hello there")
        assert (r.code, r.out, r.err) == (0, b"hello there\n", "")


@pytest.mark.parametrize("model", ["echo", "think", "tools", "unicode", "lorem"])
def test_stream_json_equals_whole_json(url: str, model: str) -> None:
    args = ("-o", "json", "--base-url", url, "-m", model, "what now?")
    whole = llmcli("messages", *args)
    streamed = llmcli("messages", "--stream", *args)
    assert (whole.code, streamed.code) == (0, 0)
    assert streamed.out == whole.out
    assert orjson.loads(whole.out)["type"] == "message"


@pytest.mark.parametrize("model", ["think", "tools", "unicode"])
def test_every_block_type_split_at_every_byte_boundary(url: str, model: str) -> None:
    args = ("-o", "json", "--base-url", url, "-m", model, "split me")
    whole = llmcli("messages", *args)
    split = llmcli("messages", "--stream", *args, *fault("slow=1:0"))
    assert split.code == 0
    assert split.out == whole.out
    blocks = orjson.loads(whole.out)["content"]
    if model == "think":
        assert blocks[0]["type"] == "thinking" and blocks[0]["signature"]
    if model == "tools":
        assert blocks[0]["input"] == {"location": "split me"}


def test_thinking_goes_to_stderr_only_with_reasoning(url: str) -> None:
    plain = llmcli("messages", "--stream", "--base-url", url, "-m", "think", "two words")
    shown = llmcli(
        "messages", "--stream", "--reasoning", "--base-url", url, "-m", "think", "two words"
    )
    thinking = orjson.loads(
        llmcli("messages", "-o", "json", "--base-url", url, "-m", "think", "two words").out
    )["content"][0]["thinking"]
    assert plain.out == shown.out == b"two words\n"
    assert plain.err == ""
    assert shown.err == thinking + "\n"


@pytest.mark.parametrize("stream", [(), ("--stream",)])
def test_tool_use_blocks_reach_stdout(url: str, stream: tuple[str, ...]) -> None:
    r = llmcli("messages", *stream, "--base-url", url, "-m", "tools", "Paris")
    assert r.out == (
        b'{"type":"tool_use","id":"toolu_0","name":"get_weather","input":{"location":"Paris"}}\n'
        b'{"type":"tool_use","id":"toolu_1","name":"get_time","input":{"timezone":"UTC"}}\n'
    )


def test_jsonl_is_each_event_with_its_name(url: str) -> None:
    r = llmcli("messages", "--stream", "-o", "jsonl", "--base-url", url, "-m", "echo", "a b")
    rows = [orjson.loads(line) for line in r.out.splitlines()]
    assert rows[0]["event"] == "message_start"
    assert rows[-1] == {"event": "message_stop", "data": {"type": "message_stop"}}
    assert all(row["event"] == row["data"]["type"] for row in rows)


def test_request_shape(url: str, tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(
        '[{"type": "function", "function": {"name": "get_weather", "description": "Weather",'
        ' "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]'
    )
    conv = tmp_path / "conv.jsonl"
    conv.write_text(
        '{"role": "system", "content": "from file"}\n'
        '{"role": "user", "content": "earlier"}\n'
        '{"role": "assistant", "content": "ok"}\n'
    )
    r = llmcli(
        "messages",
        "--dry-run",
        "--base-url",
        url,
        "-m",
        "echo",
        "--messages",
        str(conv),
        "--thinking-budget",
        "2000",
        "--tools",
        str(tools),
        "--tool-choice",
        "get_weather",
        "--stop",
        "END",
        "--top-k",
        "5",
        "--temperature",
        "0.3",
        "--metadata",
        '{"user_id": "u1"}',
        "-p",
        "service_tier=auto",
        "now",
    )
    assert r.code == 0, r.err
    request = orjson.loads(r.out)
    assert request["url"] == f"{url}/messages"
    assert request["headers"]["anthropic-version"] == "2023-06-01"
    assert request["body"] == {
        "messages": [
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "now"},
        ],
        "system": "from file",
        "model": "echo",
        "temperature": 0.3,
        "top_k": 5,
        "stop_sequences": ["END"],
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "metadata": {"user_id": "u1"},
        "max_tokens": 6096,
        "service_tier": "auto",
    }
    r = llmcli(
        "messages",
        "--dry-run",
        "--base-url",
        url,
        "-m",
        "m",
        "-s",
        "flag wins",
        "--messages",
        str(conv),
        "x",
    )
    body = orjson.loads(r.out)["body"]
    assert (body["system"], body["max_tokens"]) == ("flag wins", 4096)


@pytest.fixture(scope="module")
def anthropic_gw() -> Iterator[offline.RunningGateway]:
    with offline.start("anthropic") as running:
        yield running


@pytest.mark.parametrize("stream", [(), ("--stream",)])
def test_anthropic_gateway_end_to_end_with_x_api_key(anthropic_gw, stream) -> None:
    r = llmcli(
        "messages",
        *stream,
        "-g",
        "anthropic",
        "--base-url",
        anthropic_gw.base_url,
        "hello claude",
        env={"ANTHROPIC_API_KEY": SECRET},
    )
    assert (r.code, r.out, r.err) == (0, b"hello claude\n", "")
    headers = anthropic_gw.requests[-1].headers
    assert headers["x-api-key"] == SECRET
    assert headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers


def test_anthropic_dry_run_shows_documented_url_and_redacted_key() -> None:
    r = llmcli("messages", "-g", "anthropic", "--dry-run", "hi", env={"ANTHROPIC_API_KEY": SECRET})
    request = orjson.loads(r.out)
    assert request["url"] == "https://api.anthropic.com/v1/messages"
    assert request["headers"]["x-api-key"] == "***"
    assert request["headers"]["anthropic-version"] == "2023-06-01"
    assert request["body"]["model"] == "claude-sonnet-4-5"
    assert SECRET not in r.text


@pytest.mark.parametrize("stream", [(), ("--stream",)])
def test_seed_004_messages_end_to_end(stream) -> None:
    with offline.start("lumyxai") as g:
        r = llmcli(
            "messages",
            *stream,
            "-g",
            "lumyxai",
            "--base-url",
            g.base_url,
            "hi 004",
            env={"LUMYXAI_API_KEY": SECRET},
        )
        assert (r.code, r.out) == (0, b"hi 004\n")
        assert g.requests[-1].path == "/api/v1/messages"
        assert g.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
    r = llmcli("messages", "-g", "lumyxai", "--dry-run", "hi", env={"LUMYXAI_API_KEY": SECRET})
    request = orjson.loads(r.out)
    assert request["url"] == "https://lumyx-ai.site/api/v1/messages"
    assert request["headers"]["Authorization"] == "Bearer ***"


@pytest.mark.parametrize("read", ["", "burst;"])  # burst: all the events in one read
def test_overloaded_error_mid_stream_keeps_what_arrived(url: str, read: str) -> None:
    r = llmcli(
        "messages",
        "--stream",
        "--base-url",
        url,
        "-m",
        "lorem",
        "--max-tokens",
        "50",
        *fault(read + "error_after=6"),
        "x",
    )
    assert r.code == 69
    assert r.out == b"lorem ipsum dolor "  # message_start, block start, ping, 3 deltas
    assert r.err == f"llmcli: error from {host(url)}: Overloaded [overloaded_error]\n"


def test_stream_without_message_stop_exits_76(url: str) -> None:
    r = llmcli("messages", "--stream", "--base-url", url, "-m", "echo", *fault("no_done"), "a b")
    assert r.code == 76
    assert r.out == b"a b"
    assert "ended before it finished (no message_stop)" in r.err


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 65), (401, 77), (403, 77), (404, 65), (413, 65), (429, 75), (500, 69), (529, 69)],
)
def test_anthropic_error_statuses(url: str, status: int, code: int) -> None:
    r = llmcli(
        "messages",
        "--retries",
        "0",
        "--base-url",
        url,
        "-m",
        "echo",
        *fault(f"status={status}"),
        "x",
    )
    assert r.code == code
    assert r.err.startswith(f"llmcli: {status} ")
    assert r.err.count("\n") == 1


def test_sse_output_needs_stream() -> None:
    r = llmcli("messages", "-g", "mock", "-o", "sse", "x")
    assert (r.code, r.err) == (2, "llmcli: -o sse needs a stream: add --stream\n")
