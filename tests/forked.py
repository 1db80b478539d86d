"""The client of ``zygote.py``: run llmcli in a child forked from a process that has
already imported it, with the stdin, stdout, stderr, environment and timeout semantics of
``subprocess.run(..., capture_output=True, start_new_session=True)``."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

_HEADER = struct.Struct("!q")
_lock = threading.Lock()
_server: tuple[subprocess.Popen[bytes], str] | None = None


def _socket_path() -> str:
    """The zygote of this test process, started on first use."""
    global _server
    with _lock:
        if _server is None or _server[0].poll() is not None:
            from conftest import clean_env

            folder = tempfile.mkdtemp(prefix="llmcli-zygote-")
            path = os.path.join(folder, "socket")
            here = os.path.dirname(os.path.abspath(__file__))
            process = subprocess.Popen(
                [sys.executable, os.path.join(here, "zygote.py"), path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                env=clean_env(),
            )
            assert process.stdout is not None
            if process.stdout.readline() != b"ready\n":
                raise RuntimeError("the test suite's zygote did not start")
            atexit.register(process.kill)
            _server = (process, path)
        return _server[1]


def _read_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise RuntimeError("the test suite's zygote went away")
        data += chunk
    return data


def run(
    args: list[str], stdin: bytes | None, env: dict[str, str], timeout: float
) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of ``llmcli ARGS``; ``stdin=None`` gives it /dev/null.
    Raises ``subprocess.TimeoutExpired`` (the process killed) after ``timeout`` seconds."""
    request = json.dumps({"args": args, "env": env, "cwd": os.getcwd(), "session": True})
    body = request.encode("utf-8")
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    if stdin is None:
        in_r, in_w = os.open(os.devnull, os.O_RDONLY), None
    else:
        in_r, in_w = os.pipe()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)  # the zygote answers at once; never a hang
    try:
        conn.connect(_socket_path())
        socket.send_fds(conn, [_HEADER.pack(len(body))], [in_r, out_w, err_w])
        conn.sendall(body)
        (pid,) = _HEADER.unpack(_read_exact(conn, _HEADER.size))
    except BaseException:
        conn.close()
        for fd in (out_r, err_r, in_w):
            if fd is not None:
                os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    deadline = time.monotonic() + timeout
    try:
        out, err = _communicate(in_w, out_r, err_r, stdin or b"", deadline)
        conn.settimeout(max(deadline - time.monotonic(), 0.001))
        (code,) = _HEADER.unpack(_read_exact(conn, _HEADER.size))
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise subprocess.TimeoutExpired(["llmcli", *args], timeout) from None
    finally:
        conn.close()
    return code, out, err


def _communicate(
    in_w: int | None, out_r: int, err_r: int, data: bytes, deadline: float
) -> tuple[bytes, bytes]:
    """Write ``data`` to the child's stdin (then close it) while reading its stdout and
    stderr to their ends, as ``Popen.communicate`` does."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    with selectors.DefaultSelector() as selector:
        selector.register(out_r, selectors.EVENT_READ)
        selector.register(err_r, selectors.EVENT_READ)
        view = memoryview(data)
        if in_w is not None:
            if view:
                os.set_blocking(in_w, False)
                selector.register(in_w, selectors.EVENT_WRITE)
            else:
                os.close(in_w)
                in_w = None
        try:
            while selector.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                for key, _ in selector.select(left):
                    fd = int(key.fd)
                    if fd == in_w:
                        try:
                            view = view[os.write(fd, view[:65536]) :]
                        except BrokenPipeError:
                            view = view[:0]
                        if not view:
                            selector.unregister(fd)
                            os.close(fd)
                            in_w = None
                        continue
                    chunk = os.read(fd, 65536)
                    if chunk:
                        chunks[fd].append(chunk)
                    else:
                        selector.unregister(fd)
        finally:
            for fd in (in_w, out_r, err_r):
                if fd is not None:
                    os.close(fd)
    return b"".join(chunks[out_r]), b"".join(chunks[err_r])
