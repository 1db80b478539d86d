"""Reading a child process's output in a test without ever hanging.

A bare ``os.read`` loop waits forever when the child hangs, and spins forever when it
dies first (a closed pipe reads ``b""`` again and again): the test then ends at the
pytest-timeout with nothing said. These wait with ``select`` against a deadline, check
that the child is still alive, and fail saying what it wrote and how it ended.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from typing import NoReturn

import pytest


def _fail(proc: subprocess.Popen[bytes], why: str, got: bytes) -> NoReturn:
    if proc.poll() is None:
        proc.kill()
    try:
        _, err = proc.communicate(timeout=2)
    except (ValueError, OSError, subprocess.TimeoutExpired):  # its pipes taken or closed
        err = b""
    code = proc.wait(timeout=5)
    pytest.fail(f"{why}; exit code {code}; it wrote {got[-300:]!r}; stderr {(err or b'')[-300:]!r}")


def _chunk(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # a pseudo-terminal whose other side is closed: its end of file
        return b""


def read_until(proc: subprocess.Popen[bytes], fd: int, wanted: bytes, seconds: float = 20) -> bytes:
    """What the child wrote on ``fd`` up to ``wanted`` (and maybe a little past it)."""
    got = b""
    deadline = time.monotonic() + seconds
    while wanted not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            _fail(proc, f"no {wanted!r} within {seconds:g}s", got)
        if select.select([fd], [], [], min(left, 0.5))[0]:
            chunk = _chunk(fd)
        elif proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
            chunk = b""  # it exited, and what it left open stays silent
        else:
            continue
        if not chunk:
            _fail(proc, f"the child ended its output before {wanted!r}", got)
        got += chunk
    return got


def read_to_end(proc: subprocess.Popen[bytes], fd: int, seconds: float = 20) -> bytes:
    """Everything the child wrote on ``fd``, once it closed it (it exited)."""
    got = b""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _fail(proc, f"output still open after {seconds:g}s", got)
        if select.select([fd], [], [], min(left, 0.5))[0]:
            chunk = _chunk(fd)
        elif proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
            return got  # it exited, and what it left open stays silent
        else:
            continue
        if not chunk:
            return got
        got += chunk
