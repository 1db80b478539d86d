"""`llmcli batch run` against its peers, in one run; see bench/README.md ("Batch runs").

    .venv/bin/python bench/batch.py [--quick] [--llmcli PATH]

Peers live in their own venv, bench/results/venv-batch, made with `python -m venv` and
`pip install -r bench/requirements-batch.txt` (openai's AsyncOpenAI; uvloop for the
gateway), never in llmcli's dependencies. llmcli itself is the repo's (.venv/bin/llmcli,
beside the interpreter running this script): the tree the tests exercise.

Starts bench/fastgw.py (precomputed replies, its own process) and checks that
`xargs -P16 curl` does 200 requests in under a second. Times `llmcli batch run FILE -P 32`
(to stdout and with -o FILE) against bench/peer_async_openai.py at 2,000 and 10,000 chat
rows, and `llmcli batch run` against `xargs -P16 llmcli chat` over 200 prompt lines;
reads llmcli's peak RSS (os.wait4 -> ru_maxrss) at 100,000 and 1,000,000 rows. Prints
markdown tables and writes bench/results/batch-latest.json. Ratios, not pass/fail.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from run import ENV, HERE, LLMCLI, RESULTS

VENV = RESULTS / "venv-batch"
REQUIREMENTS = HERE / "requirements-batch.txt"
INPUTS = RESULTS / "batch-inputs"
OUT_FILE = RESULTS / "batch-out.jsonl"  # the -o FILE of the timed runs, removed before each
MODEL, MAX_TOKENS, PARALLEL, XARGS_P, PROMPTS = "bench-model", 32, 32, 16, 200
ROW = (  # one OpenAI batch line; the same body the SDK peer sends with create(**body)
    '{"custom_id":"row-%d","method":"POST","url":"/v1/chat/completions","body":'
    '{"model":"' + MODEL + '","messages":[{"role":"user","content":"Say something about'
    ' number %d."}],"max_tokens":' + str(MAX_TOKENS) + "}}\n"
)
TIMING_TIMEOUT, MEMORY_TIMEOUT = 300.0, 1800.0  # seconds; a child still running is killed


@dataclass(frozen=True)
class Run:
    seconds: float
    maxrss_kib: int
    cpu_s: float  # the child's user + system time (its waited-for children included)
    gateway_cpu_s: float  # fastgw's user + system time while the child ran
    other_cpu_s: float  # every other process's CPU time meanwhile (other sessions, tests)


@dataclass(frozen=True)
class Case:
    cmd: list[str]
    stdin: Path | None = None
    out: Path | None = None  # a file the command appends to: removed before each run


def bench_venv() -> str:
    """The peers' venv, (re)made when bench/requirements-batch.txt changed; its python."""
    py = VENV / "bin" / "python"
    stamp = VENV / "requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return str(py)
    print(f"making {VENV.relative_to(HERE.parent)} from {REQUIREMENTS.name}", file=sys.stderr)
    for cmd in (
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(py), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd} exited {done.returncode}: {done.stderr[-2000:]}")
    stamp.write_text(want)
    return str(py)


def machine_cpu() -> float:
    """Busy seconds of all CPUs so far (/proc/stat: everything but idle and iowait)."""
    with open("/proc/stat", "rb") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system seconds of a running process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Gateway:
    url: str
    pid: int


@contextmanager
def fastgw(py: str) -> Iterator[Gateway]:
    """bench/fastgw.py in its own process (its own core); yields its base URL and pid."""
    p = subprocess.Popen([py, str(HERE / "fastgw.py")], stdout=subprocess.PIPE, env=ENV)
    try:
        assert p.stdout is not None
        ready, _, _ = select.select([p.stdout], [], [], 15)
        line = p.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"fastgw did not start (first line: {line!r})")
        yield Gateway(line, p.pid)
    finally:
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def child(gw: Gateway, case: Case, timeout: float, stdout: Path | None = None) -> Run:
    """Run case.cmd (stdout to /dev/null or to stdout): wall, peak RSS, CPU, gateway CPU."""
    if case.out is not None:
        case.out.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as err, open(case.stdin or os.devnull, "rb") as inp:
        with open(stdout or os.devnull, "wb") as out:
            gw_before, all_before = cpu_of(gw.pid), machine_cpu()
            start = time.perf_counter()
            p = subprocess.Popen(case.cmd, stdin=inp, stdout=out, stderr=err, env=ENV)
            timer = threading.Timer(timeout, p.kill)
            timer.start()
            _, status, usage = os.wait4(p.pid, 0)
            seconds = time.perf_counter() - start
            gw_cpu, all_cpu = cpu_of(gw.pid) - gw_before, machine_cpu() - all_before
            timer.cancel()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"{case.cmd} exited {code}: {err.read()[-800:].decode()}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss, cpu, gw_cpu, max(all_cpu - cpu - gw_cpu, 0.0))


def rounds(gw: Gateway, cases: dict[str, Case], n: int) -> dict[str, list[Run]]:
    """n runs of each case, round-robin (A, B, C, A, B, C …): background load hits all alike."""
    runs: dict[str, list[Run]] = {name: [] for name in cases}
    for _ in range(n):
        for name, case in cases.items():
            runs[name].append(child(gw, case, TIMING_TIMEOUT))
    return runs


def summary(runs: list[Run], rows: int) -> dict[str, Any]:
    wall = statistics.median(r.seconds for r in runs)
    return {
        "median_s": wall,
        "rows_per_s": rows / wall,
        "runs_s": [r.seconds for r in runs],
        "cpu_s": statistics.median(r.cpu_s for r in runs),
        "peak_kib": max(r.maxrss_kib for r in runs),
        "gateway_busy": max(r.gateway_cpu_s / r.seconds for r in runs),
        "others_busy": max(r.other_cpu_s / r.seconds for r in runs),  # in cores
    }


def chat_rows(n: int) -> Path:
    """bench/results/batch-inputs/chat-N.jsonl, written once (via a temporary name)."""
    path = INPUTS / f"chat-{n}.jsonl"
    if not path.exists():
        INPUTS.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for start in range(1, n + 1, 10_000):
                f.write("".join(ROW % (i, i) for i in range(start, min(start + 10_000, n + 1))))
        tmp.rename(path)
    return path


def prompt_lines() -> Path:
    path = INPUTS / f"prompts-{PROMPTS}.txt"
    INPUTS.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"Say something about number {i}.\n" for i in range(1, PROMPTS + 1)))
    return path


def check_rows(path: Path, n: int, ordered: bool) -> dict[str, Any]:
    """Read one output back line by line: count, ids once each, statuses, input order."""
    seen: set[str] = set()
    lines = ok = in_order = 0
    request_ids = True
    with open(path, "rb") as f:
        for i, line in enumerate(f, 1):
            row = json.loads(line)
            lines += 1
            seen.add(row["custom_id"])
            in_order += row["custom_id"] == f"row-{i}"
            response = row.get("response") or {}
            ok += response.get("status_code") == 200 and row.get("error") is None
            request_ids &= bool(response.get("request_id"))
    good = lines == n and len(seen) == n and ok == n and request_ids
    return {
        "lines": lines,
        "distinct_ids": len(seen),
        "status_200": ok,
        "request_ids": request_ids,
        "in_input_order": in_order == n,
        "ok": good and (in_order == n or not ordered),
    }


def batch_available(llmcli: str) -> bool:
    done = subprocess.run([llmcli, "batch", "run", "--help"], capture_output=True, env=ENV)
    return done.returncode == 0


def versions(py: str, llmcli: str) -> dict[str, str]:
    code = "import openai, uvloop; print(openai.__version__, uvloop.__version__)"
    sdk, loop = subprocess.run([py, "-c", code], capture_output=True, text=True).stdout.split()
    own = subprocess.run([llmcli, "--version"], capture_output=True, text=True).stdout.strip()
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    return {"llmcli": own.split()[-1], "openai": sdk, "uvloop": loop, "curl": curl.split()[1]}


def bench(gw: Gateway, py: str, llmcli: str, quick: bool) -> dict[str, Any]:
    url, n = gw.url, 1 if quick else 3
    have_batch = batch_available(llmcli)
    notes: list[str] = []
    if not have_batch:
        notes.append(f"llmcli batch: skipped: `{llmcli} batch run --help` fails (not built yet)")

    def batch(path: Path, parallel: int, *extra: str) -> list[str]:
        return [llmcli, "batch", "run", str(path), "--base-url", url, "-P", str(parallel), *extra]

    def peers(path: Path) -> dict[str, Case]:
        cases = {
            "llmcli": Case(batch(path, PARALLEL)),
            "llmcli -o FILE": Case(batch(path, PARALLEL, "-o", str(OUT_FILE)), out=OUT_FILE),
            "openai_sdk": Case(
                [py, str(HERE / "peer_async_openai.py"), url, str(PARALLEL), str(path)]
            ),
        }
        return cases if have_batch else {"openai_sdk": cases["openai_sdk"]}

    prompts = prompt_lines()
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    curl = ["curl", "-s", "-o", "/dev/null", "--fail", "-H", "Content-Type: application/json"]
    curl += ["--data-binary", body, url + "/chat/completions"]
    xargs = ["xargs", f"-P{XARGS_P}", "-d", "\\n", "-I{}"]
    chat = [llmcli, "chat", "--no-stdin", "--base-url", url, "-m", MODEL]
    small = {
        "curl": Case([*xargs, *curl], stdin=prompts),
        "xargs llmcli chat": Case(
            [*xargs, *chat, "--max-tokens", str(MAX_TOKENS), "{}"], stdin=prompts
        ),
        "llmcli": Case(batch(prompts, XARGS_P, "-m", MODEL, "--max-tokens", str(MAX_TOKENS))),
    }
    if not have_batch:
        del small["llmcli"]

    # Checks, once: every output read back (and the warm-up of every command).
    sizes = [2_000] if quick else [2_000, 10_000]
    checks: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in peers(chat_rows(sizes[0])).items():
            out = case.out or Path(tmp, "out.jsonl")
            child(gw, case, TIMING_TIMEOUT, None if case.out else out)
            checks[f"{name}, {sizes[0]:,} rows"] = check_rows(out, sizes[0], name != "openai_sdk")
        for name, case in small.items():  # curl writes to /dev/null: its check is exit 0
            out = Path(tmp, "out.txt")
            child(gw, case, TIMING_TIMEOUT, out)
            with open(out, "rb") as f:
                lines = sum(1 for _ in f)
            if name != "curl":
                checks[f"{name}, {PROMPTS} prompts"] = {"lines": lines, "ok": lines == PROMPTS}
    OUT_FILE.unlink(missing_ok=True)

    throughput = {}
    for size in sizes:
        runs = rounds(gw, peers(chat_rows(size)), n)
        throughput[size] = {name: summary(r, size) for name, r in runs.items()}
    xargs_runs = rounds(gw, small, n)
    few = {name: summary(r, PROMPTS) for name, r in xargs_runs.items()}
    OUT_FILE.unlink(missing_ok=True)

    memory: dict[int, Any] = {}
    for size in [10_000, 100_000] if quick else [100_000, 1_000_000]:
        if have_batch:
            memory[size] = summary(
                [child(gw, Case(batch(chat_rows(size), PARALLEL)), MEMORY_TIMEOUT)], size
            )
    return {
        "runs": n,
        "checks": checks,
        "throughput": throughput,
        "xargs": few,
        "memory": memory,
        "notes": notes,
    }


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def cell(row: dict[str, Any]) -> str:
    return f"{row['median_s']:.2f} s, {row['rows_per_s']:,.0f} rows/s"


def others_of(rows: Any) -> str:
    return f"{max(row.get('others_busy', 0.0) for row in rows):.2f}"


def report(r: dict[str, Any]) -> list[str]:
    b, versions = r["bench"], r["versions"]
    gw_busy = max(
        row["gateway_busy"]
        for table in [*b["throughput"].values(), b["xargs"], b["memory"]]
        for row in table.values()
    )
    curl = b["xargs"]["curl"]["median_s"]
    lines = [
        f"## llmcli batch run against peers: {r['date']}, {r['revision']}, nproc={r['nproc']},"
        f" Python {r['python']}",
        "",
        f"{', '.join(f'{k} {v}' for k, v in versions.items())}. Gateway: bench/fastgw.py"
        f" (uvloop, own process): `xargs -P{XARGS_P} curl`, {PROMPTS} requests: {curl:.2f} s"
        f" ({'under' if curl < 1 else 'NOT under'} 1 s); fastgw used at most"
        f" {gw_busy:.0%} of one core during any run below. **others**: the most CPU that"
        f" other processes (other sessions, test suites) used during one of a row's runs, in"
        f" cores of {r['nproc']} (/proc/stat less the child and the gateway).",
        "",
        f"### Chat rows at -P {PARALLEL}, median of {b['runs']}",
        "",
        "| rows | llmcli batch run | llmcli batch run -o FILE | AsyncOpenAI | llmcli/SDK"
        " | llmcli/SDK, CPU s | goal | others |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for size, row in b["throughput"].items():
        sdk = row["openai_sdk"]
        mine, to_file = row.get("llmcli"), row.get("llmcli -o FILE")
        ratio = cpu = "-"
        if mine and to_file:
            ratio = f"{mine['median_s'] / sdk['median_s']:.2f}x (-o: "
            ratio += f"{to_file['median_s'] / sdk['median_s']:.2f}x)"
            cpu = (
                f"{mine['cpu_s'] / sdk['cpu_s']:.2f}x (-o: {to_file['cpu_s'] / sdk['cpu_s']:.2f}x)"
            )
        lines.append(
            f"| {int(size):,} | {cell(mine) if mine else '-'} | {cell(to_file) if to_file else '-'}"
            f" | {cell(sdk)} | {ratio} | {cpu} | <= 0.50x | {others_of(row.values())} |"
        )
    largest = list(b["throughput"].values())[-1]
    lines += [
        "",
        "At the largest size, peak RSS: "
        + ", ".join(f"{k} {mib(v['peak_kib'])}" for k, v in largest.items())
        + "; CPU seconds: "
        + ", ".join(f"{k} {v['cpu_s']:.2f}" for k, v in largest.items())
        + ".",
        "",
        f"### {PROMPTS} prompt lines, {XARGS_P} at a time, median of {b['runs']}",
        "",
        "| command | wall | rows/s | CPU s | others |",
        "|---|---:|---:|---:|---:|",
    ]
    names = {
        "curl": f"`xargs -P{XARGS_P} curl` (the gateway check)",
        "xargs llmcli chat": f"`xargs -P{XARGS_P} llmcli chat`",
        "llmcli": f"`llmcli batch run -P {XARGS_P}`",
    }
    for name, row in b["xargs"].items():
        lines.append(
            f"| {names[name]} | {row['median_s']:.2f} s | {row['rows_per_s']:,.0f}"
            f" | {row['cpu_s']:.2f} | {others_of([row])} |"
        )
    if "llmcli" in b["xargs"]:
        speed = b["xargs"]["xargs llmcli chat"]["median_s"] / b["xargs"]["llmcli"]["median_s"]
        lines += ["", f"llmcli batch run is {speed:.1f}x faster than xargs (goal: >= 20x)."]
    if b["memory"]:
        lines += [
            "",
            f"### Peak RSS of `llmcli batch run FILE -P {PARALLEL} > /dev/null`, one run each",
            "",
            "| rows | peak RSS | wall | rows/s | others |",
            "|---:|---:|---:|---:|---:|",
        ]
        for size, row in b["memory"].items():
            lines.append(
                f"| {int(size):,} | {mib(row['peak_kib'])} | {row['median_s']:.1f} s"
                f" | {row['rows_per_s']:,.0f} | {others_of([row])} |"
            )
        peaks = [row["peak_kib"] for row in b["memory"].values()]
        growth, top = (peaks[-1] - peaks[0]) / 1024, max(peaks) / 1024
        lines += [
            "",
            f"Growth: {growth:+.1f} MiB ({'flat' if growth < 10 else 'GROWS'}: flat is < 10 MiB);"
            f" highest {top:.1f} MiB ({'within' if top <= 120 else 'OVER'} the goal of 120 MiB)."
            f" Floor (ru_maxrss of `true` run by this harness): {mib(r['floor_kib'])}.",
        ]
    lines += ["", "### Checks (each output read back once, before the timings)", ""]
    lines += [f"- {k}: {json.dumps(v)}" for k, v in b["checks"].items()]
    lines += [f"- {note}" for note in b["notes"]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 run per timing, 2,000 rows only, memory at 10,000 and 100,000 rows",
    )
    parser.add_argument("--llmcli", default=LLMCLI, help=f"the llmcli to measure ({LLMCLI})")
    args = parser.parse_args()
    py = bench_venv()
    git = ["git", "-C", str(HERE), "describe", "--always", "--dirty"]
    floor = child_floor()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "revision": subprocess.run(git, capture_output=True, text=True).stdout.strip(),
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions(py, args.llmcli),
        "floor_kib": floor,
    }
    with fastgw(py) as gw:
        results["bench"] = bench(gw, py, args.llmcli, args.quick)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "batch-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(report(results)))
    print(f"\nwrote {RESULTS.relative_to(HERE.parent)}/batch-latest.json")


def child_floor() -> int:
    """ru_maxrss of `true` spawned by this process: the lowest peak a child can show."""
    p = subprocess.Popen(["true"])
    return os.wait4(p.pid, 0)[2].ru_maxrss


if __name__ == "__main__":
    main()
