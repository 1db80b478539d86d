"""``batch run -o FILE`` (llmcli.batch.results_file): locked for the run, rewritten for
``--resume`` without losing or repeating a row, appended after a torn line on a line of
its own, cut back to its last whole row when a write fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from llmcli.batch import results
from llmcli.batch.lines import Row, repeated_id
from llmcli.batch.results_file import ResultsFile
from llmcli.errors import OutputFileError


def line(row: dict) -> bytes:
    return orjson.dumps(row) + b"\n"


def test_resume_keeps_each_success_once_and_drops_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    rows = [
        results.answered("a", 200, "", {}),
        results.answered("b", 500, "", {}),
        results.failed("c", "timeout", "t"),
        results.answered("a", 200, "", {}),  # a duplicate of a (an older bug, a hand edit)
        results.answered("d", 201, "", {}),
    ]
    path.write_bytes(b"".join(map(line, rows)) + b'{"custom_id": "e", "resp')
    os.chmod(path, 0o640)
    with ResultsFile(str(path), resume=True) as out:
        assert out.done == {"a", "d"}
        out.write(line(results.answered("b", 200, "", {})))
    kept = [orjson.loads(x)["custom_id"] for x in path.read_bytes().splitlines()]
    assert kept == ["a", "d", "b"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_resume_of_a_file_with_nothing_to_drop_leaves_it_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    whole = line(results.answered("a", 200, "", {}))
    path.write_bytes(whole)
    inode = os.stat(path).st_ino
    with ResultsFile(str(path), resume=True) as out:
        assert out.done == {"a"}
    assert path.read_bytes() == whole and os.stat(path).st_ino == inode
    with ResultsFile(str(tmp_path / "new.jsonl"), resume=True) as out:
        assert out.done == set()


def test_a_second_writer_is_refused_while_the_first_holds_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "out.jsonl")
    with ResultsFile(path), pytest.raises(OutputFileError) as refused:
        ResultsFile(path, resume=True)
    assert refused.value.exit_code == 73
    assert refused.value.message == (
        f"{path} is being written by another llmcli batch run (it holds a lock on it): "
        "wait for that run to end, or write to another file"
    )
    ResultsFile(path).close()  # free again once the first is closed


def test_the_lock_follows_the_file_a_resume_put_in_place(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(line(results.failed("x", "timeout", "t")))  # to drop: a rewrite
    with ResultsFile(str(path), resume=True), pytest.raises(OutputFileError, match="a lock"):
        ResultsFile(str(path))


def test_appending_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(line(results.answered("a", 200, "", {})) + b'{"custom_id": "b", "re')
    with ResultsFile(str(path)) as out:
        out.write(line(results.answered("c", 200, "", {})))
    last = path.read_bytes().splitlines()[-1]
    assert orjson.loads(last)["custom_id"] == "c"


def test_a_failed_write_is_73_and_the_file_keeps_its_whole_rows(tmp_path: Path) -> None:
    # RLIMIT_FSIZE makes a write past 300 bytes short, then EFBIG: a disk that fills up
    script = f"""
import resource, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from llmcli.batch.results_file import ResultsFile
from llmcli.errors import OutputFileError
resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))
out = ResultsFile(sys.argv[1])
try:
    for i in range(10):
        out.write(b'{{"custom_id": "%d", "pad": "' % i + b"x" * 60 + b'"}}\\n')
except OutputFileError as e:
    print(e.exit_code, e.message)
"""
    path = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, timeout=30, check=True
    )
    assert done.stdout.decode() == (
        f"73 cannot write {path}: File too large; it holds every row written before this "
        "one (--resume continues)\n"
    )
    kept = path.read_bytes()
    assert len(kept) <= 300 and kept.endswith(b"\n")
    assert [orjson.loads(x)["custom_id"] for x in kept.splitlines()] == ["0", "1", "2"]


def test_a_resume_that_cannot_rewrite_leaves_the_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    rows = [results.answered(str(i), 200 if i % 2 else 500, "", {"p": "x" * 50}) for i in range(20)]
    original = b"".join(map(line, rows))
    path.write_bytes(original)
    script = f"""
import resource, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from llmcli.batch.results_file import ResultsFile
from llmcli.errors import OutputFileError
resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
try:
    ResultsFile(sys.argv[1], resume=True)
except OutputFileError as e:
    print(e.exit_code, e.message)
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, timeout=30, check=True
    )
    assert done.stdout.decode() == (
        f"73 cannot rewrite {path} for --resume: File too large; it is as it was\n"
    )
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_an_unwritable_place_is_73(tmp_path: Path) -> None:
    with pytest.raises(OutputFileError) as failed:
        ResultsFile(str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert failed.value.message == (
        f"cannot write {tmp_path}/no/such/dir.jsonl: No such file or directory"
    )


def test_repeated_id_names_the_first_repeat() -> None:
    rows = [Row(1, "a"), Row(2, "b"), Row(3, "c"), Row(5, "b"), Row(6, "a")]
    assert repeated_id(rows) == ("b", 2, 5)
    assert repeated_id(rows[:3]) is None


def test_resume_through_a_symlink_rewrites_the_file_it_names(tmp_path: Path) -> None:
    target = tmp_path / "target.jsonl"
    target.write_bytes(
        line(results.answered("a", 200, "", {})) + line(results.failed("b", "t", "x"))
    )
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with ResultsFile(str(link), resume=True) as out:
        assert out.done == {"a"}
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert [orjson.loads(x)["custom_id"] for x in target.read_bytes().splitlines()] == ["a"]


def test_a_device_is_written_as_it_is_unlocked() -> None:
    with ResultsFile("/dev/null", resume=True) as first, ResultsFile("/dev/null") as second:
        first.write(b"{}\n")
        second.write(b"{}\n")
        assert first.done == set()
