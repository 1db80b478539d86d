"""A command as a tool (``--tool-cmd NAME=COMMAND``): run without a shell, the call's
arguments as JSON on its stdin, its stdout the result.

The command line is split as a shell would (``shlex``) but nothing is expanded. The tool
runs in the user's working directory with the user's environment, less every variable
holding one of llmcli's secrets (the key never reaches a tool). Its stdout is read up to
``output_max`` bytes and the rest cut with a note (the pipe is then closed: a tool that
writes forever gets SIGPIPE rather than the timeout); its stderr keeps only its last
4 KiB. The timeout ends the tool and every process it started (it runs in a session and
process group of its own, killed whole). A non-zero exit or a timeout is an error result:
the status and the tail of stderr, redacted.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmcli.errors import UsageError
from llmcli.redaction import redact

STDERR_TAIL = 4096
READ = 65536
DRAIN = 0.5  # seconds a tool that exited may keep its pipes open (a daemon it left)
#: every tool running now, so an interrupted run ends them (they are in sessions of their
#: own: a ^C at the terminal does not reach them)
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


def end_all() -> None:
    """End every tool still running, and what each started."""
    with _LIVE_LOCK:
        running = list(_LIVE)
    for process in running:
        _end(process)


@dataclass(frozen=True, slots=True)
class Outcome:
    text: str
    error: bool = False


def split(name: str, command: str) -> list[str]:
    """``COMMAND`` as argv, split as a shell would; a usage error names the flag."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise UsageError(f"--tool-cmd {name}: {e}: {command!r}") from None
    if not argv:
        raise UsageError(f"--tool-cmd {name}: no command given")
    return argv


def environment(secrets: Sequence[str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's environment without a variable that holds any of ``secrets`` (a short
    one, such as a local server's dummy key ``x``: only a variable that is just it)."""
    env = os.environ if base is None else base

    def holds(value: str) -> bool:
        return any(s and (s in value if len(s) >= 8 else s == value) for s in secrets)

    return {k: v for k, v in env.items() if not holds(v)}


def _end(process: subprocess.Popen[bytes]) -> None:
    """The tool and everything it started, ended (its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class CommandTool:
    name: str
    argv: tuple[str, ...]
    timeout: float = 60.0
    output_max: int = 1 << 20
    secrets: tuple[str, ...] = ()

    def __call__(self, arguments: str) -> Outcome:
        try:
            process = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment(self.secrets),
                start_new_session=True,
            )
        except OSError as e:
            return Outcome(f"tool {self.name}: cannot run {self.argv[0]}: {e.strerror}", True)
        with _LIVE_LOCK:
            _LIVE.add(process)
        try:
            out, err, cut, timed_out = self._talk(process, arguments.encode("utf-8"))
        finally:
            _end(process)
            process.wait()
            with _LIVE_LOCK:
                _LIVE.discard(process)
            for pipe in (process.stdin, process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
        tail = redact(err[-STDERR_TAIL:].decode("utf-8", "replace"), self.secrets)
        if timed_out:
            return Outcome(self._failure(f"timed out after {self.timeout:g} s", tail), True)
        status = process.returncode
        if status != 0 and not cut:
            how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
            return Outcome(self._failure(how, tail), True)
        text = out.decode("utf-8", "replace")
        if cut:
            text += f"\n[llmcli: output cut at {self.output_max} bytes]"
        return Outcome(text)

    def _failure(self, how: str, tail: str) -> str:
        said = f"; its stderr ends:\n{tail}" if tail.strip() else ""
        return f"tool {self.name} failed: {how}{said}"

    def _talk(
        self, process: subprocess.Popen[bytes], data: bytes
    ) -> tuple[bytes, bytes, bool, bool]:
        """Feed stdin, read stdout (bounded) and stderr (its tail) until both end, the
        output is cut, or the time is up: (stdout, stderr tail, cut, timed out). Once
        the tool itself exits, what it left running is ended, so a background child
        holding the pipes cannot keep the call waiting."""
        assert process.stdin and process.stdout and process.stderr
        deadline = time.monotonic() + self.timeout
        out, err = bytearray(), bytearray()
        pending = memoryview(data)
        with selectors.DefaultSelector() as selector, _ExitWatch(process) as exited:
            for stream in (process.stdin, process.stdout, process.stderr):
                os.set_blocking(stream.fileno(), False)
            if pending:
                selector.register(process.stdin, selectors.EVENT_WRITE)
            else:
                process.stdin.close()
            selector.register(process.stdout, selectors.EVENT_READ)
            selector.register(process.stderr, selectors.EVENT_READ)
            if exited.fd is not None:
                selector.register(exited.fd, selectors.EVENT_READ)
            open_pipes = 2
            drained: float | None = None  # once the tool exited: when to stop reading
            while open_pipes:
                now = time.monotonic()
                if drained is not None and now >= drained:  # a daemon holds the pipes
                    break
                left = deadline - now
                if left <= 0:
                    return bytes(out), bytes(err), False, True
                if drained is not None:
                    left = min(left, drained - now)
                ready = selector.select(left if exited.fd is not None else min(left, 0.05))
                if exited.fd is None and process.poll() is not None and drained is None:
                    _end(process)
                    drained = time.monotonic() + DRAIN
                for key, _ in ready:
                    if key.fileobj == exited.fd:
                        selector.unregister(key.fileobj)
                        _end(process)
                        drained = time.monotonic() + DRAIN
                    elif key.fileobj is process.stdin:
                        pending = self._feed(process, pending)
                        if not pending:
                            selector.unregister(process.stdin)
                            process.stdin.close()
                    else:
                        try:
                            chunk = os.read(key.fd, READ)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            selector.unregister(key.fileobj)
                            open_pipes -= 1
                        elif key.fileobj is process.stderr:
                            err += chunk
                            del err[:-STDERR_TAIL]
                        else:
                            out += chunk
                            if len(out) > self.output_max:
                                return bytes(out[: self.output_max]), bytes(err), True, False
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return bytes(out), bytes(err), False, True
        return bytes(out), bytes(err), False, False

    @staticmethod
    def _feed(process: subprocess.Popen[bytes], pending: memoryview) -> memoryview:
        assert process.stdin
        try:
            return pending[os.write(process.stdin.fileno(), pending[:READ]) :]
        except BlockingIOError:
            return pending
        except BrokenPipeError:  # the tool did not read it all: its choice
            return pending[len(pending) :]


class _ExitWatch:
    """A descriptor that becomes readable when the process exits (Linux pidfd), or
    None where there is none (then the loop polls)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.fd: int | None = None
        opener = getattr(os, "pidfd_open", None)
        if opener is not None:
            try:
                self.fd = opener(process.pid)
            except OSError:
                self.fd = None

    def __enter__(self) -> _ExitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
