"""What only a real process shows: pipes closed early, Ctrl-C, terminals, import cost."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys

import pytest
from conftest import clean_env, llmcli
from reading import read_until


def _popen(*args: str, **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "llmcli", *args],
        env=clean_env(),
        **kw,  # type: ignore[arg-type]
    )


def test_reader_closing_stdout_exits_141_quietly(url: str) -> None:
    script = (
        f'"{sys.executable}" -m llmcli stream --base-url {url} -m lorem --max-tokens 5000 go '
        '| head -c 5; echo "status=${PIPESTATUS[0]}" >&2'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, env=clean_env(), timeout=30)
    assert done.stdout == b"lorem"
    assert done.stderr == b"status=141\n"


@pytest.mark.parametrize(
    "command",
    [
        "chat -o json",
        "chat -o jsonl",
        "chat -o text",
        "stream -o sse",
        "stream -o json",
        "messages -o json",
    ],
)
def test_a_reader_gone_mid_write_is_141_in_every_mode(url: str, command: str) -> None:
    # one write of ~1 MB: the pipe takes 64 KiB of it, the reader leaves, the write
    # returns short; what it did not take must be written again (EPIPE), not dropped
    script = (
        f'"{sys.executable}" -m llmcli {command} --base-url {url} -m lorem --max-tokens 150000 '
        'go | head -c 5; echo "status=${PIPESTATUS[0]}" >&2'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, env=clean_env(), timeout=60)
    assert len(done.stdout) == 5
    assert done.stderr == b"status=141\n"


def test_batch_rows_to_a_reader_gone_is_141(url: str) -> None:
    script = (
        f'printf "one\\ntwo\\n" | "{sys.executable}" -m llmcli batch run --base-url {url} '
        '-m lorem --max-tokens 150000 | head -c 5; echo "status=${PIPESTATUS[1]}" >&2'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, env=clean_env(), timeout=60)
    assert done.stdout == b'{"id"'
    assert done.stderr == b"status=141\n"


def test_a_full_non_blocking_stdout_is_waited_for(url: str) -> None:
    # a stdout set O_NONBLOCK by another program sharing it: a full pipe is EAGAIN, not
    # a reader gone; llmcli waits until it can write, and writes everything
    import fcntl
    import termios

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETFL, fcntl.fcntl(write_end, fcntl.F_GETFL) | os.O_NONBLOCK)
    proc = _popen(
        "chat", "-o", "json", "--base-url", url, "-m", "lorem", "--max-tokens", "50000", "go",
        stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(write_end)
    size = fcntl.fcntl(read_end, 1032)  # F_GETPIPE_SZ: wait until the pipe is full
    waiting = bytearray(4)
    while proc.poll() is None:
        fcntl.ioctl(read_end, termios.FIONREAD, waiting)
        if int.from_bytes(waiting, sys.byteorder) >= size:
            break
        os.sched_yield()
    data = b""
    while chunk := os.read(read_end, 1 << 16):
        data += chunk
    os.close(read_end)
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None and proc.stderr.read() == b""
    assert len(data) > size and data.endswith(b"}\n")


def test_ctrl_c_exits_130_with_what_arrived_on_stdout(url: str) -> None:
    proc = _popen(
        "stream",
        "--base-url",
        url,
        "-m",
        "lorem",
        "--max-tokens",
        "1000",
        "-H",
        "X-Mock-Fault: slow=64:50",
        "go",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = read_until(proc, proc.stdout.fileno(), b"dolor ")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert (first + out).startswith(b"lorem ipsum dolor ")
    assert len(first + out) < 1000 * 4  # interrupted, not finished
    assert b"Traceback" not in err


def test_terminal_stdin_with_no_prompt_is_a_usage_error_not_a_hang(url: str) -> None:
    controller, terminal = pty.openpty()
    try:
        proc = _popen(
            "chat",
            "--base-url",
            url,
            "-m",
            "echo",
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = proc.communicate(timeout=10)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 2
    assert out == b""
    assert err.startswith(b"llmcli: no prompt")


def test_terminal_stdin_is_not_read_when_words_are_given(url: str) -> None:
    controller, terminal = pty.openpty()
    try:
        proc = _popen(
            "chat",
            "--base-url",
            url,
            "-m",
            "echo",
            "words",
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, _ = proc.communicate(timeout=10)
    finally:
        os.close(controller)
        os.close(terminal)
    assert (proc.returncode, out) == (0, b"words\n")


def _imported(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llmcli", *args],
        capture_output=True,
        env=clean_env(),
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    names = set()
    for line in done.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_version_imports_neither_httpx_nor_rich() -> None:
    r = llmcli("--version")
    assert (r.code, r.out) == (0, b"llmcli 0.1.0\n")
    names = _imported("--version")
    assert "llmcli" in names
    assert not names & {"httpx", "rich", "typer", "click"}


def test_piped_commands_never_import_rich(url: str) -> None:
    names = _imported("chat", "--base-url", url, "-m", "echo", "--usage", "hi")
    assert "httpx" in names
    assert "rich" not in names
    names = _imported("stream", "--base-url", url, "-m", "think", "--reasoning", "hi")
    assert "rich" not in names


def test_help_does_not_wait_on_stdin() -> None:
    # stdin is a pipe nobody writes to or closes: reading it would hang until the timeout
    proc = _popen(
        "chat", "--help", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        proc.wait(timeout=10)
        out = proc.stdout.read()
    finally:
        proc.kill()
        assert proc.stdin is not None
        proc.stdin.close()
    assert proc.returncode == 0
    assert b"--base-url" in out
