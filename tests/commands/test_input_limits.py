"""Inputs are read with a bound (DESIGN.md, "Limits"): 64 MiB for -f, stdin, --messages and
--body, 32 MiB for an attachment. Past it: exit 65 naming the input, nothing sent, and
memory near the limit (a 2 GB sparse file or /dev/zero is refused, not read to its end).
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import clean_env, llmcli

from llmcli import mock as offline
from llmcli.errors import DataError
from llmcli.io import attachments
from llmcli.io.inputs import MAX_INPUT, Stdin, iter_lines, load_json, read_bytes, read_text

MIB = 1024 * 1024
TWO_GB = 2 * 1024 * MIB
INPUT_TOO_LARGE = "more than the 64 MiB an input may be"


def sparse(tmp_path: Path, name: str, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that takes no disk (and no time) to make."""
    path = tmp_path / name
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def run(gw: offline.RunningGateway, *args: str, stdin: bytes | None = b"") -> tuple[int, str]:
    r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", *args, stdin=stdin)
    assert r.out == b""
    return r.code, r.err


# end to end -------------------------------------------------------------------------------


def test_a_2_gb_sparse_file_is_refused_by_its_size(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    big = sparse(tmp_path, "big.txt", TWO_GB)
    assert run(gw, "-f", str(big), "x") == (
        65,
        f"llmcli: {big}: 2,147,483,648 bytes is more than the 64 MiB an input may be\n",
    )
    assert gw.requests == []


@pytest.mark.parametrize(
    "flags",
    [("-f", "/dev/zero", "x"), ("--messages", "/dev/zero"), ("--body", "/dev/zero", "x")],
)
def test_endless_files_are_refused_at_the_limit(
    gw: offline.RunningGateway, flags: tuple[str, ...]
) -> None:
    assert run(gw, *flags) == (65, f"llmcli: /dev/zero: {INPUT_TOO_LARGE}\n")
    assert gw.requests == []


def test_messages_command_too(gw: offline.RunningGateway, tmp_path: Path) -> None:
    big = sparse(tmp_path, "conv.jsonl", TWO_GB)
    r = llmcli("messages", "--base-url", gw.base_url, "-m", "echo", "--messages", str(big), "x")
    assert (r.code, r.out) == (65, b"")
    assert r.err == f"llmcli: {big}: 2,147,483,648 bytes is more than the 64 MiB an input may be\n"
    assert gw.requests == []


def test_endless_piped_stdin_is_refused_at_the_limit(gw: offline.RunningGateway) -> None:
    writer = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "llmcli", "chat", "--base-url", gw.base_url, "-m", "echo"],
            stdin=writer.stdout,
            capture_output=True,
            env=clean_env(),
            timeout=30,
            check=False,
        )
    finally:
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()
    assert (done.returncode, done.stdout) == (65, b"")
    assert done.stderr.decode() == f"llmcli: <stdin>: {INPUT_TOO_LARGE}\n"
    assert gw.requests == []


def test_stdin_named_by_dash_over_the_limit(gw: offline.RunningGateway) -> None:
    assert run(gw, "-f", "-", "x", stdin=bytes(MAX_INPUT + MIB)) == (
        65,
        f"llmcli: <stdin>: {INPUT_TOO_LARGE}\n",
    )
    assert gw.requests == []


def test_attachments_over_32_mib_are_refused(gw: offline.RunningGateway, tmp_path: Path) -> None:
    png = (Path(__file__).parent.parent / "data" / "pixel.png").read_bytes()
    big = sparse(tmp_path, "big.png", TWO_GB, head=png)
    assert run(gw, "-a", str(big), "x") == (
        65,
        f"llmcli: {big}: 2,147,483,648 bytes is more than the 32 MiB an attachment may be\n",
    )
    assert run(gw, "-a", "/dev/zero", "x") == (
        65,
        "llmcli: /dev/zero: more than the 32 MiB an attachment may be\n",
    )
    assert run(gw, "-a", "-", "x", stdin=png + bytes(33 * MIB)) == (
        65,
        f"llmcli: <stdin>: {len(png) + 33 * MIB:,} bytes is more than the 32 MiB an "
        "attachment may be\n",
    )
    assert gw.requests == []


# the boundary, directly -------------------------------------------------------------------


def test_exactly_64_mib_is_read_and_one_byte_more_is_not(tmp_path: Path) -> None:
    terminal = Stdin(None, True)
    exact = sparse(tmp_path, "exact.txt", MAX_INPUT)
    assert len(read_bytes(str(exact), terminal)) == MAX_INPUT
    over = sparse(tmp_path, "over.txt", MAX_INPUT + 1)
    with pytest.raises(DataError) as info:
        read_text(str(over), terminal)
    assert info.value.exit_code == 65
    assert info.value.message == (
        f"{over}: 67,108,865 bytes is more than the 64 MiB an input may be"
    )


def test_stdin_boundary_and_it_is_read_no_further() -> None:
    assert len(Stdin(io.BytesIO(bytes(MAX_INPUT)), False).read()) == MAX_INPUT
    stream = io.BytesIO(bytes(MAX_INPUT + 10))
    stdin = Stdin(stream, False)
    for _ in range(2):  # the error is the same each time stdin is asked for
        with pytest.raises(DataError) as info:
            stdin.read()
        assert info.value.message == f"<stdin>: {INPUT_TOO_LARGE}"
    assert stream.tell() == MAX_INPUT + 1


def test_a_file_that_is_not_regular_is_read_only_to_the_limit() -> None:
    with pytest.raises(DataError) as info:
        load_json("/dev/zero", Stdin(None, True))
    assert info.value.message == f"/dev/zero: {INPUT_TOO_LARGE}"


def test_a_line_may_be_as_long_as_an_input(tmp_path: Path) -> None:
    exact = tmp_path / "exact.txt"
    exact.write_bytes(b"a\n" + bytes(MAX_INPUT) + b"\r\nb")
    assert [(n, len(t)) for _, n, t in iter_lines([str(exact)], Stdin(None, True))] == [
        (1, 1),
        (2, MAX_INPUT),
        (3, 1),
    ]
    over = tmp_path / "over.txt"
    over.write_bytes(b"a\n" + bytes(MAX_INPUT + 1) + b"\n")
    with pytest.raises(DataError) as info:
        list(iter_lines([str(over)], Stdin(None, True)))
    assert info.value.message == f"{over}:2: more than the 64 MiB a line may be"


def test_an_endless_line_on_stdin_is_refused() -> None:
    with pytest.raises(DataError) as info:
        list(iter_lines(["-"], Stdin(io.BytesIO(bytes(MAX_INPUT + 2)), False)))
    assert info.value.message == "<stdin>:1: more than the 64 MiB a line may be"


def test_an_attachment_from_a_pipe_is_read_once_within_the_limit(tmp_path: Path) -> None:
    png = (Path(__file__).parent.parent / "data" / "pixel.png").read_bytes()
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(png)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    loaded = attachments.load(str(fifo), Stdin(None, True))
    writer.join(timeout=5)
    assert (loaded.mime, loaded.size, loaded.data) == ("image/png", len(png), png)
    assert b"".join(loaded.base64_chunks()) == base64.b64encode(png)


def test_an_attachment_is_sent_at_the_size_it_was_checked(tmp_path: Path) -> None:
    png = (Path(__file__).parent.parent / "data" / "pixel.png").read_bytes()
    path = tmp_path / "grows.png"
    path.write_bytes(png)
    loaded = attachments.load(str(path), Stdin(None, True))
    with open(path, "ab") as f:
        f.write(b"appended after the check")
    assert b"".join(loaded.base64_chunks()) == base64.b64encode(png)
