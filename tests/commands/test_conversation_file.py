"""``-c/--continue FILE`` is safe: concurrent writers, symlinks, unwritable places, and
temporary files left by a killed writer (DESIGN.md, "Limits")."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import clean_env, llmcli

from llmcli import mock as offline
from llmcli.io import conversation

CHAT = (sys.executable, "-m", "llmcli", "chat")


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_ten_concurrent_writers_each_land_their_turn_exactly_once(url: str, tmp_path: Path) -> None:
    conv = tmp_path / "same.jsonl"
    procs = [
        subprocess.Popen(
            [*CHAT, "--base-url", url, "-m", "echo", "-c", str(conv), f"turn {n}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        for n in range(10)
    ]
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=30)
        assert (proc.returncode, out, err) == (0, f"turn {n}\n".encode(), b"")
    saved = lines(conv)
    assert len(saved) == 20
    users, replies = saved[::2], saved[1::2]
    assert all(m["role"] == "user" for m in users)
    assert all(m["role"] == "assistant" for m in replies)
    assert sorted(m["content"] for m in users) == sorted(f"turn {n}" for n in range(10))
    assert [m["content"] for m in replies] == [m["content"] for m in users]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.jsonl"]


def test_a_symlink_is_written_through_and_stays_a_link(url: str, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "links").mkdir()
    real = tmp_path / "data" / "real.jsonl"
    real.write_bytes(b'{"role":"user","content":"zero"}\n{"role":"assistant","content":"0"}\n')
    real.chmod(0o640)
    link = tmp_path / "links" / "link.jsonl"
    link.symlink_to(Path("..") / "data" / "real.jsonl")
    for turn in ("one", "two"):
        r = llmcli("chat", "--base-url", url, "-m", "echo", "-c", str(link), turn)
        assert (r.code, r.out, r.err) == (0, f"{turn}\n".encode(), "")
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("..", "data", "real.jsonl")
    assert [m["content"] for m in lines(real)] == ["zero", "0", "one", "one", "two", "two"]
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in (tmp_path / "links").iterdir()) == ["link.jsonl"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["real.jsonl"]


def test_a_stale_temporary_file_is_removed_by_the_next_write(url: str, tmp_path: Path) -> None:
    conv = tmp_path / "conv.jsonl"
    llmcli("chat", "--base-url", url, "-m", "echo", "-c", str(conv), "first")
    before = conv.read_bytes()
    # what a writer killed between its write and its rename leaves behind
    (tmp_path / ".conv.jsonl.llmcli-k1ll3d.tmp").write_bytes(before + b'{"role":"user"')
    (tmp_path / ".other.jsonl.llmcli-k1ll3d.tmp").write_bytes(b"not ours\n")
    r = llmcli("chat", "--base-url", url, "-m", "echo", "-c", str(conv), "second")
    assert (r.code, r.out, r.err) == (0, b"second\n", "")
    assert conv.read_bytes() == before + (
        b'{"role":"user","content":"second"}\n{"role":"assistant","content":"second"}\n'
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.jsonl.llmcli-k1ll3d.tmp",
        "conv.jsonl",
    ]


def _unwritable(tmp_path: Path, case: str) -> tuple[str, str]:
    """A ``-c`` path that cannot be written even by root, and the reason llmcli gives."""
    tmp = os.path.realpath(tmp_path)
    if case == "missing directory":
        return f"{tmp}/missing/conv.jsonl", f"directory {tmp}/missing does not exist"
    if case == "parent is a file":
        (tmp_path / "notes.txt").write_text("x")
        return f"{tmp}/notes.txt/conv.jsonl", f"{tmp}/notes.txt is not a directory"
    if case == "directory that takes no new files":
        try:
            os.open("/proc/conv.jsonl", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except OSError as e:
            return "/proc/conv.jsonl", f"cannot create files in /proc: {e.strerror}"
        raise AssertionError("/proc took a new file")
    if case == "a directory given as the file":
        return tmp, "it is a directory"
    assert case == "a socket given as the file"
    path = f"{tmp}/conv.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.close()
    return path, "not a regular file"


@pytest.mark.parametrize(
    "case",
    [
        "missing directory",
        "parent is a file",
        "directory that takes no new files",
        "a directory given as the file",
        "a socket given as the file",
    ],
)
@pytest.mark.parametrize("command", [("chat",), ("stream",), ("messages",)])
def test_an_unwritable_place_is_73_before_anything_is_sent(
    gw: offline.RunningGateway, tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    path, reason = _unwritable(tmp_path, case)
    r = llmcli(*command, "--base-url", gw.base_url, "-m", "echo", "-c", path, "hi")
    assert (r.code, r.out, r.err) == (73, b"", f"llmcli: cannot write {path}: {reason}\n")
    assert gw.requests == []


def test_a_dangling_symlink_gets_its_target_created(url: str, tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    first = llmcli("chat", "--base-url", url, "-m", "echo", "-c", str(link), "first")
    assert (first.code, first.out) == (0, b"first\n")
    before = real.read_bytes()
    assert before == b'{"role":"user","content":"first"}\n{"role":"assistant","content":"first"}\n'
    r = llmcli(
        "chat", "--retries", "0", "--base-url", url, "-m", "echo", "-c", str(link),
        "-H", "X-Mock-Fault: status=500", "second",
    )  # fmt: skip
    assert r.code == 69
    assert link.is_symlink() and real.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.jsonl", "real.jsonl"]


def test_a_system_prompt_is_not_added_to_a_conversation_another_writer_started(
    tmp_path: Path,
) -> None:
    conv = tmp_path / "conv.jsonl"
    conv.write_bytes(b'{"role":"user","content":"a"}\n{"role":"assistant","content":"b"}')
    user = {"role": "user", "content": "c"}
    conversation.record_turn(
        str(conv), system="be brief", user=user, replies=[{"role": "assistant", "content": "d"}]
    )
    assert [m["content"] for m in lines(conv)] == ["a", "b", "c", "d"]
