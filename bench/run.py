"""Benchmarks of llmcli against peers in the same run; see bench/README.md.

    .venv/bin/python bench/run.py [--quick]

Starts the offline gateway (`llmcli serve --port 0`) in its own process on 127.0.0.1,
times llmcli against a minimal httpx script and curl, measures llmcli's start-up, and
reads each child's peak RSS (os.wait4 -> ru_maxrss) for a ~1 MB and a ~100 MB stream.
Then bench/embed.py: `llmcli embed` throughput against an httpx peer, and its peak RSS.
Prints a table and writes bench/results/latest.json. Ratios to peers, not pass/fail.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PY = sys.executable
LLMCLI = str(Path(PY).parent / "llmcli")
CHUNKS = 20_000  # content chunks (one word each) of the throughput test
FEW = 10  # the same request with 10 chunks: fixed cost (start-up, connect)
WORDS_PER_CHUNK = 2_000  # memory test: ~12 KB events
SIZES = {"1MB": 1_000_000, "10MB": 10_000_000, "100MB": 100_000_000}
# -o json builds the content string by repeated concatenation, O(n^2) (README, Findings):
# 100 MB would take ~4 min (39 s at 40 MB), so json is compared at 1 MB vs 10 MB.
BIG = {"text": "100MB", "sse": "100MB", "jsonl": "100MB", "json": "10MB"}
NOWHERE = "http://127.0.0.1:9/v1"  # --dry-run sends nothing
CHILD_TIMEOUT = 120.0  # seconds; a child still running then is killed (and the run fails)
# Children run with cached bytecode, as a pip-installed tool does, even if the caller set
# PYTHONDONTWRITEBYTECODE; the cache goes to bench/results/ (git-ignored), not into llmcli/.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = str(RESULTS / "pycache")


@dataclass(frozen=True)
class Run:
    seconds: float
    maxrss_kib: int
    out_bytes: int


def run(
    cmd: Sequence[str],
    *,
    count: bool = False,
    feed: Sequence[str] | None = None,
    stdout: IO[bytes] | None = None,
) -> Run:
    """Run cmd with stdout to /dev/null (or counted through a pipe, or to a file): wall
    time, peak RSS. With feed, that generator command's stdout is piped to cmd's stdin.

    On Linux a child's ru_maxrss also covers its image before exec, i.e. the peak RSS of
    this (vfork'ing) process: the harness stays small, and reports that floor.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        pipe, null = subprocess.PIPE, subprocess.DEVNULL
        src = subprocess.Popen(feed, stdin=null, stdout=pipe, env=ENV) if feed else None
        stdin = src.stdout if src is not None else null
        out = pipe if count else stdout or null
        p = subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=err, env=ENV)
        if src is not None and src.stdout is not None:
            src.stdout.close()  # cmd holds the read end: the feed sees EPIPE if cmd exits
        timer = threading.Timer(CHILD_TIMEOUT, p.kill)
        timer.start()
        total = 0
        if p.stdout is not None:
            while block := p.stdout.read(65536):  # EOF at exit at the latest (timer)
                total += len(block)
            p.stdout.close()
        _, status, usage = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        if src is not None and src.wait() != 0 and p.returncode == 0:  # cmd left input unread
            raise RuntimeError(f"{cmd} exited 0 but its feed {feed} exited {src.returncode}")
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd} exited {p.returncode}: {err.read()[-500:].decode()}")
    return Run(seconds, usage.ru_maxrss, total)


def medians(
    cmds: dict[str, list[str]], n: int, feed: Sequence[str] | None = None
) -> dict[str, float]:
    """Median wall time of each command; runs interleaved so background load hits all alike."""
    for cmd in cmds.values():
        run(cmd, feed=feed)  # warm-up, not counted: page cache, bytecode cache
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(n):
        for name, cmd in cmds.items():
            times[name].append(run(cmd, feed=feed).seconds)
    return {name: statistics.median(t) for name, t in times.items()}


@contextmanager
def gateway() -> Iterator[str]:
    """`llmcli serve --port 0` in its own process; yields the base URL it prints."""
    p = subprocess.Popen(
        [LLMCLI, "serve", "--port", "0", "--quiet"], stdout=subprocess.PIPE, env=ENV
    )
    try:
        assert p.stdout is not None
        ready, _, _ = select.select([p.stdout], [], [], 15)
        line = p.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"gateway did not start (first line: {line!r})")
        yield line
    finally:
        p.terminate()  # not SIGINT: ignored when this script itself runs in the background
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def curl(url: str, max_tokens: int, per_chunk: int = 1) -> list[str]:
    body: dict[str, Any] = {"model": "lorem", "messages": [{"role": "user", "content": "go"}]}
    body |= {"max_tokens": max_tokens, "stream": True, "mock_words_per_chunk": per_chunk}
    head = ["curl", "-sN", "--fail", "-H", "Content-Type: application/json"]
    return [*head, "--data-binary", json.dumps(body), url + "/chat/completions"]


def stream(url: str, max_tokens: int, fmt: str = "text", per_chunk: int = 1) -> list[str]:
    args = f"-m lorem --max-tokens {max_tokens} -o {fmt} -p mock_words_per_chunk={per_chunk}"
    return [LLMCLI, "stream", "--base-url", url, *args.split(), "go"]


def bench_throughput(url: str, n: int) -> dict[str, Any]:
    def peers(chunks: int) -> dict[str, list[str]]:
        cmds = {
            "llmcli": stream(url, chunks),
            "httpx_script": [PY, str(HERE / "peer_httpx.py"), url, str(chunks)],
            "curl": curl(url, chunks),
            "openai_sdk": [PY, str(HERE / "peer_openai.py"), url, str(chunks)],
        }
        return {k: v for k, v in cmds.items() if k not in notes}

    notes = {}
    if not shutil.which("curl"):
        notes["curl"] = "skipped: curl is not on PATH"
    if subprocess.run([PY, "-c", "import openai"], capture_output=True).returncode != 0:
        notes["openai_sdk"] = "skipped: `import openai` fails in this venv (not installed)"
    big, few = medians(peers(CHUNKS), n), medians(peers(FEW), n)
    rows = {
        k: {
            "median_s": v,
            "chunks_per_s": CHUNKS / v,
            "few_chunks_s": few[k],
            "per_chunk_us": (v - few[k]) / (CHUNKS - FEW) * 1e6,
        }
        for k, v in big.items()
    }
    ratios = {
        f"llmcli/{k}{what}": rows["llmcli"][key] / row[key]
        for k, row in rows.items()
        if k != "llmcli"
        for what, key in (("", "median_s"), (" per chunk", "per_chunk_us"))
    }
    return {"chunks": CHUNKS, "runs": n, "peers": rows, "ratios": ratios, "notes": notes}


def bench_startup(n: int) -> dict[str, Any]:
    dry = [LLMCLI, "chat", "--dry-run", "-m", "echo", "hi"]
    cmds = {
        "python -c pass": [PY, "-c", "pass"],
        "llmcli --version": [LLMCLI, "--version"],
        "llmcli chat --dry-run -g mock -m echo hi": [*dry, "-g", "mock"],
        # same without -g mock (which starts the in-process gateway even for --dry-run)
        "llmcli chat --dry-run --base-url URL -m echo hi": [*dry, "--base-url", NOWHERE],
    }
    rows = medians(cmds, n)
    base = rows["python -c pass"]
    return {"runs": n, "median_s": rows, "ratio_to_python": {k: v / base for k, v in rows.items()}}


def bench_memory(url: str, n: int) -> dict[str, Any]:
    probe = 200_000  # words, to size the streams
    per_word = run(curl(url, probe, WORDS_PER_CHUNK), count=True).out_bytes / probe
    words = {label: round(size / per_word) for label, size in SIZES.items()}
    sse_bytes = {  # checked once per size: what `llmcli stream -o sse … | wc -c` says
        label: run(stream(url, w, "sse", WORDS_PER_CHUNK), count=True).out_bytes
        for label, w in words.items()
    }
    modes: dict[str, Any] = {}
    for fmt, big in BIG.items():
        cmds = {label: stream(url, words[label], fmt, WORDS_PER_CHUNK) for label in ("1MB", big)}
        runs = {label: [run(cmd) for _ in range(n)] for label, cmd in cmds.items()}
        peak = {k: statistics.median(r.maxrss_kib for r in v) for k, v in runs.items()}
        growth = (peak[big] - peak["1MB"]) / 1024
        modes[fmt] = {
            "sizes": ["1MB", big],
            "peak_kib": peak,
            "median_s": {k: statistics.median(r.seconds for r in v) for k, v in runs.items()},
            "growth_mb": growth,
            "expected": "grows: holds the reply" if fmt == "json" else "flat (< 10 MB)",
            "flat": growth < 10,
        }
    return {"max_tokens": words, "sse_bytes": sse_bytes, "runs": n, "modes": modes}


def report(r: dict[str, Any]) -> str:
    t, s, m = r["throughput"], r["startup"], r["memory"]
    lines = [
        f"llmcli bench {r['date']}  {r['revision']}  nproc={r['nproc']}  python {r['python']}",
        f"\nstream throughput: {t['chunks']} chunks, median of {t['runs']} runs",
        f"  {'':<14} {'wall':>7}   {'chunks/s':>9}   {FEW}-chunk run   marginal",
    ]
    for name, row in t["peers"].items():
        lines.append(
            f"  {name:<14} {row['median_s']:7.3f} s {row['chunks_per_s']:9.0f}"
            f"   {row['few_chunks_s'] * 1000:8.0f} ms   {row['per_chunk_us']:5.1f} us/chunk"
        )
    lines += [f"  {k:<30} {v:5.2f}x" for k, v in t["ratios"].items()]
    lines += [f"  {k}: {v}" for k, v in t["notes"].items()]
    lines.append(f"\nstart-up: median of {s['runs']} runs")
    for name, sec in s["median_s"].items():
        lines.append(f"  {name:<48} {sec * 1000:5.0f} ms {s['ratio_to_python'][name]:5.2f}x")
    sizes = ", ".join(f"{k} = {v:,} B" for k, v in m["sse_bytes"].items())
    lines.append(f"\npeak RSS of `llmcli stream -o FMT`, median of {m['runs']} (SSE: {sizes})")
    lines.append(f"  floor: ru_maxrss of `true` run by this harness {r['floor_kib'] / 1024:.1f} MB")
    for fmt, row in m["modes"].items():
        (a, b), big = row["sizes"], row["sizes"][1]
        lines.append(
            f"  {fmt:<5}  1MB {row['peak_kib'][a] / 1024:5.1f} MB {row['median_s'][a]:5.2f} s"
            f" | {big:>5} {row['peak_kib'][b] / 1024:5.1f} MB {row['median_s'][b]:5.2f} s"
            f" | +{row['growth_mb']:5.1f} MB {'flat' if row['flat'] else 'GROWS':<5}"
            f" (expected: {row['expected']})"
        )
    return "\n".join(lines)


def main() -> None:
    import embed  # the embeddings section, kept in its own file (it imports this one)

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer runs (3, memory 1, embed 1) and 100k lines for embed memory, not 1M",
    )
    quick = parser.parse_args().quick
    n = 3 if quick else 5
    git = ["git", "-C", str(HERE), "describe", "--always", "--dirty"]
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "revision": subprocess.run(git, capture_output=True, text=True).stdout.strip(),
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "floor_kib": run(["true"]).maxrss_kib,
    }
    with gateway() as url:
        results["throughput"] = bench_throughput(url, n)
        results["startup"] = bench_startup(2 * n)
        results["memory"] = bench_memory(url, 3 if n == 5 else 1)
        results["embed"] = embed.bench_embed(url, quick)
    print("\n".join([report(results), *embed.report(results["embed"])]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(HERE.parent)}/latest.json")


if __name__ == "__main__":
    main()
