"""Exit codes, one-line errors and retries, end to end, with injected faults."""

from __future__ import annotations

import socket

import pytest
from conftest import SECRET, host, llmcli

from llmcli import mock as offline


def fault(spec: str) -> tuple[str, str]:
    return ("-H", f"X-Mock-Fault: {spec}")


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("llmcli: ")
    return err


def test_stream_cut_midway_keeps_partial_text_and_exits_76(url: str) -> None:
    r = llmcli(
        "stream", "--base-url", url, "-m", "lorem", "--max-tokens", "50", *fault("cut=4"), "x"
    )
    assert r.code == 76
    assert r.out == b"lorem ipsum dolor "
    assert "broke mid-response" in one_line(r.err)


def test_stream_that_just_ends_early_exits_76(url: str) -> None:
    r = llmcli(
        "stream", "--base-url", url, "-m", "lorem", "--max-tokens", "50", *fault("eof=3"), "x"
    )
    assert r.code == 76
    assert r.out == b"lorem ipsum "
    assert "ended before it finished" in one_line(r.err)


@pytest.mark.parametrize("fmt", ["sse", "jsonl", "json"])
def test_cut_stream_fails_in_every_mode(url: str, fmt: str) -> None:
    r = llmcli("stream", "-o", fmt, "--base-url", url, "-m", "lorem", *fault("eof=3"), "x")
    assert r.code == 76
    one_line(r.err)


def test_error_inside_a_stream_is_an_error_not_content(url: str) -> None:
    r = llmcli("stream", "--base-url", url, "-m", "lorem", *fault("error_after=3"), "x")
    assert r.code == 69
    assert r.out == b"lorem ipsum "
    assert one_line(r.err) == (
        f"llmcli: error from {host(url)}: upstream error [server_error, upstream_error]\n"
    )


def test_malformed_chunk_exits_76(url: str) -> None:
    r = llmcli("stream", "--base-url", url, "-m", "lorem", *fault("malformed=3"), "x")
    assert r.code == 76
    assert "malformed JSON in stream event 3" in one_line(r.err)


def test_malformed_body_exits_76(url: str) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "echo", *fault("malformed"), "x")
    assert (r.code, r.out) == (76, b"")
    assert f"malformed JSON from {host(url)}" in one_line(r.err)


def test_429_retry_after_is_honoured_then_succeeds(gw: offline.RunningGateway) -> None:
    r = llmcli(
        "chat",
        "--base-url",
        gw.base_url,
        "-m",
        "echo",
        *fault("status=429;retry_after=1;times=1"),
        "ok",
    )
    assert (r.code, r.out) == (0, b"ok\n")
    assert len(gw.requests) == 2
    # the second request came a whole second after the first (the process's start-up,
    # which a loaded machine makes long, does not count)
    assert gw.requests[1].received - gw.requests[0].received >= 1.0
    assert "429 Too Many Requests" in r.err and "retry 1/2 in 1.0s" in r.err


def test_429_without_retries_exits_75_with_the_reset_time(gw: offline.RunningGateway) -> None:
    r = llmcli(
        "chat",
        "--retries",
        "0",
        "--base-url",
        gw.base_url,
        "-m",
        "echo",
        *fault("status=429;retry_after=7"),
        "x",
    )
    assert r.code == 75
    assert f"429 Too Many Requests from {host(gw.base_url)}" in one_line(r.err)
    assert "retry after 7s" in r.err
    assert len(gw.requests) == 1


def test_5xx_is_retried_and_exhausted_retries_exit_69(gw: offline.RunningGateway) -> None:
    r = llmcli(
        "stream",
        "--retries",
        "1",
        "--base-url",
        gw.base_url,
        "-m",
        "echo",
        *fault("status=503;retry_after=0"),
        "x",
    )
    assert r.code == 69
    assert len(gw.requests) == 2
    lines = r.err.splitlines()
    assert len(lines) == 2 and "retry 1/1" in lines[0] and lines[1].startswith("llmcli: 503")


def test_html_502_page_becomes_one_line(url: str) -> None:
    r = llmcli(
        "chat", "--retries", "0", "--base-url", url, "-m", "echo", *fault("status=502;html"), "x"
    )
    assert r.code == 69
    assert one_line(r.err).startswith(f"llmcli: 502 Bad Gateway from {host(url)}: ")


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 65), (401, 77), (402, 77), (403, 77), (404, 65), (413, 65), (422, 65)],
)
def test_status_maps_to_exit_code(url: str, status: int, code: int) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "echo", *fault(f"status={status}"), "x")
    assert r.code == code
    assert one_line(r.err).startswith(f"llmcli: {status} ")


def test_unknown_model_is_65_with_the_servers_words(url: str) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "nope", "x")
    assert r.code == 65
    assert "model not found: nope" in one_line(r.err)


def test_redirect_loop_is_a_protocol_error(gw: offline.RunningGateway) -> None:
    gw.set_faults(f"redirect={gw.base_url}/chat/completions")
    r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", "x")
    assert r.code == 76
    assert one_line(r.err) == (
        f"llmcli: too many redirects from {host(gw.base_url)} "
        f"(POST {gw.base_url}/chat/completions)\n"
    )


def test_connection_refused_exits_69() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = llmcli(
        "chat", "--retries", "0", "--base-url", f"http://127.0.0.1:{port}/v1", "-m", "m", "x"
    )
    assert r.code == 69
    assert "cannot connect" in one_line(r.err)


def test_timeout_exits_75(url: str) -> None:
    r = llmcli(
        "chat",
        "--timeout",
        "0.3",
        "--retries",
        "0",
        "--base-url",
        url,
        "-m",
        "echo",
        *fault("delay=3000"),
        "x",
    )
    assert r.code == 75
    assert one_line(r.err) == (
        f"llmcli: no complete answer from {host(url)} within --timeout 0.3s "
        f"(POST {url}/chat/completions)\n"
    )


def test_bad_jsonl_names_file_line_and_column_and_sends_nothing(
    gw: offline.RunningGateway, tmp_path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"role": "user", "content": "a"}\n{"role": "assistant", "content": "b"}\n'
        '{"role": "user" "content": "c"}\n'
    )
    r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", "--messages", str(bad))
    assert r.code == 65
    assert one_line(r.err) == f"llmcli: {bad}:3:17: unexpected character, expected ',' or '}}'\n"
    assert r.out == b""
    assert gw.requests == []


def test_unreadable_file_exits_66(url: str, tmp_path) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "echo", "-f", str(tmp_path / "missing.txt"))
    assert r.code == 66
    assert one_line(r.err) == f"llmcli: {tmp_path / 'missing.txt'}: No such file or directory\n"


def test_no_input_is_a_usage_error(url: str) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "echo", stdin=b"")
    assert (r.code, r.out) == (2, b"")
    assert "no prompt" in one_line(r.err)


def test_unknown_option_is_a_one_line_usage_error() -> None:
    r = llmcli("chat", "--frobnicate")
    assert r.code == 2
    assert one_line(r.err) == "llmcli: No such option '--frobnicate' (see 'llmcli chat --help')\n"


def test_sse_output_needs_a_stream() -> None:
    r = llmcli("chat", "-g", "mock", "-o", "sse", "x")
    assert r.code == 2
    assert "llmcli stream -o sse" in one_line(r.err)


def test_unknown_gateway_is_a_configuration_error() -> None:
    r = llmcli("chat", "-g", "nowhere", "x")
    assert r.code == 78
    assert one_line(r.err).startswith("llmcli: unknown gateway 'nowhere'")


def test_missing_key_names_the_variable() -> None:
    r = llmcli("chat", "-g", "openai", "x")
    assert r.code == 78
    assert "OPENAI_API_KEY" in one_line(r.err)


KEYED = {"LLMCLI_API_KEY": SECRET}


@pytest.mark.parametrize(
    "args",
    [
        ("--dry-run",),
        ("--verbose",),
        ("--verbose", "-H", f"X-Mock-Fault: status=401;body=bad key {SECRET}"),
        ("-H", f"X-Mock-Fault: status=500;body=upstream said {SECRET}", "--retries", "1"),
        ("-H", f"Authorization: Bearer {SECRET}", "--verbose"),
    ],
)
def test_key_is_never_printed(url: str, args: tuple[str, ...]) -> None:
    r = llmcli("stream", "--base-url", url, "-m", "echo", *args, "hi", env=KEYED)
    assert SECRET.encode() not in r.out
    assert SECRET not in r.err
    assert SECRET[-4:] not in r.err


def test_dry_run_shows_the_request_with_the_key_redacted(gw: offline.RunningGateway) -> None:
    r = llmcli("chat", "--dry-run", "--base-url", gw.base_url, "-m", "echo", "hi", env=KEYED)
    assert r.code == 0
    assert r.out.decode() == (
        "{\n"
        '  "method": "POST",\n'
        f'  "url": "{gw.base_url}/chat/completions",\n'
        '  "headers": {\n'
        '    "User-Agent": "llmcli/0.1.0",\n'
        '    "Content-Type": "application/json",\n'
        '    "Accept": "application/json",\n'
        '    "Authorization": "Bearer ***"\n'
        "  },\n"
        '  "body": {\n'
        '    "messages": [\n'
        "      {\n"
        '        "role": "user",\n'
        '        "content": "hi"\n'
        "      }\n"
        "    ],\n"
        '    "model": "echo"\n'
        "  }\n"
        "}\n"
    )
    assert gw.requests == []


def test_verbose_traces_request_and_response_on_stderr(url: str) -> None:
    r = llmcli("chat", "-v", "--base-url", url, "-m", "echo", "hi", env=KEYED)
    assert r.out == b"hi\n"
    assert f"> POST {url}/chat/completions" in r.err
    assert "> authorization: Bearer ***" in r.err
    assert "< HTTP/1.1 200 OK" in r.err


def test_timeout_is_a_total_limit_even_while_bytes_keep_coming(url: str) -> None:
    # 100 bytes every 20 ms: the first words come at once, the whole stream (about 200
    # KB) would take 40 s; a deadline per read would never fire
    r = llmcli(
        "stream",
        "--timeout",
        "2",
        "--base-url",
        url,
        "-m",
        "lorem",
        "--max-tokens",
        "1000",
        *fault("slow=100:20"),
        "x",
    )
    assert r.code == 75
    assert r.out.startswith(b"lorem ipsum")
    assert one_line(r.err) == (
        f"llmcli: no complete answer from {host(url)} within --timeout 2s "
        f"(POST {url}/chat/completions)\n"
    )
