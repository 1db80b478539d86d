"""Latency-bound batch runs: many requests in flight against a slow-per-request gateway.

    .venv/bin/python bench/latency.py            # the four cases of issue 27, one run each
    .venv/bin/python bench/latency.py --quick    # 1,000 rows at 0.5 s, -P 100 and 500

Real providers are slow per request and fast in total: the time of such a run should be
rows * latency / in-flight (the *ideal*). The gateway is `llmcli serve --latency S` in a
process of its own (one event loop: every answer after exactly S, however many are in
flight), started afresh for each run so that its `GET /v1/_stats` tells the most it held
at once. Each case runs `llmcli batch run -P N` and, in bench/batch.py's venv, the openai
SDK's AsyncOpenAI under a Semaphore(N) (bench/peer_async_openai.py) on the same rows.
Both children get the open-files soft limit raised to the hard one (a peer script would
otherwise die of EMFILE at thousands in flight; llmcli raises its own).

Reported per run: ideal, wall and wall ÷ ideal, CPU user and system (rusage), peak RSS,
and the most requests the gateway saw in flight. Results also go to
bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from batch import bench_venv, chat_rows
from run import ENV, HERE, LLMCLI, RESULTS

CASES = [(5000, 1.0, 500), (5000, 1.0, 1000), (10000, 2.0, 2000), (10000, 2.0, 5000)]
QUICK = [(1000, 0.5, 100), (1000, 0.5, 500)]
TIMEOUT = 600.0


@contextmanager
def gateway(latency: float) -> Iterator[str]:
    """``llmcli serve --latency`` in its own process; its base URL."""
    p = subprocess.Popen(
        [LLMCLI, "serve", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    try:
        assert p.stdout is not None
        ready, _, _ = select.select([p.stdout], [], [], 15)
        url = p.stdout.readline().decode().strip() if ready else ""
        if not url.startswith("http://"):
            raise RuntimeError(f"the latency gateway did not start ({url!r})")
        yield url
    finally:
        p.terminate()
        p.wait(timeout=10)


def most_in_flight(url: str) -> int:
    with urllib.request.urlopen(url + "/_stats", timeout=10) as reply:
        return int(json.load(reply)["most_in_flight"])


def _more_files() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(cmd: list[str], rows_file: str, env: dict[str, str]) -> dict[str, float]:
    """One child: wall, user and system CPU, peak RSS (MiB)."""
    with open(rows_file, "rb") as rows, open(os.devnull, "wb") as out:
        started = time.perf_counter()
        p = subprocess.Popen(
            cmd, stdin=rows, stdout=out, stderr=subprocess.PIPE, env=env, preexec_fn=_more_files
        )
        assert p.stderr is not None
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - started
        err = p.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{cmd[:4]} exited {code}: {err[-800:]}")
    return {
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-peer", action="store_true", help="llmcli only")
    parser.add_argument(
        "--engine",
        choices=("threads", "async", "both"),
        default="both",
        help="llmcli's batch engines to run (async: the default; threads: LLMCLI_ENGINE=threads)",
    )
    args = parser.parse_args()
    peer_py = None if args.no_peer else bench_venv()
    results: list[dict[str, Any]] = []
    print(
        f"{'rows':>6} {'lat':>4} {'-P':>5} {'peer':<12} {'ideal':>6} {'wall':>7} {'x':>5} "
        f"{'user':>6} {'sys':>6} {'MiB':>5} {'held':>5}"
    )
    for rows, latency, parallel in QUICK if args.quick else CASES:
        path = str(chat_rows(rows))
        ideal = rows * latency / parallel
        llmcli = [LLMCLI, "batch", "run", "-P", str(parallel), "--retries", "0"]
        peers = {"llmcli": llmcli} if args.engine != "threads" else {}
        if args.engine != "async":
            peers["llmcli_threads"] = llmcli  # LLMCLI_ENGINE=threads
        if peer_py is not None:
            peers["openai_sdk"] = [peer_py, str(HERE / "peer_async_openai.py")]
        for name, base in peers.items():
            env = {**ENV, "LLMCLI_ENGINE": "threads" if name == "llmcli_threads" else "async"}
            with gateway(latency) as url:
                if name.startswith("llmcli"):
                    cmd = [*base, "--base-url", url, path]
                else:
                    cmd = [*base, url, str(parallel), path]
                measured = run(cmd, path, env)
                held = most_in_flight(url)
            row = {"rows": rows, "latency_s": latency, "parallel": parallel, "peer": name}
            row.update(measured, ideal_s=ideal, held=held)
            results.append(row)
            print(
                f"{rows:6d} {latency:4g} {parallel:5d} {name:<12} {ideal:6.1f} "
                f"{measured['wall_s']:7.2f} {measured['wall_s'] / ideal:5.2f} "
                f"{measured['user_s']:6.1f} {measured['sys_s']:6.1f} "
                f"{measured['peak_mib']:5.0f} {held:5d}",
                flush=True,
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
