"""The batch engine on one event loop (the default; ``LLMCLI_ENGINE=threads`` runs the
thread engine): thousands of rows in flight at once, and the same lines as the thread
engine."""

from __future__ import annotations

import orjson
from conftest import host, llmcli

from llmcli import mock as offline
from llmcli.mock import latency

ASYNC = {"LLMCLI_API_KEY": "k"}
THREADS = {"LLMCLI_ENGINE": "threads", "LLMCLI_API_KEY": "k"}
MIXED = (
    b"a plain prompt\n"
    b'{"custom_id": "em", "method": "POST", "url": "/v1/embeddings", '
    b'"body": {"model": "embed-small", "input": "x"}}\n'
    b"{not json\n"
    b'{"custom_id": "an", "params": {"model": "echo", "max_tokens": 5, '
    b'"messages": [{"role": "user", "content": "hi"}]}}\n'
    b'{"custom_id": "bad", "body": {"model": "nope", "messages": []}}\n'
    b"another prompt\n"
)


def test_two_thousand_rows_a_thousand_in_flight_in_input_order() -> None:
    rows = b"".join(b"question %d\n" % i for i in range(2000))
    with latency.start(0.0, until=1000) as gateway:  # no answer before 1,000 are in flight
        run = llmcli(
            "batch",
            "run",
            "-P",
            "1000",
            "--base-url",
            gateway.base_url,
            "-m",
            "x",
            stdin=rows,
            env=ASYNC,
            timeout=120,
        )
        assert run.code == 0, run.err
        assert gateway.stats.most_in_flight == 1000
    lines = [orjson.loads(line) for line in run.out.splitlines()]
    assert [line["custom_id"] for line in lines] == [str(i) for i in range(1, 2001)]
    assert {line["response"]["status_code"] for line in lines} == {200}


def test_the_same_lines_as_the_thread_engine(gw: offline.RunningGateway) -> None:
    args = ("batch", "run", "-m", "echo", "-P", "3", "--base-url", gw.base_url)
    threads = llmcli(*args, stdin=MIXED, env=THREADS)
    loop = llmcli(*args, stdin=MIXED, env=ASYNC)
    assert (loop.code, loop.err) == (threads.code, threads.err) == (65, loop.err)

    def same(out: bytes) -> list[dict[str, object]]:
        lines = [orjson.loads(line) for line in out.splitlines()]
        for line in lines:
            line.pop("id")
            if line["response"]:
                line["response"].pop("request_id")
        return lines

    assert same(loop.out) == same(threads.out)
    unordered = llmcli(*args, "--unordered", stdin=MIXED, env=ASYNC)
    assert sorted(map(str, same(unordered.out))) == sorted(map(str, same(threads.out)))


def test_a_429_for_too_many_at_once_halves_the_requests_in_flight() -> None:
    rows = b"".join(b"question %d\n" % i for i in range(60))
    # more than 3 at once are refused with a 429 asking for 50 ms (the governor waits 0.1 s)
    with latency.start(0.05, capacity=3) as gateway:
        run = llmcli(
            "batch", "run", "-P", "12", "--base-url", gateway.base_url, "-m", "x",
            stdin=rows, env=ASYNC, timeout=120,
        )  # fmt: skip
        refused = gateway.stats.refused
    assert run.code == 0, run.err
    lines = [orjson.loads(line) for line in run.out.splitlines()]
    assert [line["response"]["status_code"] for line in lines] == [200] * 60
    # refused: 21 in every run measured; without the halving nine of every twelve sent are
    # refused round after round (93-122 measured). A loaded machine overlaps fewer
    # requests, so fewer are refused: the bound holds either way
    assert 0 < refused < 60
    said = set(run.err.splitlines())
    assert said == {
        f"llmcli: 429 Too Many Requests from {host(gateway.base_url)}: too many requests at "
        "once [rate_limit_error]; retry after 50ms; pausing all requests for 0.1s"
    }


def test_a_redirect_is_followed_not_sent_again(gw: offline.RunningGateway) -> None:
    moved = gw.base_url + "/chat/completions?moved=1"
    for status, method in (("307", "POST"), ("303", "GET")):
        gw.requests.clear()
        fault = f"X-Mock-Fault: redirect={moved};status={status};times=1"
        run = llmcli(
            "batch", "run", "-m", "echo", "--base-url", gw.base_url, "-H", fault,
            stdin=b"hello\n", env=ASYNC,
        )  # fmt: skip
        seen = [(r.method, r.path) for r in gw.requests]
        # the original once, then where it was sent (a 303: a GET), never the original again
        assert seen == [("POST", "/v1/chat/completions"), (method, "/v1/chat/completions?moved=1")]
        line = orjson.loads(run.out)
        assert line["custom_id"] == "1", run.err
