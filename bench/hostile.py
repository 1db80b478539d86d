"""Hostile replies: what each costs llmcli (exit code, wall time, peak RSS).

    .venv/bin/python bench/hostile.py [--quick] [--timeout S] [--max-memory GIB] [CASE...]

For each case the script starts the offline gateway as its own process, `python -m llmcli
serve --port 0 --fault SPEC` (faults: llmcli/mock/faults.py), reads the base URL it
prints, and runs one `python -m llmcli chat|stream --base-url URL -m echo hi` against it,
stdout counted through a pipe. `os.wait4` gives each child's peak RSS (`ru_maxrss`), the
client's and, once stopped, the gateway's, which must stay small whatever it sends.

A client without limits can hold a whole 1 GiB reply several times over, so each llmcli
child is killed after --timeout seconds (default 60) and gets --max-memory GiB of address
space (default 8; past it Python raises MemoryError: exit 1). --quick uses sizes about
ten times smaller. Prints a markdown table. Numbers, not pass/fail: the limits of
DESIGN.md ("Limits") say what they should be (one line or event over 16 MiB, or a body
over 256 MiB after decompression, ends the request with 76; memory stays flat).
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import select
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from run import ENV, HERE, PY

LLMCLI = [PY, "-m", "llmcli"]
LOREM_1MB = ["-m", "lorem", "--max-tokens", "170000", "-p", "mock_words_per_chunk=2000"]


@dataclass(frozen=True)
class Case:
    name: str
    command: str  # chat or stream
    fault: str  # full run
    quick: str  # --quick
    model: tuple[str, ...] = ("-m", "echo")


CASES = (
    Case("baseline: lorem ~1 MB", "stream", "", "", tuple(LOREM_1MB)),
    Case("baseline: 1 MiB line", "stream", "huge_line=1M", "huge_line=1M"),
    Case("baseline: 1 MiB body", "chat", "huge_body=1M", "huge_body=1M"),
    Case("endless line", "stream", "endless=300M", "endless=30M"),
    Case("huge line", "stream", "huge_line=500M", "huge_line=50M"),
    Case("huge event", "stream", "huge_event=500M", "huge_event=50M"),
    Case("huge body", "chat", "huge_body=1G", "huge_body=100M"),
    Case("gzip bomb", "chat", "gzip_bomb=1G", "gzip_bomb=100M"),
    Case("huge error body", "chat", "error_body=1G;status=400", "error_body=100M;status=400"),
)


@dataclass(frozen=True)
class Measure:
    exit: str  # the exit code, "killed (timeout)" or "signal N"
    seconds: float
    maxrss_kib: int
    out_bytes: int
    last_error: str  # the last line of stderr


def measure(cmd: Sequence[str], timeout: float, max_bytes: int) -> Measure:
    """Run cmd (stdout counted through a pipe): exit, wall time, peak RSS, stderr's end."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))

    killed = threading.Event()
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        p = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=ENV,
            preexec_fn=limit,
        )

        def kill() -> None:
            killed.set()
            p.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        total = 0
        assert p.stdout is not None
        while block := p.stdout.read(1 << 16):
            total += len(block)
        p.stdout.close()
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
        err.seek(max(0, os.fstat(err.fileno()).st_size - 4096))
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    shown = "killed (timeout)" if killed.is_set() else str(code) if code >= 0 else f"signal {-code}"
    return Measure(shown, seconds, usage.ru_maxrss, total, lines[-1] if lines else "")


@contextmanager
def gateway(fault: str) -> Iterator[tuple[str, list[int]]]:
    """The gateway with `--fault fault` in its own process: its base URL, and a list that
    gets its peak RSS (KiB) once it is stopped."""
    cmd = [*LLMCLI, "serve", "--port", "0", "--quiet", *(["--fault", fault] if fault else [])]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=ENV)
    peak: list[int] = []
    try:
        assert p.stdout is not None
        ready, _, _ = select.select([p.stdout], [], [], 15)
        line = p.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"gateway did not start (first line: {line!r})")
        yield line, peak
    finally:
        p.terminate()
        _, _, usage = os.wait4(p.pid, 0)
        peak.append(usage.ru_maxrss)


def warm(url: str, fault: str) -> None:
    """Have the gateway build its gzip bomb before the clock runs (about 0.3 s per GiB)."""
    if "gzip_bomb" in fault:
        ask = urllib.request.Request(url + "/chat/completions", b'{"model": "echo"}')
        with urllib.request.urlopen(ask) as r:  # the compressed bytes, not inflated
            while r.read(1 << 20):
                pass


def mb(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes about ten times smaller")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per llmcli run")
    parser.add_argument("--max-memory", type=float, default=8.0, help="GiB of address space")
    parser.add_argument("cases", nargs="*", help="run only the cases whose name has this")
    args = parser.parse_args()
    limit = int(args.max_memory * (1 << 30))
    git = ["git", "-C", str(HERE), "describe", "--always", "--dirty"]
    revision = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    floor = measure(["true"], args.timeout, limit).maxrss_kib
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    print(f"llmcli hostile replies {date}  {revision}  {'--quick' if args.quick else 'full'}")
    print(f"per run: killed after {args.timeout:g} s, {args.max_memory:g} GiB address space;")
    print(f"floor: ru_maxrss of `true` run by this harness {mb(floor)} MB\n")
    print(
        "| case | command | fault | exit | wall | llmcli peak RSS | gateway peak RSS"
        " | stdout | last stderr line |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for case in CASES:
        if args.cases and not any(c in case.name for c in args.cases):
            continue
        fault = case.quick if args.quick else case.fault
        with gateway(fault) as (url, server_peak):
            warm(url, fault)
            cmd = [*LLMCLI, case.command, "--base-url", url, *case.model, "hi"]
            m = measure(cmd, args.timeout, limit)
        error = m.last_error if len(m.last_error) <= 100 else m.last_error[:97] + "..."
        print(
            f"| {case.name} | {case.command} | `{fault or '-'}` | {m.exit} | {m.seconds:.2f} s"
            f" | {mb(m.maxrss_kib)} MB | {mb(server_peak[0])} MB | {m.out_bytes:,} B"
            f" | {error.replace('|', '/')} |",
            flush=True,
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
