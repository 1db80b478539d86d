"""``llmcli batch run``: every input form, every failure class, resume after kill -9,
shards: the real process against the offline gateway on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import clean_env, host, llmcli

import llmcli as library
from llmcli import mock as offline
from llmcli.batch import Defaults

FORMS = [
    b"a plain prompt",
    b'{"custom_id": "oa", "method": "POST", "url": "/v1/chat/completions",'
    b' "body": {"model": "echo", "messages": [{"role": "user", "content": "openai line"}]}}',
    b'{"custom_id": "em", "method": "POST", "url": "/v1/embeddings",'
    b' "body": {"model": "embed-small", "input": "x"}}',
    b'{"custom_id": "ms", "method": "POST", "url": "/v1/messages",'
    b' "body": {"model": "echo", "max_tokens": 9, "messages": [{"role": "user", "content": "m"}]}}',
    b'{"custom_id": "an", "params": {"model": "echo", "max_tokens": 9,'
    b' "messages": [{"role": "user", "content": "anthropic line"}]}}',
    b'{"custom_id": "bo", "body": {"messages": [{"role": "user", "content": "body line"}]}}',
    b'{"messages": [{"role": "user", "content": "bare body"}]}',
    b"",
    b"{not json",
    b'{"custom_id": "u", "url": "/v1/files", "body": {}}',
]


def rows(out: bytes) -> list[dict]:
    return [orjson.loads(line) for line in out.splitlines()]


def status(row: dict) -> int | None:
    return row["response"]["status_code"] if row["response"] else None


def test_every_input_form_in_input_order(gw: offline.RunningGateway, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(FORMS) + b"\n")
    r = llmcli("batch", "run", str(source), "--base-url", gw.base_url, "-m", "echo")
    assert r.code == 65
    assert r.err == "llmcli: 2 of 9 rows were rejected (see .error)\n"
    out = rows(r.out)
    assert [row["custom_id"] for row in out] == ["1", "oa", "em", "ms", "an", "bo", "7", "9", "u"]
    assert [status(row) for row in out] == [200] * 7 + [None, None]
    assert out[0]["response"]["body"]["choices"][0]["message"]["content"] == "a plain prompt"
    assert out[4]["response"]["body"]["content"][0]["text"] == "anthropic line"
    assert out[7]["error"] == {
        "code": "invalid_request",
        "message": "line 9 column 2: unexpected character, expected a string key",
    }
    assert out[8]["error"]["code"] == "invalid_request"
    assert all(row["id"].startswith("batch_req_") for row in out)
    assert len(gw.requests) == 7  # the bad lines were never sent
    assert sorted(set(q.path for q in gw.requests)) == [
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/messages",
    ]


def test_flags_are_defaults_for_every_row(gw: offline.RunningGateway) -> None:
    lines = (
        b'one\n{"model": "echo", "max_tokens": 3,'
        b' "messages": [{"role": "user", "content": "two"}]}\n'
    )
    r = llmcli(
        "batch", "run", "--base-url", gw.base_url, "-m", "lorem", "-s", "Be brief.",
        "--max-tokens", "5", "-p", "seed=7", "-P", "1", stdin=lines,
    )  # fmt: skip
    assert r.code == 0, r.err
    sent = [orjson.loads(q.body) for q in gw.requests]
    assert sent[0] == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "one"},
        ],
        "max_tokens": 5,
        "seed": 7,
        "model": "lorem",
    }
    assert sent[1]["model"] == "echo" and sent[1]["max_tokens"] == 3 and sent[1]["seed"] == 7


def test_no_model_anywhere_is_an_error_row(gw: offline.RunningGateway) -> None:
    r = llmcli("batch", "run", "--base-url", gw.base_url, stdin=b"hi\n")
    assert r.code == 65
    assert rows(r.out)[0]["error"] == {
        "code": "invalid_request",
        "message": "line 1: no model: give -m MODEL or a model in the line",
    }
    assert gw.requests == []


def test_a_4xx_is_recorded_with_its_body(gw: offline.RunningGateway) -> None:
    line = (
        b'{"custom_id": "x",'
        b' "body": {"model": "nope", "messages": [{"role": "user", "content": "q"}]}}\n'
    )
    r = llmcli("batch", "run", "--base-url", gw.base_url, stdin=line + b"ok\n" + b"", env=None)
    assert r.code == 65
    out = rows(r.out)
    assert status(out[0]) == 404
    assert out[0]["response"]["body"]["error"]["message"] == "model not found: nope"
    assert out[1]["error"]["message"] == "line 2: no model: give -m MODEL or a model in the line"


def test_401_stops_the_run_and_writes_no_row_after_it() -> None:
    with offline.start(faults="status=401;times=1") as gw:
        r = llmcli(
            "batch", "run", "--base-url", gw.base_url, "-m", "echo", "-P", "1", stdin=b"a\nb\nc\n"
        )
        assert r.code == 77
        assert r.out == b""
        assert r.err.startswith(f"llmcli: 401 Unauthorized from {host(gw.base_url)}: ")
        assert len(gw.requests) <= 2


def test_a_5xx_after_retries_is_temporary_and_exit_75() -> None:
    with offline.start(faults="status=500") as gw:
        r = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "--retries", "0",
                   stdin=b"a\nb\n")  # fmt: skip
    assert r.code == 75
    assert [status(row) for row in rows(r.out)] == [500, 500]
    assert r.err == (
        "llmcli: 2 of 2 rows failed for a temporary reason: run again with --resume to "
        "complete them\n"
    )


def test_a_429_storm_pauses_and_every_row_lands() -> None:
    lines = b"".join(b"row %d\n" % i for i in range(60))
    with offline.start(faults="status=429;every=3;retry_after=0.1") as gw:
        r = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-P", "8",
                   stdin=lines, timeout=60)  # fmt: skip
    assert r.code == 0, r.err
    out = rows(r.out)
    assert [row["custom_id"] for row in out] == [str(i) for i in range(1, 61)]
    assert all(status(row) == 200 for row in out)
    assert "pausing all requests" in r.err


def test_unordered_writes_every_row_once(gw: offline.RunningGateway) -> None:
    lines = b"".join(b"row %d\n" % i for i in range(40))
    r = llmcli("batch", "run", "--unordered", "--base-url", gw.base_url, "-m", "echo", "-P", "8",
               stdin=lines)  # fmt: skip
    assert r.code == 0
    assert sorted(int(row["custom_id"]) for row in rows(r.out)) == list(range(1, 41))


def test_shards_are_disjoint_and_cover_the_input(gw: offline.RunningGateway) -> None:
    lines = b"".join(b"row %d\n" % i for i in range(50))
    seen: list[str] = []
    for k in range(3):
        r = llmcli("batch", "run", "--shard", f"{k}/3", "--base-url", gw.base_url, "-m", "echo",
                   stdin=lines)  # fmt: skip
        assert r.code == 0
        seen += [row["custom_id"] for row in rows(r.out)]
    assert sorted(seen, key=int) == [str(i) for i in range(1, 51)]
    bad = llmcli("batch", "run", "--shard", "3/3", "-m", "echo", stdin=lines)
    assert (bad.code, bad.err) == (
        2,
        "llmcli: --shard '3/3': expected K/N with 0 <= K < N, e.g. 0/4\n",
    )


def test_dry_run_checks_every_line_and_sends_nothing(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(FORMS) + b"\n")
    r = llmcli("batch", "run", str(source), "--base-url", gw.base_url, "-m", "echo", "--dry-run",
               "--shard", "0/1")  # fmt: skip
    assert r.code == 0
    plan = orjson.loads(r.out)
    estimate = plan.pop("estimate")
    assert plan == {
        "rows": 9,
        "endpoints": {"chat": 4, "embeddings": 1, "messages": 2},
        "invalid": 2,
        "shard": "0/1",
        "resume_skipped": 0,
    }
    assert estimate["tokens_in"] > 0 and estimate["cost_source"] == "unknown"
    assert estimate["cost_usd_min"] is None  # no price known here: no guess
    assert gw.requests == []  # not even the price list


def _popen(*args: str, stdin: bytes) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmcli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.close()
    return proc


def test_resume_after_kill_9_answers_each_row_exactly_once(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lines = b"".join(b"row %d\n" % i for i in range(120))
    with offline.start(faults="delay=20") as gw:
        for _ in range(2):
            # each run is killed once it has written 20 more lines (a state, not a time;
            # on a machine slow enough to finish first, the kill finds nothing to stop)
            target = (out.read_bytes().count(b"\n") if out.exists() else 0) + 20
            proc = _popen("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-P", "4",
                          "-o", str(out), "--resume", stdin=lines)  # fmt: skip
            deadline = time.monotonic() + 20
            while (
                proc.poll() is None
                and time.monotonic() < deadline
                and (not out.exists() or out.read_bytes().count(b"\n") < target)
            ):
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)  # not once it has ended: its pid is not its own
            proc.wait(10)
        with out.open("ab") as f:
            f.write(b'{"id": "batch_req_torn", "custom_id": "3')  # a torn last line
        done = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-P", "4",
                      "-o", str(out), "--resume", stdin=lines, timeout=60)  # fmt: skip
    assert done.code == 0, done.err
    final = rows(out.read_bytes())
    ids = [row["custom_id"] for row in final]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 121)]  # each exactly once
    assert all(status(row) == 200 for row in final)


def test_resume_retries_rows_that_failed_before(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with offline.start(faults="status=500;times=2") as gw:
        first = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-P", "1",
                       "--retries", "0", "-o", str(out), stdin=b"a\nb\nc\n")  # fmt: skip
        assert first.code == 75
        again = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-o", str(out),
                       "--resume", stdin=b"a\nb\nc\n")  # fmt: skip
    assert again.code == 0, again.err
    final = rows(out.read_bytes())
    assert sorted(row["custom_id"] for row in final) == ["1", "2", "3"]
    assert all(status(row) == 200 for row in final)


def test_an_unwritable_output_is_73_before_anything_is_sent(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "out.jsonl"
    r = llmcli(
        "batch", "run", "--base-url", gw.base_url, "-m", "echo", "-o", str(target), stdin=b"a\n"
    )
    assert r.code == 73
    assert r.err == f"llmcli: cannot write {target}: No such file or directory\n"
    assert gw.requests == []


@pytest.mark.parametrize("ordered", [True, False])
def test_the_library_runs_rows_in_input_order(url: str, ordered: bool) -> None:
    client = library.Client(base_url=url)
    lines = [
        "first",
        {"custom_id": "second", "body": {"messages": [{"role": "user", "content": "2"}]}},
    ]
    out = list(library.batch.run(lines, client=client, parallel=4, ordered=ordered,
                                 defaults=Defaults(model="echo")))  # fmt: skip
    ids = [row["custom_id"] for row in out]
    assert ids == ["1", "second"] if ordered else sorted(ids) == ["1", "second"]
    assert [status(row) for row in out] == [200, 200]


def test_the_model_comes_from_the_environment_or_the_client(url: str) -> None:
    r = llmcli("batch", "run", "--base-url", url, stdin=b"hi\n", env={"LLMCLI_MODEL": "echo"})
    assert r.code == 0, r.err
    assert rows(r.out)[0]["response"]["body"]["model"] == "echo"
    out = list(library.batch.run(["hi"], client=library.Client(base_url=url, model="echo")))
    assert status(out[0]) == 200


def test_a_rate_limit_budget_is_waited_out_and_every_row_lands() -> None:
    lines = b"".join(b"row %d\n" % i for i in range(12))
    with offline.start(faults="budget=4:0.5") as gw:
        r = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-P", "4",
                   stdin=lines, timeout=60)  # fmt: skip
    assert r.code == 0, r.err
    assert [status(row) for row in rows(r.out)] == [200] * 12


def test_a_line_over_64_mib_is_65_and_read_no_further(gw: offline.RunningGateway) -> None:
    r = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo",
               stdin=b"x" * (64 * 1024 * 1024 + 2))  # fmt: skip
    assert (r.code, r.err) == (65, "llmcli: <stdin>:1: a line over 64 MiB\n")
    assert gw.requests == []
