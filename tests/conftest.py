"""Fixtures: the project's own offline gateway on 127.0.0.1, and the real llmcli process.

End-to-end tests run llmcli as a process of its own against a real HTTP server on
loopback (never a mocked transport) and assert stdout bytes, stderr and the exit code
separately. ``llmcli()`` forks it from a process that has already imported it
(``zygote.py``: ~0.25 s less a run, a quarter of the suite's time); a run whose extra
environment sets what the interpreter reads at start-up (``PYTHON*``, ``LANG``, ``LC_*``,
``TZ``), or any run with
``LLMCLI_TESTS_NO_ZYGOTE=1``, is a fresh ``python -m llmcli``.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import forked
import pytest

from llmcli import mock as offline

SECRET = "sk-secret123"

# Every test that runs the real process imports llmcli afresh, with PYTHONDONTWRITEBYTECODE
# set (clean_env): without bytecode on disk, each one would compile every module again
# (~0.3 s a process here). Compiled once, for the whole session.
compileall.compile_dir(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "llmcli"),
    quiet=1,
)
#: where the llmcli processes of this session keep batch manifests (never the user's)
STATE_HOME = tempfile.mkdtemp(prefix="llmcli-tests-state-")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the cores. Most tests wait on an llmcli process
    (or on a tool, a timeout, a retry's backoff) whose CPU is not the worker's: a third
    worker on two cores fills those waits (measured: 340 s -> 307 s for the suite)."""
    return (os.cpu_count() or 1) + 1


@dataclass(frozen=True)
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode("utf-8")


def host(url: str) -> str:
    """How messages name a --base-url server: its host:port, never its user or password."""
    return url.split("/")[2].rsplit("@", 1)[-1]


def alive(pid: int, within: float = 10.0) -> bool:
    """Whether a process still runs after ``within`` seconds (a zombie not yet reaped
    counts as ended): a kill is delivered, not waited for, so its end is polled."""
    import time

    for _ in range(int(within / 0.02) + 1):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return False
        if state == "Z":
            return False
        time.sleep(0.02)
    return True


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any llmcli/OpenAI/Anthropic settings."""
    prefixes = ("LLMCLI_", "OPENAI_", "ANTHROPIC_", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "NO_COLOR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["XDG_STATE_HOME"] = STATE_HOME
    env.update(extra or {})
    return env


def llmcli(
    *args: str,
    stdin: bytes | None = b"",
    env: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Result:
    """Run the real ``llmcli`` process; ``stdin=None`` gives it /dev/null. It runs in a
    session of its own, without a controlling terminal, as under CI (a tool call is then
    never asked about on the terminal of the person running the tests)."""
    environment = clean_env(env)
    # what the interpreter reads at start-up (PYTHONPATH, PYTHONHASHSEED, the locale, the
    # time zone): a real process
    starts = any(name.startswith(("PYTHON", "LANG", "LC_", "TZ")) for name in env or {})
    if not starts and "LLMCLI_TESTS_NO_ZYGOTE" not in {**os.environ, **(env or {})}:
        code, out, err = forked.run(list(args), stdin, environment, timeout)
        return Result(code, out, err.decode("utf-8", "replace"))
    done = subprocess.run(
        [sys.executable, "-m", "llmcli", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=environment,
        timeout=timeout,
        check=False,
        start_new_session=True,
    )
    return Result(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="session")
def shared_gateway() -> Iterator[offline.RunningGateway]:
    """One offline gateway for tests that inject no server-wide faults."""
    with offline.start() as running:
        yield running


@pytest.fixture
def gw() -> Iterator[offline.RunningGateway]:
    """A fresh offline gateway per test: its own request log and fault counters."""
    with offline.start() as running:
        yield running


@pytest.fixture
def url(shared_gateway: offline.RunningGateway) -> str:
    return shared_gateway.base_url
