"""What batch-run tests need from the offline gateway: ``share``, ``budget`` and ``jitter``
faults, request ids on every answer, a request record that keeps up with 32 clients, and
the request log of ``llmcli serve`` (never of the in-process gateway)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from conftest import clean_env, llmcli

from llmcli import mock
from llmcli.mock import RunningGateway
from llmcli.mock.budget import Budgets, go_duration, rfc3339
from llmcli.mock.faults import FaultError, parse
from llmcli.mock.gates import jitter_ms

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "echo", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture()
def gw() -> Iterator[RunningGateway]:
    with mock.start() as running:
        yield running


def post(
    c: httpx.Client, spec: str | None = None, path: str = "/chat/completions"
) -> httpx.Response:
    headers = {} if spec is None else {"X-Mock-Fault": spec}
    return c.post(path, json=MESSAGES if path == "/messages" else CHAT, headers=headers)


# ---- share --------------------------------------------------------------------------------


def test_share_hits_that_share_of_requests_evenly(gw: RunningGateway) -> None:
    spec = "status=429;share=0.3;retry_after=0.2"
    with httpx.Client(base_url=gw.base_url) as c:
        answers = [post(c, spec) for _ in range(10)]
        assert [post(c, "share=1;status=503").status_code for _ in range(2)] == [503, 503]
        halves = [post(c, "status=500;share=1/2;times=4").status_code for _ in range(6)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 200, 200, 429, 200, 200, 429]
    assert {r.headers.get("retry-after") for r in answers if r.status_code == 429} == {"0.2"}
    assert answers[3].json()["error"]["type"] == "rate_limit_error"
    assert gw.fault_count(spec) == 10
    assert halves == [200, 500, 200, 500, 200, 200]  # all gates must agree


@pytest.mark.parametrize(
    "spec,message",
    [
        ("share=0", "share: expected a number above 0 and at most 1, got '0'"),
        ("share=1.5", "share: expected a number above 0 and at most 1, got '1.5'"),
        ("share=x", "share: expected a number above 0 and at most 1, got 'x'"),
        ("budget=5", "budget: expected N:SECONDS, SECONDS above 0, got '5'"),
        ("budget=5:0", "budget: expected N:SECONDS, SECONDS above 0, got '5:0'"),
        ("budget=0:1", "budget: must be at least 1, got 0"),
        ("jitter=-1", "jitter: must be a number from 0, got '-1'"),
    ],
)
def test_bad_values_name_the_key(spec: str, message: str) -> None:
    with pytest.raises(FaultError) as caught:
        parse(spec)
    assert str(caught.value) == message


def test_serve_rejects_a_bad_budget_as_usage() -> None:
    r = llmcli("serve", "--fault", "budget=ten:1")
    assert (r.code, r.out) == (2, b"")
    assert r.err == "llmcli: --fault: budget: expected an integer, got 'ten'\n"


# ---- budget -------------------------------------------------------------------------------


def test_go_duration_and_rfc3339() -> None:
    seconds = [0, 0.0001, 0.25, 1, 1.5, 59.9991, 90, 3600, 3661.25]
    assert [go_duration(s) for s in seconds] == [
        "0s",
        "1ms",
        "250ms",
        "1s",
        "1.5s",
        "1m0s",
        "1m30s",
        "1h0m0s",
        "1h1m1.25s",
    ]
    assert rfc3339(1767225600.25) == "2026-01-01T00:00:00.250Z"


def test_budget_windows_follow_each_other() -> None:
    now = [100.0]
    budgets = Budgets(clock=lambda: now[0], wall=lambda: 1767225600 + now[0])
    spec = parse("budget=2:10")

    def take(at: float) -> tuple[str, str, str, str | None]:
        now[0] = at
        verdict = budgets.take(spec, anthropic=True)
        assert verdict is not None
        h = dict(verdict.headers)
        return (
            h["x-ratelimit-remaining-requests"],
            h["x-ratelimit-reset-requests"],
            h["anthropic-ratelimit-requests-reset"],
            h.get("retry-after-ms"),
        )

    assert take(100.0) == ("1", "10s", "2026-01-01T00:01:50.000Z", None)
    assert take(104.5) == ("0", "5.5s", "2026-01-01T00:01:50.000Z", None)
    assert take(109.75) == ("0", "250ms", "2026-01-01T00:01:50.000Z", "250")
    assert take(110.0) == ("1", "10s", "2026-01-01T00:02:00.000Z", None)  # the next window
    assert take(135.0) == ("1", "5s", "2026-01-01T00:02:20.000Z", None)  # windows stay aligned
    assert budgets.take(parse("delay=1"), anthropic=False) is None


def test_budget_answers_429_once_used_up_with_rate_limit_headers() -> None:
    with mock.start(faults="budget=3:60") as gw, httpx.Client(base_url=gw.base_url) as c:
        answers = [post(c) for _ in range(5)]
        own = post(c, "budget=1:60")  # a header spec has a window of its own
        later = post(c, "budget=1:60")
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert [r.headers["x-ratelimit-limit-requests"] for r in answers] == ["3"] * 5
    remaining = [r.headers["x-ratelimit-remaining-requests"] for r in answers]
    assert remaining == ["2", "1", "0", "0", "0"]
    for r in answers:
        assert re.fullmatch(r"59(\.\d+)?s|1m0s", r.headers["x-ratelimit-reset-requests"])
        assert "anthropic-ratelimit-requests-limit" not in r.headers
    over = answers[3]
    assert over.headers["retry-after"] == "60"
    assert 59_000 < int(over.headers["retry-after-ms"]) <= 60_000
    assert over.json()["error"] == {
        "message": "rate limit reached: 3 requests per 60 s",
        "type": "rate_limit_error",
        "code": "rate_limit_exceeded",
    }
    assert "retry-after" not in answers[2].headers
    assert (own.status_code, later.status_code) == (200, 429)


def test_budget_on_messages_sends_anthropic_headers_too() -> None:
    with mock.start(faults="budget=1:30") as gw, httpx.Client(base_url=gw.base_url) as c:
        before = time.time()
        ok, over = post(c, path="/messages"), post(c, path="/messages")
    assert (ok.status_code, over.status_code) == (200, 429)
    assert over.json() == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "rate limit reached: 1 requests per 30 s"},
    }
    for r, left in ((ok, "0"), (over, "0")):
        assert r.headers["anthropic-ratelimit-requests-limit"] == "1"
        assert r.headers["anthropic-ratelimit-requests-remaining"] == left
        reset = datetime.fromisoformat(r.headers["anthropic-ratelimit-requests-reset"])
        assert before + 29 < reset.timestamp() <= time.time() + 30.001
        assert r.headers["x-ratelimit-remaining-requests"] == left


def test_budget_headers_replace_the_profiles_own() -> None:
    with mock.start("lumyxai", faults="budget=2:60") as gw:
        r = httpx.post(gw.url("chat"), json=CHAT, headers={"Authorization": "Bearer k"})
    assert r.headers.get_list("x-ratelimit-limit-requests") == ["2"]
    assert r.headers.get_list("x-ratelimit-remaining-requests") == ["1"]


def test_budget_opens_a_new_window_when_the_wait_is_over(gw: RunningGateway) -> None:
    spec = "budget=1:60"  # a window no loaded machine lets pass between two requests
    with httpx.Client(base_url=gw.base_url) as c:
        assert post(c, spec).status_code == 200
        over = post(c, spec)
        assert over.status_code == 429 and over.headers["retry-after"] == "60"
        wait = int(over.headers["retry-after-ms"]) / 1000
        gw.advance_clock(wait - 30)
        early = post(c, spec)
        gw.advance_clock(30)  # the whole wait: the window has passed on the gateway's clock
        again = post(c, spec)
    assert early.status_code == 429
    assert again.status_code == 200
    assert again.headers["x-ratelimit-remaining-requests"] == "0"


# ---- delay and jitter ---------------------------------------------------------------------


def test_jitter_reorders_parallel_answers_the_same_way_every_run(gw: RunningGateway) -> None:
    spec = "delay=20;jitter=1000"
    finished: list[tuple[float, int, float]] = []  # (finish time, number, elapsed)
    lock = threading.Lock()
    clients = [httpx.Client(base_url=gw.base_url, timeout=10) for _ in range(6)]
    for c in clients:
        assert post(c).status_code == 200  # connected: requests 1 to 6
    go = threading.Barrier(len(clients))

    def one(c: httpx.Client) -> None:
        go.wait()
        started = time.perf_counter()
        r = post(c, spec)
        done = time.perf_counter()
        assert r.status_code == 200
        with lock:
            number = int(r.headers["x-request-id"].removeprefix("req_"))
            finished.append((done, number, done - started))

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    assert sorted(n for _, n, _ in finished) == [7, 8, 9, 10, 11, 12]
    waits = {n: 20 + jitter_ms(n, 1000) for _, n, _ in finished}
    assert [round(waits[n]) for n in range(7, 13)] == [194, 792, 266, 972, 416, 781]
    for _, n, elapsed in finished:
        assert elapsed * 1000 >= waits[n]  # the delay is per request, jitter on top
    # an answer due 300 ms and more before another comes first (9 before 8: reordered);
    # a loaded machine may hold a thread for tens of ms, not for that long
    order = [n for _, n, _ in sorted(finished)]
    for a in waits:
        for b in waits:
            if waits[a] + 300 < waits[b]:
                assert order.index(a) < order.index(b), (order, waits)


# ---- request ids and the record -----------------------------------------------------------


def test_every_answer_carries_a_request_id(gw: RunningGateway) -> None:
    with httpx.Client(base_url=gw.base_url) as c:
        answers = [
            post(c),
            post(c, path="/messages"),
            c.get("/nowhere"),
            post(c, "status=503"),
            c.get("/models"),
        ]
        listed = c.get("/_mock/requests").json()
    ids = [f"req_{n}" for n in range(1, 6)]
    assert [r.headers["x-request-id"] for r in answers] == ids
    assert [r.headers["request-id"] for r in answers] == ids
    assert [r.request_id for r in gw.requests] == ids
    assert [r["request_id"] for r in listed] == ids


def test_32_concurrent_clients_are_all_answered_and_recorded(gw: RunningGateway) -> None:
    clients, each = 32, 8
    seen: list[str] = []
    lock = threading.Lock()
    go = threading.Barrier(clients)

    def client(i: int) -> None:
        with httpx.Client(base_url=gw.base_url, timeout=20) as c:
            go.wait()  # every client connects at once
            for k in range(each):
                body: dict[str, Any] = {
                    **CHAT,
                    "messages": [{"role": "user", "content": f"{i}/{k}"}],
                }
                r = c.post("/chat/completions", json=body)
                assert (r.status_code, r.json()["choices"][0]["message"]["content"]) == (
                    200,
                    f"{i}/{k}",
                )
                with lock:
                    seen.append(r.headers["x-request-id"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everyone = {f"req_{n}" for n in range(1, clients * each + 1)}
    assert len(seen) == clients * each and set(seen) == everyone
    records = list(gw.requests)
    assert {r.request_id for r in records} == everyone
    prompts = {orjson.loads(r.body)["messages"][0]["content"] for r in records}
    assert prompts == {f"{i}/{k}" for i in range(clients) for k in range(each)}


# ---- the request log of llmcli serve ------------------------------------------------------


def serve(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "llmcli", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )


def base_url(p: subprocess.Popen[bytes]) -> str:
    assert p.stdout is not None and select.select([p.stdout], [], [], 15)[0]
    return p.stdout.readline().decode().strip()


def log_lines(p: subprocess.Popen[bytes], n: int) -> list[str]:
    """The first ``n`` lines of the server's stderr (each comes after its answer)."""
    assert p.stderr is not None
    got = b""
    while got.count(b"\n") < n:
        assert select.select([p.stderr], [], [], 10)[0], got
        chunk = os.read(p.stderr.fileno(), 4096)
        assert chunk, got
        got += chunk
    return got.decode().splitlines(keepends=True)


def test_serve_logs_one_line_per_request_and_quiet_does_not() -> None:
    loud, quiet = serve(), serve("--quiet")
    try:
        url = base_url(loud)
        httpx.post(url + "/chat/completions?key=sk-secret123", json=CHAT)
        httpx.get(url + "/models")
        httpx.post(url + "/embeddings", content=b"{", headers={"X-Mock-Fault": "status=502"})
        lines = log_lines(loud, 3)
        assert len(lines) == 3
        assert re.fullmatch(r"POST /v1/chat/completions 200 \d+ ms model=echo\n", lines[0])
        assert re.fullmatch(r"GET /v1/models 200 \d+ ms\n", lines[1])
        assert re.fullmatch(r"POST /v1/embeddings 502 \d+ ms\n", lines[2])
        url = base_url(quiet)
        assert httpx.post(url + "/chat/completions", json=CHAT).status_code == 200
        r = llmcli("chat", "-g", "mock", "-m", "echo", "in-process")
        assert (r.code, r.out, r.err) == (0, b"in-process\n", "")
    finally:
        for p in (loud, quiet):
            p.terminate()
    assert loud.communicate(timeout=10)[1] == b""
    assert quiet.communicate(timeout=10) == (b"", b"")
