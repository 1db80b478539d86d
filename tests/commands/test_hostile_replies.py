"""Issue 10: hostile servers. Secrets never shown, replies capped, one deadline, sane
retries, and the protocol edge cases: through the real process against the offline
gateway's hostile fault kinds on 127.0.0.1."""

from __future__ import annotations

import re
import time
import urllib.parse

import pytest
from conftest import SECRET, Result, host, llmcli

import llmcli as llmcli_library
from llmcli import mock as offline

KEYED = {"LLMCLI_API_KEY": SECRET}


def fault(spec: str) -> tuple[str, str]:
    return ("-H", f"X-Mock-Fault: {spec}")


def body_fault(body: str, content_type: str = "text/event-stream") -> tuple[str, str]:
    quoted = urllib.parse.quote(body, safe="")
    return fault(f"body={quoted};content_type={urllib.parse.quote(content_type, safe='')}")


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        assert SECRET not in shown
        assert "pa55word" not in shown
        assert "dXNlcjpwYTU1d29yZA==" not in shown  # user:pa55word, as Basic credentials
        assert "hdr-secret" not in shown


# 1. a server echoing credentials in a 2xx error, a stream error, an Anthropic error


@pytest.mark.parametrize(
    "command",
    [
        ("chat",),
        ("stream",),
        ("chat", "--debug"),
        ("stream", "-o", "json"),
        ("stream", "-o", "jsonl"),
    ],
)
def test_echoed_key_in_a_200_error_is_redacted(url: str, command: tuple[str, ...]) -> None:
    r = llmcli(*command, "--base-url", url, "-m", "echo", *fault("echo_headers"), "hi", env=KEYED)
    assert r.code == 65
    assert "Authorization: Bearer ***" in r.err
    assert_no_secret(r.err, r.out)
    if "--debug" in command:
        assert "Traceback (most recent call last)" in r.err


@pytest.mark.parametrize("fmt", ["sse", "jsonl", "json"])
def test_echoed_key_never_reaches_stdout(url: str, fmt: str) -> None:
    r = llmcli(
        "stream",
        "-o",
        fmt,
        "--base-url",
        url,
        "-m",
        "echo",
        *fault("echo_headers"),
        "hi",
        env=KEYED,
    )
    assert r.code == 65
    assert_no_secret(r.err, r.out)
    models = llmcli("models", "-o", "json", "--base-url", url, *fault("echo_headers"), env=KEYED)
    assert (models.code, models.out) == (65, b"")
    assert_no_secret(models.err)


def test_echoed_key_in_an_anthropic_stream_error_is_redacted(url: str) -> None:
    r = llmcli(
        "messages",
        "--stream",
        "--base-url",
        url,
        "-m",
        "echo",
        *fault("echo_headers"),
        "hi",
        env=KEYED,
    )
    assert r.code == 77
    assert "***" in r.err
    assert_no_secret(r.err)


def test_credential_headers_and_url_password_are_redacted_everywhere(url: str) -> None:
    base = url.replace("http://", "http://user:pa55word@")
    headers = ("-H", "X-Api-Key: hdr-secret", "-H", "Cookie: s=hdr-secret")
    cases = {
        ("-v",): 0,
        ("--dry-run",): 0,
        ("-v", *fault("echo_headers")): 65,
        ("--debug", *fault("echo_headers")): 65,
    }
    for extra, code in cases.items():
        r = llmcli("chat", "--base-url", base, "-m", "echo", *headers, *extra, "hi", env=KEYED)
        assert r.code == code, r.err
        assert_no_secret(r.out, r.err)
    dry = llmcli("chat", "--base-url", base, "-m", "echo", *headers, "--dry-run", "hi")
    assert b'"url":"http://user:***@' in dry.out.replace(b" ", b"")
    assert b'"X-Api-Key":"***"' in dry.out.replace(b" ", b"")


def test_a_bad_credential_header_is_refused_without_showing_it(url: str) -> None:
    for value in ("sk-secret123\x01", "sk-secret123\r", "sk-secret123é"):
        r = llmcli("chat", "--base-url", url, "-m", "echo", "-H", f"X-Api-Key: {value}", "hi")
        assert r.code == 2
        assert r.err.startswith("llmcli: -H 'X-Api-Key: ***': ")
        assert_no_secret(r.err)


def test_gateways_shows_no_url_password(tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[gateways.w]\nbase_url = "http://user:pa55word@127.0.0.1:9/v1"\n')
    for fmt in ("json", "text"):
        r = llmcli("gateways", "-o", fmt, env={"LLMCLI_CONFIG": str(config)})
        assert r.code == 0
        assert b"http://user:***@127.0.0.1:9/v1" in r.out
        assert_no_secret(r.out, r.err)


def test_url_password_is_redacted_in_a_connect_error() -> None:
    r = llmcli("chat", "--base-url", "http://u:pa55word@127.0.0.1:9/v1", "-m", "e", "hi")
    assert r.code == 69
    assert r.err.startswith(f"llmcli: cannot connect to {host('http://127.0.0.1:9/v1')}: ")
    assert "http://u:***@127.0.0.1:9/v1/chat/completions" in r.err
    assert_no_secret(r.err)


def test_credential_headers_are_not_sent_to_another_origin() -> None:
    with offline.start() as other:
        target = other.base_url.replace("127.0.0.1", "localhost") + "/chat/completions"
        redirect = f"redirect={urllib.parse.quote(target, safe='')}"
        with offline.start(faults=redirect) as first:
            r = llmcli(
                "chat",
                "--base-url",
                first.base_url,
                "-m",
                "echo",
                "-H",
                "X-Api-Key: hdr-secret",
                "-H",
                "Cookie: c=hdr-secret",
                "-H",
                "X-Session-Token: hdr-secret",
                "-H",
                "X-Plain: kept",
                "hi",
                env=KEYED,
            )
        assert r.code == 0, r.err
        assert r.out == b"hi\n"
        sent = other.requests[-1].headers
    assert sent["x-plain"] == "kept"
    for name in ("authorization", "x-api-key", "cookie", "x-session-token"):
        assert name not in sent


# 7. replies capped, memory flat


@pytest.mark.parametrize(
    ("command", "spec", "message"),
    [
        ("stream", "endless=20M", "has an SSE line longer than 16 MiB"),
        ("stream", "huge_line=17M", "has an SSE line longer than 16 MiB"),
        ("stream", "huge_event=17M", "has an SSE event larger than 16 MiB"),
        ("chat", "huge_body=257M", "is larger than 256 MiB"),
        ("chat", "gzip_bomb=1G", "is larger than 256 MiB"),
        ("stream", "gzip_bomb=1G", "has an SSE line longer than 16 MiB"),
    ],
)
def test_oversized_replies_end_with_76(url: str, command: str, spec: str, message: str) -> None:
    # 1.5 GiB of address space: a client that held the reply before judging its size
    # would die of MemoryError (exit 1) instead
    r = bounded(command, "--base-url", url, "-m", "echo", *fault(spec), "hi")
    assert r.code == 76, r.err
    assert message in r.err
    assert r.err.count("\n") == 1


def bounded(*args: str, memory: int = 3 << 29) -> Result:
    import resource
    import subprocess
    import sys

    from conftest import clean_env

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    done = subprocess.run(
        [sys.executable, "-m", "llmcli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=clean_env(),
        timeout=60,
        preexec_fn=limit,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr.decode())


def test_a_stream_kept_whole_is_capped_like_a_body(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llmcli.exchange

    monkeypatch.setattr(llmcli.exchange, "MAX_BODY", 1 << 20)
    client = llmcli_library.Client(base_url=url)
    body = {
        "model": "lorem",
        "max_tokens": 400_000,
        "mock_words_per_chunk": 1000,
        "messages": [{"role": "user", "content": "x"}],
    }
    with pytest.raises(llmcli_library.ProtocolError, match="is larger than 1 MiB"):
        client.chat({**body, "stream": True})
    pieces = sum(1 for _ in client.stream({**body, "max_tokens": 2000}))
    assert pieces > 1  # streamed text that is not kept is not capped


def test_an_error_body_is_read_only_64_kib(gw: offline.RunningGateway) -> None:
    where = ("--base-url", gw.base_url, "-m", "echo")
    r = llmcli("chat", *where, *fault("error_body=1G;status=400"), "hi")
    assert r.code == 65
    assert r.err.startswith(f"llmcli: 400 Bad Request from {host(gw.base_url)}: ")
    # 1 GiB is never read: the client hangs up, and the gateway could write no more than
    # the sockets' buffers took (a few MiB)
    assert gw.body_bytes_sent < 64 << 20


# 8. --timeout is the deadline of the whole request


def test_timeout_is_one_deadline_for_every_attempt(gw: offline.RunningGateway) -> None:
    url = gw.base_url
    started = time.monotonic()
    r = llmcli("chat", "--timeout", "2", "--base-url", url, "-m", "echo", *fault("silent"), "x")
    took = time.monotonic() - started
    assert r.code == 75
    assert r.err == (
        f"llmcli: no complete answer from {host(url)} within --timeout 2s "
        f"(POST {url}/chat/completions)\n"
    )
    assert len(gw.requests) == 1  # no attempt after the deadline: it is the request's
    assert took > 1.9  # it waited out the deadline (a loaded machine only adds to it)
    assert took < 20  # and no more: the silent gateway would hold on for 120 s


def test_a_retry_that_would_pass_the_deadline_is_not_started(gw: offline.RunningGateway) -> None:
    started = time.monotonic()
    r = llmcli(
        "chat",
        "--timeout",
        "20",
        "--base-url",
        gw.base_url,
        "-m",
        "echo",
        *fault("status=503;retry_after=50"),
        "x",
    )
    assert r.code == 69
    assert "gave up: a retry in 50.0s would pass --timeout" in r.err
    assert len(gw.requests) == 1
    # at once: waiting for the retry (50 s) or for the deadline (20 s) would take longer
    assert time.monotonic() - started < 10


# 9. bad Retry-After values, redirects to other schemes, the 429 storm


@pytest.mark.parametrize("value", ["-5", "nan", "Wed, 21 Oct 2015 07:28:00 GMT", "0"])
def test_a_bad_retry_after_backs_off_normally(gw: offline.RunningGateway, value: str) -> None:
    r = llmcli(
        "chat",
        "--base-url",
        gw.base_url,
        "-m",
        "echo",
        *fault(f"status=429;retry_after={urllib.parse.quote(value)}"),
        "x",
    )
    assert r.code == 75
    assert len(gw.requests) == 3
    # backoff: 0.25-0.5 s, then 0.5-1 s; said, and waited between the requests
    said = [float(s) for s in re.findall(r"; retry \d/2 in (\d+\.\d)s\n", r.err)]
    assert len(said) == 2 and 0.2 <= said[0] <= 0.5 and 0.5 <= said[1] <= 1.0, r.err
    first, second, third = (q.received for q in gw.requests)
    assert second - first >= 0.25 and third - second >= 0.5


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x"])
def test_a_redirect_to_another_scheme_is_not_followed_nor_retried(
    gw: offline.RunningGateway, target: str
) -> None:
    r = llmcli(
        "chat",
        "--base-url",
        gw.base_url,
        "-m",
        "echo",
        *fault(f"redirect={urllib.parse.quote(target, safe='')}"),
        "x",
    )
    assert r.code == 76
    assert "redirected to a URL llmcli does not follow" in r.err
    assert len(gw.requests) == 1


def test_a_429_storm_slows_embed_down_instead_of_killing_it(tmp_path) -> None:
    lines = "".join(f"line {i}\n" for i in range(400)).encode()
    # the first 12 requests are all told to wait: more than --retries per batch allows
    with offline.start(faults="status=429;times=12;retry_after=0.2") as gw:
        r = llmcli(
            "embed",
            "--base-url",
            gw.base_url,
            "-m",
            "embed-small",
            "--batch-size",
            "4",
            "--parallel",
            "4",
            stdin=lines,
            timeout=60,
        )
        assert r.code == 0, r.err
        assert r.out.count(b"\n") == 400
        assert [int(x.split(b",")[0].split(b":")[1]) for x in r.out.splitlines()] == list(
            range(400)
        )
        assert "; pausing all requests for " in r.err


# 13-15. keep-alives, an unterminated last event, [DONE] first


def test_empty_data_keepalives_are_skipped(url: str) -> None:
    r = llmcli("stream", "--base-url", url, "-m", "echo", *fault("empty_data"), "a b c")
    assert (r.code, r.out, r.err) == (0, b"a b c\n", "")
    r = llmcli("messages", "--stream", "--base-url", url, "-m", "echo", *fault("empty_data"), "a b")
    assert (r.code, r.out, r.err) == (0, b"a b\n", "")


def test_a_final_event_without_its_blank_line_is_discarded(url: str) -> None:
    stream = 'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]'
    r = llmcli("stream", "--base-url", url, "-m", "echo", *body_fault(stream), "x")
    assert r.code == 76
    assert r.out == b"hi"
    assert "ended before it finished" in r.err


def test_done_first_is_a_cut_stream_and_records_nothing(url: str, tmp_path) -> None:
    conversation = tmp_path / "c.jsonl"
    r = llmcli(
        "stream",
        "--base-url",
        url,
        "-m",
        "echo",
        *fault("done_first"),
        "-c",
        str(conversation),
        "x",
    )
    assert r.code == 76
    assert r.err == f"llmcli: stream from {host(url)} ended ([DONE]) before any reply arrived\n"
    assert not conversation.exists() or conversation.read_bytes() == b""


# 16. the error line after half a line of text; "Did you mean" once


def test_did_you_mean_is_said_once() -> None:
    r = llmcli("chatt")
    assert r.code == 2
    assert r.err == "llmcli: No such command 'chatt'. Did you mean 'chat'? (see 'llmcli --help')\n"


def _on_a_terminal(*args: str, interrupt_after: bytes | None = None) -> tuple[int, bytes]:
    """Run llmcli with stdout and stderr on one pseudo-terminal; everything it showed.
    With ``interrupt_after``, a SIGINT is sent once those bytes were shown."""
    import os
    import pty
    import select
    import signal
    import subprocess
    import sys

    from conftest import clean_env

    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmcli", *args],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=clean_env({"NO_COLOR": "1"}),
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the child closed its side
                    break
                if not chunk:
                    break
                shown += chunk
                if interrupt_after is not None and interrupt_after in shown:
                    proc.send_signal(signal.SIGINT)
                    interrupt_after = None
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=10)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    return code, shown


def test_an_error_after_half_a_line_starts_on_a_new_line(url: str) -> None:
    code, shown = _on_a_terminal(
        "stream", "--base-url", url, "-m", "lorem", "--max-tokens", "9", *fault("cut=3"), "x"
    )
    assert code == 76
    text, _, error = shown.partition(b"llmcli: ")
    assert text.startswith(b"lorem")
    assert text.endswith(b"\r\n")  # the message does not follow the text on its line
    assert error.startswith(f"connection to {host(url)} broke mid-response: ".encode())


def test_ctrl_c_after_half_a_line_leaves_the_terminal_on_a_new_line(url: str) -> None:
    code, shown = _on_a_terminal(
        "stream",
        "--no-render",  # the text as sent (rendered: tests/commands/test_render.py)
        "--base-url",
        url,
        "-m",
        "lorem",
        "--max-tokens",
        "1000",
        *fault("slow=64:50"),
        "x",
        interrupt_after=b"dolor ",
    )
    assert code == 130
    assert shown.startswith(b"lorem ipsum dolor ")
    assert shown.endswith(b"\r\n")
    assert shown.count(b"\r\n") == 1
