"""Embeddings section of bench/run.py (which runs it); see bench/README.md.

Times `seq 1 100000 | llmcli embed --batch-size 256 --parallel 4` against a minimal httpx
peer doing the same batching (bench/peer_embed_httpx.py), checks once that both outputs
agree, and reads llmcli's peak RSS for 10,000 against 1,000,000 input lines.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from itertools import zip_longest
from typing import IO, Any

from run import HERE, LLMCLI, PY, medians, run

MODEL = "embed-small"  # 8 dimensions (llmcli/mock/catalog.py)
INPUTS = 100_000  # lines of the throughput test
BATCH, PARALLEL = 256, 4
SMALL, BIG, BIG_QUICK = 10_000, 1_000_000, 100_000  # lines of the memory test


def seq(n: int) -> list[str]:
    return ["seq", "1", str(n)]


def peers(url: str) -> dict[str, list[str]]:
    opts = ["--batch-size", str(BATCH), "--parallel", str(PARALLEL)]
    return {
        "llmcli": [LLMCLI, "embed", "--base-url", url, "-m", MODEL, *opts],
        "httpx_script": [PY, str(HERE / "peer_embed_httpx.py"), url, MODEL, *opts[1::2]],
    }


def compare(a: IO[bytes], b: IO[bytes]) -> dict[str, Any]:
    """Line by line (the harness stays small): counts, llmcli's indexes, bytes, values."""
    lines = {"llmcli": 0, "httpx_script": 0}
    bad_index: list[int] = []  # llmcli lines whose index is not their line number
    differ = values_differ = 0
    example: list[str] = []
    for i, (x, y) in enumerate(zip_longest(a, b)):
        if x is not None:
            lines["llmcli"] += 1
            if json.loads(x)["index"] != i and len(bad_index) < 5:
                bad_index.append(i)
        if y is not None:
            lines["httpx_script"] += 1
        if x is None or y is None or x == y:
            continue
        differ += 1
        mine, theirs = json.loads(x), json.loads(y)
        values_differ += mine != theirs
        if not example and mine == theirs:  # the first number written differently
            example = next([p, q] for p, q in zip(_numbers(x), _numbers(y), strict=True) if p != q)
    return {
        "lines": lines,
        "indexes_in_order": not bad_index and lines["llmcli"] == INPUTS,
        "bad_index_lines": bad_index,
        "identical": differ == 0 and lines["llmcli"] == lines["httpx_script"],
        "lines_differing_in_bytes": differ,
        "lines_differing_in_values": values_differ,
        "example": example,  # [llmcli's text, peer's text] of one number
    }


def _numbers(line: bytes) -> list[str]:
    return line.decode().split("[", 1)[1].split("]", 1)[0].split(",")


def bench_embed(url: str, quick: bool) -> dict[str, Any]:
    n = 1 if quick else 3
    cmds = peers(url)
    with tempfile.TemporaryFile() as a, tempfile.TemporaryFile() as b:
        run(cmds["llmcli"], feed=seq(INPUTS), stdout=a)
        run(cmds["httpx_script"], feed=seq(INPUTS), stdout=b)
        a.seek(0)
        b.seek(0)
        check = compare(a, b)
    wall = medians(cmds, n, feed=seq(INPUTS))
    throughput = {
        "inputs": INPUTS,
        "runs": n,
        "peers": {k: {"median_s": v, "inputs_per_s": INPUTS / v} for k, v in wall.items()},
        "ratios": {"llmcli/httpx_script": wall["llmcli"] / wall["httpx_script"]},
        "check": check,
    }
    big = BIG_QUICK if quick else BIG
    runs = {size: [run(cmds["llmcli"], feed=seq(size)) for _ in range(n)] for size in (SMALL, big)}
    peak = {size: statistics.median(r.maxrss_kib for r in v) for size, v in runs.items()}
    growth = (peak[big] - peak[SMALL]) / 1024
    memory = {
        "lines": [SMALL, big],
        "runs": n,
        "peak_kib": peak,
        "median_s": {size: statistics.median(r.seconds for r in v) for size, v in runs.items()},
        "growth_mb": growth,
        "expected": "flat (< 10 MB)",
        "flat": growth < 10,
    }
    return {
        "model": MODEL,
        "batch_size": BATCH,
        "parallel": PARALLEL,
        "throughput": throughput,
        "memory": memory,
    }


def report(e: dict[str, Any]) -> list[str]:
    t, m, c = e["throughput"], e["memory"], e["throughput"]["check"]
    lines = [
        f"\nembed throughput: seq 1 {t['inputs']} | {e['model']}, --batch-size {e['batch_size']}"
        f" --parallel {e['parallel']}, median of {t['runs']} runs",
        f"  {'':<14} {'wall':>7}   {'inputs/s':>9}",
    ]
    for name, row in t["peers"].items():
        lines.append(f"  {name:<14} {row['median_s']:7.3f} s {row['inputs_per_s']:9.0f}")
    lines += [f"  {k:<30} {v:5.2f}x" for k, v in t["ratios"].items()]
    counts = ", ".join(f"{k} {v:,}" for k, v in c["lines"].items())
    order = (
        f"0..{INPUTS - 1:,} in order"
        if c["indexes_in_order"]
        else f"NOT 0..{INPUTS - 1:,} in order (first bad lines: {c['bad_index_lines']})"
    )
    lines.append(f"  check: lines {counts}; llmcli indexes {order}")
    if c["identical"]:
        lines.append("  check: outputs identical bytes")
    else:
        same = "all values equal" if not c["lines_differing_in_values"] else "VALUES DIFFER"
        lines.append(
            f"  check: {c['lines_differing_in_bytes']:,} lines differ in bytes"
            f" ({c['lines_differing_in_values']:,} in values: {same});"
            f" e.g. llmcli {c['example'][0] if c['example'] else '?'}"
            f" vs json.dumps {c['example'][1] if c['example'] else '?'}"
        )
    (a, b), peak, sec = m["lines"], m["peak_kib"], m["median_s"]
    lines.append(f"\npeak RSS of `seq 1 N | llmcli embed`, median of {m['runs']}")
    lines.append(
        f"  N={a:<9,} {peak[a] / 1024:5.1f} MB {sec[a]:5.2f} s"
        f" | N={b:<9,} {peak[b] / 1024:5.1f} MB {sec[b]:5.2f} s"
        f" | +{m['growth_mb']:5.1f} MB {'flat' if m['flat'] else 'GROWS':<5}"
        f" (expected: {m['expected']})"
    )
    return lines
