"""A fork server for the test suite: ``python -m llmcli`` without paying for its imports.

The suite runs about 1,500 llmcli processes; each spent ~0.25 s importing Python, Typer,
click, httpx and llmcli's own modules before doing anything. This process imports them
once, then forks a child per run: the child takes the run's stdin, stdout and stderr (sent
over a Unix socket), its arguments, environment and working directory, starts a session of
its own, and runs ``llmcli.__main__.main()`` exactly as ``python -m llmcli`` would — the
interpreter's own exit (threads joined, streams flushed, 120 when a flush fails) included.
The parent reports the child's pid, then its exit status as ``subprocess`` gives it
(negative: killed by that signal).

Tests of start-up itself (what a run imports, ``--version`` without Typer) run the real
``python -m llmcli``; so does every test that sets ``LLMCLI_TESTS_NO_ZYGOTE=1``.

Run as ``python tests/zygote.py SOCKET``; it prints ``ready`` once it listens.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import selectors
import socket
import struct
import sys
from typing import Any

_HEADER = struct.Struct("!q")


def _preload() -> None:
    """What every llmcli run imports, and each command's own modules."""
    import llmcli.__main__
    import llmcli.mock  # noqa: F401  (-g mock starts it in the process)
    from llmcli.cli import app

    for _name, modules, _function, _line in app.COMMANDS:
        for module in modules:
            importlib.import_module(f"llmcli.cli.{module}")


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    import json

    head, received, _flags, _addr = socket.recv_fds(conn, _HEADER.size, 3)
    fds = list(received)
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise EOFError
    try:
        (size,) = _HEADER.unpack(head)
    except struct.error:
        for fd in fds:
            os.close(fd)
        raise
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            for fd in fds:
                os.close(fd)
            raise EOFError
        body += chunk
    return json.loads(body), fds


def _serve(path: str) -> tuple[dict[str, Any], list[int]]:
    """Fork a child per request; return (in the child only) what it is to run."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    waiting: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _events in selector.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                conn.settimeout(30)  # a client that connects and says nothing: dropped
                fds: list[int] = []
                try:
                    request, fds = _receive(conn)
                except (OSError, EOFError, ValueError, struct.error):
                    for fd in fds:
                        os.close(fd)
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    for pidfd, (_pid, other) in waiting.items():
                        os.close(pidfd)
                        other.close()
                    conn.close()
                    return request, fds
                for fd in fds:
                    os.close(fd)
                with contextlib.suppress(OSError):
                    conn.sendall(_HEADER.pack(pid))
                pidfd = os.pidfd_open(pid)
                waiting[pidfd] = (pid, conn)
                selector.register(pidfd, selectors.EVENT_READ)
            else:
                pidfd = int(key.fd)
                pid, conn = waiting.pop(pidfd)
                selector.unregister(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):
                    conn.sendall(_HEADER.pack(code))
                conn.close()


def _stream(fd: int, mode: str, name: str, like: io.TextIOWrapper) -> io.TextIOWrapper:
    """A standard stream as the interpreter makes it at start-up (pylifecycle's
    create_stdio): buffered, no newline translation, line-buffered on a terminal and
    always for stderr."""
    binary = open(fd, mode + "b", buffering=-1, closefd=False)  # noqa: SIM115 (the stream outlives this)
    raw = binary.raw if hasattr(binary, "raw") else binary
    raw.name = name
    stream = io.TextIOWrapper(
        binary,  # type: ignore[arg-type]
        encoding=like.encoding,
        errors=like.errors,
        newline="\n",
        line_buffering=mode == "w" and (fd == 2 or os.isatty(fd)),
    )
    return stream


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: take the run's streams, environment, directory and arguments."""
    if request["session"]:
        os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    like = (sys.stdin, sys.stdout, sys.stderr)
    sys.stdin = sys.__stdin__ = _stream(0, "r", "<stdin>", like[0])  # type: ignore[arg-type]
    sys.stdout = sys.__stdout__ = _stream(1, "w", "<stdout>", like[1])  # type: ignore[arg-type]
    sys.stderr = sys.__stderr__ = _stream(2, "w", "<stderr>", like[2])  # type: ignore[arg-type]
    sys.argv = [os.path.join(os.path.dirname(_main_file()), "__main__.py"), *request["args"]]
    sys.path[0] = os.getcwd()


def _main_file() -> str:
    import llmcli

    return str(llmcli.__file__)


if __name__ == "__main__":
    _preload()
    _run, _fds = _serve(sys.argv[1])
    _become(_run, _fds)
    del _run, _fds
    from llmcli.__main__ import main

    main()
