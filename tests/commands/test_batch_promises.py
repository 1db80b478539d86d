"""``llmcli batch run`` keeps DESIGN's Limits: no request after a stop, none sent more
often than ``--retries`` allows, every row in ``-o FILE`` once (lock, resume, torn lines,
write errors): the real process against the offline gateway on 127.0.0.1."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import clean_env, llmcli

from llmcli import mock as offline
from llmcli.batch import results
from llmcli.batch.results_file import ResultsFile
from llmcli.http.governor import Halted


def rows(out: bytes) -> list[dict]:
    return [orjson.loads(line) for line in out.splitlines()]


def test_after_a_401_no_new_request_is_sent() -> None:
    # every answer is a 401: the first one back stops the run; only the requests already
    # in flight then (at most -P) reach the server, whatever the input's length
    with offline.start(faults="status=401") as gw:
        lines = b"".join(b"row %d\n" % i for i in range(200))
        r = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-P", "4", stdin=lines)
        assert r.code == 77
        assert r.out == b""
        assert 1 <= len(gw.requests) <= 4


def test_a_file_another_run_holds_is_73_and_nothing_is_sent(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with offline.start() as gw, ResultsFile(str(out)):  # as a run in progress holds it
        r = llmcli(
            "batch", "run", "--base-url", gw.base_url, "-m", "echo", "-o", str(out), stdin=b"a\n"
        )
        assert r.code == 73
        assert r.err == (
            f"llmcli: {out} is being written by another llmcli batch run (it holds a lock on "
            "it): wait for that run to end, or write to another file\n"
        )
        assert gw.requests == []


def test_resume_refuses_a_repeated_custom_id_before_sending(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    answered = orjson.dumps(results.answered("a", 200, "", {})) + b"\n"
    out.write_bytes(answered)
    source = b'{"custom_id": "a", "body": {}}\nplain\n{"custom_id": "2", "body": {}}\n'
    with offline.start() as gw:
        for given in ("file", "stdin"):
            path = tmp_path / "in.jsonl"
            path.write_bytes(source)
            args = [str(path)] if given == "file" else []
            r = llmcli(
                "batch", "run", *args, "--base-url", gw.base_url, "-m", "echo", "-o", str(out),
                "--resume", stdin=source,
            )  # fmt: skip
            name = str(path) if given == "file" else "<stdin>"
            assert r.code == 65, (given, r)
            assert r.err == (
                f"llmcli: {name}:3: custom_id '2' is also on line 2; --resume needs each "
                "custom_id once (nothing was sent)\n"
            )
        assert gw.requests == []
    assert out.read_bytes() == answered


def test_rows_after_a_torn_line_are_whole_and_resume_completes(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id":"x","custom_id":"1","resp')  # a run killed mid-write
    with offline.start() as gw:
        r = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-o", str(out),
                   stdin=b"a\nb\n")  # fmt: skip
        assert r.code == 0
        torn, *whole = out.read_bytes().splitlines()
        assert torn == b'{"id":"x","custom_id":"1","resp'
        assert [row["custom_id"] for row in rows(b"\n".join(whole))] == ["1", "2"]
        r = llmcli("batch", "run", "--base-url", gw.base_url, "-m", "echo", "-o", str(out),
                   "--resume", stdin=b"a\nb\n")  # fmt: skip
        assert r.code == 0
        assert [row["custom_id"] for row in rows(out.read_bytes())] == ["1", "2"]
        assert len(gw.requests) == 2


def test_a_full_disk_is_73_with_every_whole_row_kept(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with offline.start() as gw:
        done = subprocess.run(
            [sys.executable, "-m", "llmcli", "batch", "run", "--base-url", gw.base_url,
             "-m", "echo", "-P", "1", "-o", str(out)],
            input=b"".join(b"prompt number %d\n" % i for i in range(50)),
            capture_output=True, env=clean_env(), timeout=60,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000)),
        )  # fmt: skip
    assert done.returncode == 73
    assert done.stderr.decode() == (
        f"llmcli: cannot write {out}: File too large; it holds every row written before "
        "this one (--resume continues)\n"
    )
    kept = out.read_bytes()
    assert kept.endswith(b"\n") and 0 < len(kept) <= 4000
    assert [row["custom_id"] for row in rows(kept)] == [
        str(i) for i in range(1, len(rows(kept)) + 1)
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_rows_to_a_device_or_pipe_are_written_as_they_come(url: str) -> None:
    r = llmcli(
        "batch", "run", "--base-url", url, "-m", "echo", "-o", "/dev/stdout", stdin=b"a\nb\n"
    )
    assert r.code == 0, r.err
    assert [row["custom_id"] for row in rows(r.out)] == ["1", "2"]


def test_a_halted_run_sends_nothing_more_even_without_a_governor() -> None:
    import llmcli as library

    with offline.start() as gw, library.Client(base_url=gw.base_url, api_key="k") as client:
        request = client.request("POST", "chat", {"model": "echo", "messages": []})
        with pytest.raises(Halted):
            client.send(request, halted=lambda: True)
        assert gw.requests == []


def test_a_batch_created_with_its_answer_cut_is_not_created_again(tmp_path: Path) -> None:
    # the second request (POST /batches) is answered 200, then cut: the server made the
    # batch, so it is never sent again, whatever --retries says
    rows_file = tmp_path / "rows.txt"
    rows_file.write_bytes(b"a\nb\n")
    with offline.start(batch_dir=tmp_path / "store") as gw:
        r = llmcli(
            "batch", "submit", str(rows_file), "--base-url", gw.base_url, "-m", "echo",
            "-H", "X-Mock-Fault: cut=1;every=2", env={"XDG_STATE_HOME": str(tmp_path)},
        )  # fmt: skip
        assert r.code == 76
        assert [(x.method, x.path) for x in gw.requests] == [
            ("POST", "/v1/files"),
            ("POST", "/v1/batches"),
        ]
