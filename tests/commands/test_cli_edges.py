"""Edge cases a real user or a real network produces: odd keys and headers, proxies,
redirects with a body, cut streams in -o json, stdin named twice, errors sent with 200."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from conftest import SECRET, host, llmcli

from llmcli import mock as offline

DATA = Path(__file__).parent.parent / "data"


def fault(spec: str) -> tuple[str, str]:
    return ("-H", f"X-Mock-Fault: {spec}")


def test_a_key_with_a_trailing_newline_is_stripped(gw: offline.RunningGateway) -> None:
    r = llmcli(
        "chat", "--base-url", gw.base_url, "-m", "echo", "hi", env={"LLMCLI_API_KEY": SECRET + "\n"}
    )
    assert (r.code, r.out, r.err) == (0, b"hi\n", "")
    assert gw.requests[0].headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("key", [f"{SECRET}\nEvil: 1", f"sk-\x01{SECRET}", f"{SECRET}é"])
def test_a_key_that_cannot_be_a_header_is_a_config_error(
    gw: offline.RunningGateway, key: str
) -> None:
    r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", "hi", env={"LLMCLI_API_KEY": key})
    assert r.code == 78
    assert SECRET not in r.err
    assert r.err.startswith(
        f"llmcli: the API key for gateway '{host(gw.base_url)}' has a line break"
    )
    assert gw.requests == []


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("X@Y: 1", "'X@Y' is not a valid header name"),
        ("X-Title: café", "the value of X-Title is not ASCII text"),
        ("X-Ctl: a\x07b", "the value of X-Ctl has a line break or control character"),
    ],
)
def test_bad_headers_are_usage_errors_and_nothing_is_sent(
    gw: offline.RunningGateway, header: str, problem: str
) -> None:
    r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", "-H", header, "hi")
    assert r.code == 2
    assert r.err == f"llmcli: -H {header!r}: {problem}\n"
    assert gw.requests == []


def test_proxy_from_the_environment_is_used(gw: offline.RunningGateway) -> None:
    origin = gw.base_url.rsplit("/", 1)[0]
    r = llmcli(
        "chat",
        "--retries",
        "0",
        "--base-url",
        "http://example.invalid/v1",
        "-m",
        "echo",
        "hi",
        env={"HTTP_PROXY": origin},
    )
    assert gw.requests, r.err
    assert gw.requests[0].path == "http://example.invalid/v1/chat/completions"


@pytest.mark.parametrize(
    ("spec", "code", "text"),
    [
        ("cut=5", 76, "lorem ipsum dolor sit "),  # the role chunk, then four words
        ("error_after=5", 69, "lorem ipsum dolor sit "),
        ("malformed=5", 76, "lorem ipsum dolor "),
    ],
)
def test_a_failed_stream_still_prints_what_arrived_as_json(
    url: str, spec: str, code: int, text: str
) -> None:
    r = llmcli(
        "stream",
        "-o",
        "json",
        "--base-url",
        url,
        "-m",
        "lorem",
        "--max-tokens",
        "40",
        *fault(spec),
        "x",
    )
    assert r.code == code
    reply = orjson.loads(r.out)
    assert reply["choices"][0]["message"]["content"] == text
    assert reply["choices"][0]["finish_reason"] is None
    assert r.err.count("\n") == 1


def test_the_error_line_does_not_glue_to_open_reasoning(url: str) -> None:
    r = llmcli("stream", "--reasoning", "--base-url", url, "-m", "think", *fault("cut=4"), "a b")
    assert r.code == 76
    reasoning, error = r.err.splitlines()
    assert reasoning and not reasoning.startswith("llmcli:")
    assert error.startswith(f"llmcli: connection to {host(url)} broke")


@pytest.mark.parametrize("flag", ["--tools", "--schema"])
def test_stdin_named_by_a_flag_is_not_also_the_prompt(flag: str) -> None:
    data = b'[{"type": "function", "function": {"name": "f"}}]' if flag == "--tools" else b"{}"
    r = llmcli("chat", "-g", "mock", "--dry-run", flag, "-", "the question", stdin=data)
    assert r.code == 0, r.err
    body = orjson.loads(r.out)["body"]
    assert body["messages"] == [{"role": "user", "content": "the question"}]


def test_a_redirect_of_a_streamed_body_is_a_clear_protocol_error(
    gw: offline.RunningGateway,
) -> None:
    gw.set_faults(f"redirect={gw.base_url}/chat/completions;status=307;times=1")
    r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", "-a", str(DATA / "pixel.png"), "x")
    assert r.code == 76
    assert r.err.startswith(
        f"llmcli: {host(gw.base_url)} redirected a request whose body was already sent"
    )


def test_an_error_sent_with_200_goes_to_stderr_not_stdout(url: str) -> None:
    body = '{"error": {"message": "quota exceeded", "code": 429}}'
    r = llmcli("chat", "-o", "json", "--base-url", url, "-m", "echo", *fault(f"body={body}"), "x")
    assert (r.code, r.out) == (75, b"")
    assert r.err == f"llmcli: error from {host(url)}: quota exceeded [429]\n"


def test_messages_defaults_to_anthropic_as_its_ecosystem_expects() -> None:
    r = llmcli("messages", "--dry-run", "hi", env={"ANTHROPIC_API_KEY": SECRET})
    request = orjson.loads(r.out)
    assert request["url"] == "https://api.anthropic.com/v1/messages"
    assert request["headers"]["x-api-key"] == "***"
    r = llmcli("messages", "hi")
    assert (r.code, r.err) == (
        78,
        "llmcli: no API key for gateway 'anthropic': set LLMCLI_API_KEY or ANTHROPIC_API_KEY; "
        "or try llmcli offline first: -g mock\n",
    )


@pytest.mark.parametrize("command", ["chat", "messages"])
def test_body_messages_are_checked_like_messages_files(tmp_path: Path, command: str) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"messages": "hi"}')
    r = llmcli(command, "-g", "mock", "--body", str(body), "x")
    assert (r.code, r.err) == (65, f"llmcli: --body {body}: expected a list of messages\n")
    body.write_text('{"messages": [{"content": "no role"}]}')
    r = llmcli(command, "-g", "mock", "--body", str(body), "x")
    assert (r.code, r.err) == (65, f'llmcli: --body {body}: message 1: message has no "role"\n')


def test_embed_index_is_the_inputs_position_even_past_skipped_lines(url: str) -> None:
    r = llmcli("embed", "--base-url", url, "-m", "embed-small", stdin=b"a\n\nb\n \nc\n")
    assert [orjson.loads(line)["index"] for line in r.out.splitlines()] == [0, 2, 4]


SSE_BODY = (
    'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"streamed"},'
    '"finish_reason":null}]}%0A%0A'
    'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}%0A%0Adata: [DONE]%0A%0A'
)
WHOLE_BODY = (
    '{"id":"x","object":"chat.completion","choices":[{"index":0,'
    '"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}]}'
)


@pytest.mark.parametrize("kind", ["application/json", "text/html", "text/plain"])
def test_an_event_stream_with_the_wrong_content_type_still_streams(url: str, kind: str) -> None:
    r = llmcli(
        "stream",
        "--base-url",
        url,
        "-m",
        "echo",
        *fault(f"body={SSE_BODY};content_type={kind}"),
        "x",
    )
    assert (r.code, r.out, r.err) == (0, b"streamed\n", "")


@pytest.mark.parametrize("kind", ["text/event-stream", "application/json"])
def test_a_whole_answer_to_a_stream_request_is_printed_whole(url: str, kind: str) -> None:
    r = llmcli(
        "stream",
        "--base-url",
        url,
        "-m",
        "echo",
        *fault(f"body={WHOLE_BODY};content_type={kind}"),
        "x",
    )
    assert (r.code, r.out, r.err) == (0, b"whole\n", "")


def test_a_vllm_error_chunk_is_an_error_not_an_empty_success(url: str) -> None:
    body = (
        'data: {"object":"error","message":"prompt too long","type":"BadRequestError",'
        '"code":400}%0A%0Adata: [DONE]%0A%0A'
    )
    r = llmcli(
        "stream",
        "--base-url",
        url,
        "-m",
        "echo",
        *fault(f"body={body};content_type=text/event-stream"),
        "x",
    )
    assert (r.code, r.out) == (65, b"")
    assert r.err == f"llmcli: error from {host(url)}: prompt too long [BadRequestError, 400]\n"
