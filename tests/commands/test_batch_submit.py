"""``llmcli batch submit|status|fetch|cancel|list``: the real process against the offline
gateway's faithful fakes of OpenAI's Files + Batches and Anthropic's Message Batches.

The gateways here run a batch for an hour of their clock, so it is surely running when a
test looks; the test then moves the clock past its end (``advance_clock``) instead of
waiting, and ``fetch --wait`` finds it ended at its next look.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import SECRET, Result, clean_env, llmcli

from llmcli import mock as offline

FORMS = [
    b"a plain prompt",
    b'{"custom_id": "oa", "method": "POST", "url": "/v1/chat/completions",'
    b' "body": {"model": "echo", "messages": [{"role": "user", "content": "openai line"}]}}',
    b'{"custom_id": "em", "method": "POST", "url": "/v1/embeddings",'
    b' "body": {"model": "embed-small", "input": "x"}}',
    b'{"custom_id": "an", "params": {"model": "echo", "max_tokens": 9,'
    b' "messages": [{"role": "user", "content": "anthropic line"}]}}',
    b'{"custom_id": "nomodel", "params": {"model": "nope", "max_tokens": 9,'
    b' "messages": [{"role": "user", "content": "x"}]}}',
    b'{"custom_id": "bo", "body": {"messages": [{"role": "user", "content": "body line"}]}}',
    b"",
    b"{not json",
    b'{"custom_id": "gone", "messages": [{"role": "user", "content": "unknown model"}],'
    b' "model": "missing-model"}',
]


HOUR = 3600.0  # how long a batch runs on these gateways, on their clock
LATER = 2 * HOUR  # past the end of every batch made so far, cancelled or not


@pytest.fixture
def store(tmp_path: Path) -> Iterator[offline.RunningGateway]:
    with offline.start(batch_seconds=HOUR, batch_dir=tmp_path / "store") as running:
        yield running


def state(tmp_path: Path) -> dict[str, str]:
    return {"XDG_STATE_HOME": str(tmp_path / "state")}


def rows(out: bytes) -> list[dict]:
    return [orjson.loads(line) for line in out.splitlines()]


def fetch_while_waiting(
    gw: offline.RunningGateway, ident: str, *args: str, env: dict[str, str]
) -> Result:
    """``batch fetch IDENT --wait`` in a process of its own; the gateway's clock moves past
    the batch's end only once the process has looked at it twice (the second look comes
    after it read the first answer, in progress), so it ends only by polling. (Moved at the
    first look, the clock could pass before that look was answered: one poll, ended.)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmcli", "batch", "fetch", ident, "--wait", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(env),
    )
    deadline = time.monotonic() + 30  # a state to wait for, not a time to take
    while polls(gw, ident) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    gw.advance_clock(LATER)
    out, err = proc.communicate(timeout=30)
    return Result(proc.returncode, out, err.decode("utf-8", "replace"))


def polls(gw: offline.RunningGateway, ident: str) -> int:
    """How many times the gateway was asked how the batch ``ident`` is."""
    return sum(r.method == "GET" and r.path.endswith(f"/{ident}") for r in list(gw.requests))


def same(row: dict) -> dict:
    """A row without what differs between two answers to one request: the row's id
    and the request id."""
    row = dict(row)
    assert str(row.pop("id")).startswith("batch_req_")
    if row["response"] is not None:
        row["response"] = {k: v for k, v in row["response"].items() if k != "request_id"}
    return row


def test_submit_then_fetch_gives_the_lines_batch_run_gives_in_input_order(
    store: offline.RunningGateway, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(FORMS) + b"\n")
    env = state(tmp_path)
    common = ("--base-url", store.base_url, "-m", "echo")
    sub = llmcli("batch", "submit", str(source), *common, env=env)
    assert sub.code == 0, sub.err
    assert sub.err == (
        f"llmcli: {source}: line 8 column 2: key must be a string (not sent; fetch answers "
        "it as an error)\n"
    ).replace("key must be a string", "unexpected character, expected a string key")
    created = rows(sub.out)
    assert [(c["api"], c["endpoint"], c["rows"], c["ended"]) for c in created] == [
        ("openai", "/v1/chat/completions", 3, False),  # one model per OpenAI batch file
        ("openai", "/v1/embeddings", 1, False),
        ("anthropic", "/v1/messages", 2, False),
        ("openai", "/v1/chat/completions", 1, False),
    ]
    ids = [c["id"] for c in created]
    early = llmcli("batch", "fetch", ids[0], "--base-url", store.base_url, env=env)
    assert early.code == 75
    assert early.err.startswith(f"llmcli: batch {ids[0]} is ")
    assert early.err.endswith(": fetch it again later, or add --wait\n")
    store.advance_clock(LATER)
    out = tmp_path / "out.jsonl"
    fetched = llmcli(
        "batch", "fetch", *ids, "--wait", "-o", str(out), "--base-url", store.base_url, env=env
    )
    assert (fetched.code, fetched.out) == (65, b"")
    assert (
        fetched.err
        == "llmcli: 3 of 8 rows were rejected (see .response.body.error of 2, .error of 1)\n"
    )
    run = llmcli("batch", "run", str(source), *common, env=env)
    assert run.code == 65
    assert [same(r) for r in rows(out.read_bytes())] == [same(r) for r in rows(run.out)]
    assert [r["custom_id"] for r in rows(out.read_bytes())] == [
        "1", "oa", "em", "an", "nomodel", "bo", "8", "gone",
    ]  # fmt: skip
    again = llmcli("batch", "fetch", *ids, "--base-url", store.base_url, env=env)
    assert again.out == out.read_bytes()  # fetching again gives the same lines
    status = llmcli("batch", "status", *ids, "--base-url", store.base_url, env=env)
    assert status.code == 0
    assert [(s["id"], s["status"], s["ended"], s["rows"]) for s in rows(status.out)] == [
        (ids[0], "completed", True, 3),
        (ids[1], "completed", True, 1),
        (ids[2], "ended", True, 2),
        (ids[3], "completed", True, 1),
    ]


def test_mock_batches_outlive_the_process_that_submitted_them(tmp_path: Path) -> None:
    env = state(tmp_path)
    sub = llmcli("batch", "submit", "-g", "mock", "-m", "echo", "-", stdin=b"hi\nyo\n", env=env)
    assert sub.code == 0, sub.err
    (batch,) = rows(sub.out)
    # no -g: the manifest names the gateway; a new process, a new in-process mock
    fetched = llmcli("batch", "fetch", batch["id"], "--wait", env=env)
    assert (fetched.code, fetched.err) == (0, "")
    texts = [r["response"]["body"]["choices"][0]["message"]["content"] for r in rows(fetched.out)]
    assert texts == ["hi", "yo"]


def test_anthropic_gateway_takes_prompts_as_messages_and_expired_rows_are_75(
    tmp_path: Path,
) -> None:
    with offline.start("anthropic", batch_seconds=HOUR, batch_dir=tmp_path / "s") as gw:
        env = {**state(tmp_path), "ANTHROPIC_API_KEY": SECRET}
        lines = (
            b'hello\n{"custom_id": "expire-1", "messages": [{"role": "user", "content": "x"}]}\n'
        )
        conn = ("-g", "anthropic", "--base-url", gw.base_url, "-m", "echo")
        sub = llmcli("batch", "submit", "-", *conn, stdin=lines, env=env)
        assert sub.code == 0, sub.err
        (batch,) = rows(sub.out)
        assert batch["id"].startswith("msgbatch_")
        assert (batch["api"], batch["status"]) == ("anthropic", "in_progress")
        fetched = fetch_while_waiting(gw, batch["id"], *conn[:4], env=env)
        assert polls(gw, batch["id"]) >= 2  # it polled until the batch had ended
        assert fetched.code == 75
        assert fetched.err == (
            "llmcli: 1 of 2 rows failed for a temporary reason (expired, cancelled or not "
            "answered): submit them again, or batch run --resume\n"
        )
        first, second = rows(fetched.out)
        assert first["response"]["body"]["content"] == [{"type": "text", "text": "hello"}]
        assert same(second) == {
            "custom_id": "expire-1",
            "response": None,
            "error": {
                "code": "batch_expired",
                "message": "This request could not be executed before the completion window "
                "expired.",
            },
        }
        listed = llmcli("batch", "list", *conn[:4], env=env)
        assert [(b["id"], b["status"]) for b in rows(listed.out)] == [(batch["id"], "ended")]
        recorded = b"".join(r.body for r in gw.requests) + orjson.dumps(
            [dict(r.headers) for r in gw.requests]
        )
        assert SECRET.encode() in recorded  # it was sent, as x-api-key …
    kept = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    assert SECRET.encode() not in kept + sub.out + fetched.out  # … and kept nowhere
    assert SECRET not in sub.err + fetched.err


def test_the_provider_limits_split_batches(tmp_path: Path) -> None:
    prompts = b"".join(b"q%d\n" % i for i in range(50_001))
    plan = llmcli("batch", "submit", "-", "-g", "openai", "-m", "m", "--dry-run", stdin=prompts)
    assert plan.code == 0, plan.err
    assert [(p["rows"], p["endpoint"], p["status"]) for p in rows(plan.out)] == [
        (50_000, "/v1/chat/completions", "planned"),
        (1, "/v1/chat/completions", "planned"),
    ]
    many = b"".join(b"q%d\n" % i for i in range(100_001))
    plan = llmcli("batch", "submit", "-", "-g", "anthropic", "-m", "m", "--dry-run", stdin=many)
    assert [(p["api"], p["rows"]) for p in rows(plan.out)] == [
        ("anthropic", 100_000),
        ("anthropic", 1),
    ]


def test_bad_custom_ids_are_refused_before_anything_is_sent(
    store: offline.RunningGateway, tmp_path: Path
) -> None:
    lines = (
        b'hi\n{"custom_id": "a b", "params": {"messages": [{"role": "user", "content": "x"}]}}\n'
    )
    r = llmcli("batch", "submit", "-", "--base-url", store.base_url, "-m", "echo", stdin=lines)
    assert (r.code, r.out) == (65, b"")
    assert r.err == (
        "llmcli: <stdin>:2: custom_id 'a b' is not 1-64 letters, digits, _ or - "
        "(Anthropic's rule)\n"
    )
    dupes = b'{"custom_id": "x", "messages": [{"role": "user", "content": "x"}]}\n' * 2
    r = llmcli("batch", "submit", "-", "--base-url", store.base_url, "-m", "echo", stdin=dupes)
    assert (r.code, r.err) == (65, "llmcli: <stdin>:2: custom_id 'x' repeats line 1\n")
    assert store.requests == []


def test_a_gateway_without_a_batch_api_is_78_before_sending(tmp_path: Path) -> None:
    r = llmcli("batch", "submit", "-", "-g", "lumiltc", stdin=b"hi\n")
    assert (r.code, r.out) == (78, b"")
    assert r.err == (
        "llmcli: gateway 'lumiltc' has no batch API that llmcli knows; 'llmcli batch run' "
        'sends the same file from here (if it has one, set batch_api = "openai" (or '
        '"anthropic") in its config)\n'
    )
    r = llmcli("batch", "status", "batch_01abc", "-g", "llmbase", env={"LLMBASE_API_KEY": "k"})
    assert r.code == 78
    assert r.err.startswith("llmcli: gateway 'llmbase' has no batch API that llmcli knows")


def test_cancel_then_fetch_gives_cancelled_rows_and_list_shows_newest_first(
    tmp_path: Path,
) -> None:
    with offline.start(batch_seconds=HOUR, batch_dir=tmp_path / "s") as gw:
        env = state(tmp_path)
        conn = ("--base-url", gw.base_url, "-m", "echo")
        first = rows(llmcli("batch", "submit", "-", *conn, stdin=b"a\nb\n", env=env).out)
        second = rows(llmcli("batch", "submit", "-", *conn, stdin=b"c\n", env=env).out)
        cancelled = llmcli("batch", "cancel", first[0]["id"], *conn[:2], env=env)
        assert cancelled.code == 0
        assert rows(cancelled.out)[0]["status"] == "cancelling"
        gw.advance_clock(LATER)
        fetched = llmcli("batch", "fetch", first[0]["id"], "--wait", *conn[:2], env=env)
        assert fetched.code == 75
        assert [same(r) for r in rows(fetched.out)] == [
            {
                "custom_id": cid,
                "response": None,
                "error": {
                    "code": "batch_cancelled",
                    "message": "This request was not executed because the batch was cancelled.",
                },
            }
            for cid in ("1", "2")
        ]
        listed = llmcli("batch", "list", *conn[:2], "--limit", "5", env=env)
        assert listed.code == 0
        assert [(b["id"], b["api"]) for b in rows(listed.out)] == [
            (second[0]["id"], "openai"),
            (first[0]["id"], "openai"),
        ]


def test_fetch_to_a_file_that_cannot_be_written_is_73(
    store: offline.RunningGateway, tmp_path: Path
) -> None:
    env = state(tmp_path)
    sub = llmcli(
        "batch", "submit", "-", "--base-url", store.base_url, "-m", "echo", stdin=b"a\n", env=env
    )
    (batch,) = rows(sub.out)
    store.advance_clock(LATER)
    target = tmp_path / "missing" / "out.jsonl"
    r = llmcli(
        "batch",
        "fetch",
        batch["id"],
        "--wait",
        "-o",
        str(target),
        "--base-url",
        store.base_url,
        env=env,
    )
    assert r.code == 73
    assert r.err == f"llmcli: cannot write {target}: No such file or directory\n"
    assert not os.path.exists(target)


def test_dry_run_sends_nothing_and_a_repeated_id_counts_once(
    store: offline.RunningGateway, tmp_path: Path
) -> None:
    env = state(tmp_path)
    conn = ("--base-url", store.base_url)
    sub = llmcli("batch", "submit", "-", *conn, "-m", "echo", stdin=b"a\n", env=env)
    (batch,) = rows(sub.out)
    store.clear()
    for command in ("status", "cancel", "fetch"):
        r = llmcli("batch", command, batch["id"], *conn, "--dry-run", env=env)
        assert (r.code, r.err) == (0, "")
        shown = orjson.loads(r.out)
        suffix = "/cancel" if command == "cancel" else ""
        assert (shown["method"], shown["url"]) == (
            "POST" if command == "cancel" else "GET",
            f"{store.base_url}/batches/{batch['id']}{suffix}",
        )
    listed = llmcli("batch", "list", *conn, "--dry-run", "--limit", "3", env=env)
    urls = [
        orjson.loads(p)["url"] for p in listed.out.replace(b"}\n{", b"}\n\x00{").split(b"\n\x00")
    ]
    assert urls == [
        f"{store.base_url}/batches?limit=3",
        f"{store.base_url}/messages/batches?limit=3",
    ]
    assert store.requests == []
    store.advance_clock(LATER)
    twice = llmcli("batch", "fetch", batch["id"], batch["id"], "--wait", *conn, env=env)
    assert twice.code == 0
    assert [r["custom_id"] for r in rows(twice.out)] == ["1"]


@pytest.mark.parametrize(("status", "code", "sent"), [(500, 69, 1), (503, 0, 2)])
def test_creating_a_batch_is_retried_only_when_the_server_surely_did_not(
    store: offline.RunningGateway, tmp_path: Path, status: int, code: int, sent: int
) -> None:
    line = b'{"custom_id": "a", "params": {"messages": [{"role": "user", "content": "x"}]}}\n'
    fault = ("-H", f"X-Mock-Fault: status={status};times=1;retry_after=0.1")
    r = llmcli(
        "batch", "submit", "-", "--base-url", store.base_url, "-m", "echo", *fault,
        stdin=line, env=state(tmp_path),
    )  # fmt: skip
    assert r.code == code, r.err
    creates = [q for q in store.requests if q.method == "POST"]
    assert len(creates) == sent  # a 500 may have made the batch: never a second one
