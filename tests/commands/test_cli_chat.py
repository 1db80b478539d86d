"""``llmcli chat`` / ``llmcli stream`` end to end against the offline gateway."""

from __future__ import annotations

import httpx
import orjson
import pytest
from conftest import llmcli
from reading import read_until

from llmcli import mock as offline

LOREM_10 = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do\n"


def test_stdin_is_the_prompt(url: str) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "echo", stdin=b"hi\n")
    assert (r.code, r.out, r.err) == (0, b"hi\n", "")


def test_mock_gateway_runs_in_process() -> None:
    r = llmcli("chat", "-g", "mock", "-m", "echo", stdin=b"hello offline\n")
    assert (r.code, r.out, r.err) == (0, b"hello offline\n", "")


def test_prompt_is_stdin_then_files_then_words(url: str, tmp_path) -> None:
    a = tmp_path / "a.txt"
    a.write_bytes(b"file A\n")
    b = tmp_path / "b.txt"
    b.write_bytes(b"file B")
    r = llmcli(
        "chat",
        "--base-url",
        url,
        "-m",
        "echo",
        "-f",
        str(a),
        "-f",
        str(b),
        "the",
        "words",
        stdin=b"from stdin\n\n",
    )
    assert r.out == b"from stdin\n\nfile A\n\nfile B\n\nthe words\n"
    assert r.code == 0


def test_dash_file_reads_stdin_in_its_place(url: str, tmp_path) -> None:
    a = tmp_path / "a.txt"
    a.write_text("A")
    r = llmcli("chat", "--base-url", url, "-m", "echo", "-f", str(a), "-f", "-", "W", stdin=b"S")
    assert r.out == b"A\n\nS\n\nW\n"


def test_no_stdin_flag_leaves_stdin_alone(url: str) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "echo", "--no-stdin", "only", stdin=b"ignored")
    assert r.out == b"only\n"


def test_stream_text_arrives_exactly(url: str) -> None:
    r = llmcli("stream", "--base-url", url, "-m", "lorem", "--max-tokens", "10", "go")
    assert (r.code, r.out, r.err) == (0, LOREM_10, "")


def test_stream_sse_is_byte_for_byte_what_the_server_sent(url: str) -> None:
    args = ("--base-url", url, "-m", "unicode", "go")
    dry = orjson.loads(llmcli("stream", "--dry-run", *args).out)
    direct = httpx.post(dry["url"], content=orjson.dumps(dry["body"]), headers=dry["headers"])
    r = llmcli("stream", "-o", "sse", *args)
    assert r.code == 0
    assert r.out == direct.content
    assert r.out.endswith(b"data: [DONE]\n\n")


def test_stream_jsonl_is_one_compact_chunk_per_line(url: str) -> None:
    r = llmcli("stream", "-o", "jsonl", "--base-url", url, "-m", "echo", "a b c")
    lines = r.out.decode().splitlines()
    chunks = [orjson.loads(line) for line in lines]
    assert [orjson.dumps(c).decode() for c in chunks] == lines
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert content == "a b c"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("model", ["echo", "think", "tools", "unicode"])
def test_stream_json_equals_chat_json(url: str, model: str) -> None:
    args = ("-o", "json", "--base-url", url, "-m", model, "what", "now?")
    whole = llmcli("chat", *args)
    streamed = llmcli("stream", *args)
    assert (whole.code, streamed.code) == (0, 0)
    assert streamed.out == whole.out
    reply = orjson.loads(whole.out)
    assert reply["object"] == "chat.completion"
    assert reply["usage"]["total_tokens"] > 0


def test_stream_json_keeps_all_three_reasoning_fields(url: str) -> None:
    r = llmcli("stream", "-o", "json", "--base-url", url, "-m", "think", "hi")
    message = orjson.loads(r.out)["choices"][0]["message"]
    assert message["reasoning"] == message["reasoning_content"] != ""
    assert message["reasoning_details"] == [
        {"type": "reasoning.text", "text": message["reasoning"], "format": "unknown", "index": 0}
    ]


@pytest.mark.parametrize("command", ["chat", "stream"])
def test_reasoning_goes_to_stderr_only_when_asked(url: str, command: str) -> None:
    plain = llmcli(command, "--base-url", url, "-m", "think", "two words")
    shown = llmcli(command, "--base-url", url, "-m", "think", "--reasoning", "two words")
    reasoning = orjson.loads(
        llmcli("chat", "-o", "json", "--base-url", url, "-m", "think", "two words").out
    )["choices"][0]["message"]["reasoning"]
    assert plain.out == shown.out
    assert plain.err == ""
    assert shown.err == reasoning + "\n"


@pytest.mark.parametrize("command", ["chat", "stream"])
def test_tool_calls_reach_stdout_in_text_mode(url: str, command: str) -> None:
    r = llmcli(command, "--base-url", url, "-m", "tools", "Paris")
    assert r.code == 0
    assert r.out == (
        b'{"id":"call_0","type":"function","function":{"name":"get_weather",'
        b'"arguments":"{\\"location\\":\\"Paris\\"}"}}\n'
        b'{"id":"call_1","type":"function","function":{"name":"get_time",'
        b'"arguments":"{\\"timezone\\":\\"UTC\\"}"}}\n'
    )


def test_multibyte_characters_split_across_reads(url: str) -> None:
    whole = llmcli("chat", "--base-url", url, "-m", "unicode", "x")
    for fault in ("split_utf8", "slow=1:0"):
        r = llmcli(
            "stream", "--base-url", url, "-m", "unicode", "-H", f"X-Mock-Fault: {fault}", "x"
        )
        assert (r.code, r.out, r.err) == (0, whole.out, "")
    assert "😀" in whole.text


def test_comments_and_crlf_in_the_stream_are_handled(url: str) -> None:
    r = llmcli("stream", "--base-url", url, "-m", "echo", "-H", "X-Mock-Fault: comment;crlf", "a b")
    assert (r.code, r.out) == (0, b"a b\n")


def test_stream_without_done_but_with_finish_reason_succeeds(url: str) -> None:
    r = llmcli("stream", "--base-url", url, "-m", "echo", "-H", "X-Mock-Fault: no_done", "a b")
    assert (r.code, r.out, r.err) == (0, b"a b\n", "")


def test_usage_line_on_stderr(url: str) -> None:
    for command in ("chat", "stream"):
        r = llmcli(command, "--usage", "--base-url", url, "-m", "echo", "one two three")
        assert r.out == b"one two three\n"
        line = orjson.loads(r.err)
        assert line["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
        assert 0 < line["ttfb_ms"] <= line["total_ms"]


def test_params_and_body_reach_the_server(gw: offline.RunningGateway, tmp_path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"model": "from-body", "temperature": 0.1, "messages": [], "extra": 1}')
    r = llmcli(
        "chat",
        "--dry-run",
        "--base-url",
        gw.base_url,
        "--body",
        str(body),
        "-m",
        "echo",
        "--temperature",
        "0.5",
        "--stop",
        "END",
        "--thinking",
        "-p",
        "chat_template_kwargs.clear_thinking=false",
        "-p",
        'metadata={"a": [1]}',
        "--reasoning-effort",
        "high",
        "-s",
        "be brief",
        "hi",
    )
    assert r.code == 0, r.err
    sent = orjson.loads(r.out)["body"]
    assert sent == {
        "model": "echo",
        "temperature": 0.5,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "extra": 1,
        "stop": "END",
        "chat_template_kwargs": {"enable_thinking": True, "clear_thinking": False},
        "reasoning_effort": "high",
        "metadata": {"a": [1]},
    }
    assert gw.requests == []


def test_messages_file_jsonl_continues_a_conversation(url: str, tmp_path) -> None:
    conv = tmp_path / "conv.jsonl"
    conv.write_text(
        '{"role": "user", "content": "first"}\n\n{"role": "assistant", "content": "ok"}\n'
    )
    r = llmcli("chat", "--base-url", url, "-m", "echo", "--messages", str(conv), "second")
    assert (r.code, r.out) == (0, b"second\n")
    r = llmcli("chat", "--dry-run", "--base-url", url, "-m", "echo", "--messages", str(conv), "x")
    assert [m["content"] for m in orjson.loads(r.out)["body"]["messages"]] == ["first", "ok", "x"]


def test_serve_command_prints_its_url_and_serves(tmp_path) -> None:
    import subprocess
    import sys

    from conftest import clean_env

    proc = subprocess.Popen(
        [sys.executable, "-m", "llmcli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        assert proc.stdout is not None
        base = read_until(proc, proc.stdout.fileno(), b"\n").decode().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v1")
        r = llmcli("chat", "--base-url", base, "-m", "echo", "served")
        assert (r.code, r.out) == (0, b"served\n")
    finally:
        proc.terminate()
        proc.wait(timeout=5)
