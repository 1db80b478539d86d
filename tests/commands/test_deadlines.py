"""``--timeout`` is the deadline of the whole answer (DESIGN.md, "Limits"): a head sent a
byte at a time, a flood of interim responses, a trickled error body, a redirect's body;
and a request is sent at most ``1 + --retries`` times, a dead kept-alive connection
included. The real process against the offline gateway's hostile modes on 127.0.0.1.

No test here measures a time: a deadline that does not hold shows as the process
still running when its generous limit (30 s) ends it."""

from __future__ import annotations

import orjson
import pytest
from conftest import host, llmcli

from llmcli import mock as offline


def fault(spec: str) -> tuple[str, str]:
    return ("-H", f"X-Mock-Fault: {spec}")


def late(url: str, seconds: str = "1") -> str:
    return (
        f"llmcli: no complete answer from {host(url)} within --timeout {seconds}s "
        f"(POST {url}/chat/completions)\n"
    )


@pytest.mark.parametrize(
    "spec",
    [
        "slow_head=300",  # ~60 s of head, a byte every 0.3 s: each read is quick
        "interim=1000000;slow_head=20",  # an endless slow run of 100/103
        "status=500;slow=1:300",  # an error body trickled
        "status=400;slow=1:300",
    ],
)
@pytest.mark.parametrize("command", ["chat", "stream"])
def test_the_deadline_holds_over_the_head_and_error_bodies(
    url: str, spec: str, command: str
) -> None:
    r = llmcli(
        command, "--timeout", "1", "--retries", "0", "--base-url", url, "-m", "echo",
        *fault(spec), "x",
    )  # fmt: skip
    assert (r.code, r.err, r.out) == (75, late(url), b"")


def test_a_head_sent_slowly_within_the_deadline_is_read(url: str) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "echo", *fault("slow_head=1"), "slow hi")
    assert (r.code, r.out, r.err) == (0, b"slow hi\n", "")


def test_an_interim_flood_is_a_protocol_error(url: str) -> None:
    r = llmcli(
        "chat", "--retries", "0", "--base-url", url, "-m", "echo", *fault("interim=1000000"), "x"
    )
    assert r.code == 76
    assert r.err == (
        f"llmcli: connection to {host(url)} broke: malformed response head: more than 100 "
        f"interim (1xx) responses before the answer (POST {url}/chat/completions)\n"
    )


def test_a_few_interim_responses_are_skipped(url: str) -> None:
    r = llmcli("stream", "--base-url", url, "-m", "echo", *fault("interim=7"), "after hints")
    assert (r.code, r.out, r.err) == (0, b"after hints\n", "")


@pytest.mark.parametrize(
    "body", ["huge_body=1G", "gzip_bomb=1G", "endless=1G;slow=16:100", "body=moved"]
)
def test_a_redirects_body_is_not_read(url: str, body: str) -> None:
    # the redirect comes once (times=1); its body, however big or slow, is never read
    target = f"{url}/chat/completions"
    spec = f"redirect={target};{body};times=1"
    r = llmcli("chat", "--timeout", "20", "--base-url", url, "-m", "echo", *fault(spec), "hi there")
    assert (r.code, r.out, r.err) == (0, b"hi there\n", "")


@pytest.mark.parametrize("retries", ["0", "1"])
def test_a_request_dropped_after_it_was_read_is_sent_no_more_than_retries_allow(
    retries: str,
) -> None:
    # one connection kept alive; the server reads every second request and hangs up
    # without a word: with --retries 0 each row is sent exactly once
    with offline.start() as gw:
        r = llmcli(
            "batch", "run", "--base-url", gw.base_url, "-m", "echo", "-P", "1",
            "--retries", retries, *fault("drop;every=2"), stdin=b"a\nb\nc\nd\n",
        )  # fmt: skip
        out = [orjson.loads(line) for line in r.out.splitlines()]
        sent = [orjson.loads(x.body)["messages"][0]["content"] for x in gw.requests]
    if retries == "0":
        assert r.code == 75
        assert sent == ["a", "b", "c", "d"]
        assert [row["response"] is not None for row in out] == [True, False, True, False]
        assert out[1]["error"] == {
            "code": "protocol_error",
            "message": f"connection to {host(gw.base_url)} broke: Server disconnected without "
            f"sending a response. (POST {gw.base_url}/chat/completions)",
        }
    else:  # each dropped row is sent again once, as a counted retry, at once
        assert r.code == 0
        assert sent == ["a", "b", "b", "c", "c", "d", "d"]
        assert r.err.count("; retry 1/1 in 0.0s\n") == 3
