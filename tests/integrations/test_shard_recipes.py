"""The recipes of docs/batch.md that spread one JSONL file over many workers, run here the
way their schedulers would run them, against the offline gateway: the Slurm array script
with ``SLURM_ARRAY_TASK_ID`` set by hand, the Kubernetes Indexed Job's command with
``JOB_COMPLETION_INDEX``, the CI matrix's shard step with ``SHARD``, GNU parallel; then
docs/recipes/merge-shards.sh. Every row is answered exactly once, merged in input order.

The YAML recipes are read with PyYAML (skipped without it; the ``ray`` extra brings it),
GNU parallel's only where it is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import clean_env

from llmcli import mock as offline

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"
ROWS = 40
SHARDS = 3


SUMMARY = (
    f"merge-shards: {ROWS} rows in results.jsonl; missing 0, twice 0, not in the input 0, "
    "failed 0\n"
)


def _rows(where: Path) -> None:
    lines = [
        json.dumps(
            {"custom_id": str(i), "body": {"messages": [{"role": "user", "content": f"r{i}"}]}}
        )
        for i in range(1, ROWS + 1)
    ]
    (where / "rows.jsonl").write_text("\n".join(lines) + "\n")


def _env(gw: offline.RunningGateway, **extra: str) -> dict[str, str]:
    """llmcli and python3 of this venv first on PATH; the gateway; the recipes' MODEL."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return clean_env({"PATH": path, "LLMCLI_BASE_URL": gw.base_url, "MODEL": "echo", **extra})


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def _merge(where: Path, env: dict[str, str]) -> None:
    """merge-shards.sh: exit 0 and its summary line; then ``_merged``."""
    done = _run(
        ["bash", str(RECIPES / "merge-shards.sh"), "rows.jsonl", "results.jsonl"], where, env
    )
    assert (done.returncode, done.stderr) == (0, SUMMARY)
    _merged(where)


def _merged(where: Path) -> None:
    """results.jsonl: the shards' lines byte for byte, in input order, every row once."""
    merged = (where / "results.jsonl").read_bytes()
    shards = b"".join((where / f"out.{k}.jsonl").read_bytes() for k in range(SHARDS))
    assert sorted(merged.splitlines()) == sorted(shards.splitlines())
    results = [json.loads(line) for line in merged.splitlines()]
    assert [r["custom_id"] for r in results] == [str(i) for i in range(1, ROWS + 1)]
    assert [r["response"]["body"]["choices"][0]["message"]["content"] for r in results] == [
        f"r{i}" for i in range(1, ROWS + 1)
    ]


def _sent(gw: offline.RunningGateway) -> int:
    return sum(r.path.endswith("/chat/completions") for r in gw.requests)


def test_slurm_array_script_shards_resume_and_merge(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    _rows(tmp_path)
    env = _env(gw, SHARDS=str(SHARDS))
    script = str(RECIPES / "batch-array.sbatch")
    for k in range(SHARDS):
        task = {"SLURM_ARRAY_TASK_ID": str(k), "SLURM_ARRAY_TASK_COUNT": str(SHARDS)}
        done = _run(["bash", script], tmp_path, {**env, **task})
        assert (done.returncode, done.stderr) == (0, "")
    assert _sent(gw) == ROWS
    sizes = [len((tmp_path / f"out.{k}.jsonl").read_bytes().splitlines()) for k in range(SHARDS)]
    assert sum(sizes) == ROWS
    assert min(sizes) > 0

    # task 1 killed: its last two rows never written, a third torn; resubmitted alone
    out = tmp_path / "out.1.jsonl"
    kept = out.read_bytes().splitlines(keepends=True)[:-3]
    out.write_bytes(b"".join(kept) + b'{"id":"batch_req_torn')
    task = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "1"}
    done = _run(["bash", script], tmp_path, {**env, **task})
    assert (done.returncode, done.stderr) == (0, "")
    assert _sent(gw) == ROWS + 3
    _merge(tmp_path, env)


def test_slurm_array_script_needs_model(gw: offline.RunningGateway, tmp_path: Path) -> None:
    _rows(tmp_path)
    env = {k: v for k, v in _env(gw).items() if k != "MODEL"}
    done = _run(
        ["bash", str(RECIPES / "batch-array.sbatch")], tmp_path, {**env, "SLURM_ARRAY_TASK_ID": "0"}
    )
    assert done.returncode == 1
    assert done.stderr.endswith("MODEL: set MODEL\n")
    assert _sent(gw) == 0


def test_kubernetes_indexed_job_command_per_index(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    yaml = pytest.importorskip("yaml")
    job = yaml.safe_load((RECIPES / "batch-indexed-job.yaml").read_text())
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    manifest_env = {e["name"]: e.get("value") for e in container["env"]}
    assert spec["completionMode"] == "Indexed"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # for backoffLimitPerIndex
    assert int(manifest_env["SHARDS"]) == spec["completions"]
    assert container["command"] == ["sh", "-c"]

    _rows(tmp_path)
    env = _env(gw, SHARDS=str(SHARDS))  # fewer shards than the manifest's, for speed
    for index in range(SHARDS):
        run = {**env, "JOB_COMPLETION_INDEX": str(index)}
        done = _run(["sh", "-c", container["args"][0]], tmp_path, run)
        assert (done.returncode, done.stderr) == (0, "")
    assert _sent(gw) == ROWS
    _merge(tmp_path, env)


def test_ci_matrix_steps_then_merge_job(gw: offline.RunningGateway, tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load((RECIPES / "batch-shards.yml").read_text())
    shard_job, merge_job = flow["jobs"]["shard"], flow["jobs"]["merge"]
    assert shard_job["strategy"]["matrix"]["shard"] == list(range(shard_job["env"]["SHARDS"]))
    assert shard_job["strategy"]["fail-fast"] is False
    (step,) = [s for s in shard_job["steps"] if s.get("name") == "one shard"]
    (merge,) = [s for s in merge_job["steps"] if s.get("name") == "merge and check"]

    _rows(tmp_path)
    env = _env(gw, SHARDS=str(SHARDS))
    for shard in range(SHARDS):  # the matrix's jobs, one after the other
        done = _run(["bash", "-e", "-c", step["run"]], tmp_path, {**env, "SHARD": str(shard)})
        assert (done.returncode, done.stderr) == (0, "")
    assert _sent(gw) == ROWS
    shutil.copy(RECIPES / "merge-shards.sh", tmp_path)
    done = _run(["bash", "-e", "-c", merge["run"]], tmp_path, env)
    assert (done.returncode, done.stderr) == (0, SUMMARY)
    _merged(tmp_path)


@pytest.mark.skipif(shutil.which("parallel") is None, reason="GNU parallel is not installed")
def test_gnu_parallel_over_shards(gw: offline.RunningGateway, tmp_path: Path) -> None:
    _rows(tmp_path)
    env = _env(gw)
    command = (
        f"parallel -j {SHARDS} llmcli batch run rows.jsonl -m echo -P 4 --shard {{}}/{SHARDS} "
        f"-o out.{{}}.jsonl --resume ::: $(seq 0 {SHARDS - 1})"
    )
    done = _run(["bash", "-c", command], tmp_path, env)
    assert (done.returncode, done.stderr) == (0, "")
    assert _sent(gw) == ROWS
    _merge(tmp_path, env)


def test_merge_names_rows_missing_twice_or_failed(tmp_path: Path) -> None:
    def line(custom_id: str, status: int) -> str:
        response = {"status_code": status, "request_id": "", "body": {}}
        return json.dumps({"id": "b", "custom_id": custom_id, "response": response, "error": None})

    (tmp_path / "rows.jsonl").write_text("a\nb\n\nd\n")  # custom_ids 1, 2 and 4
    merge = ["bash", str(RECIPES / "merge-shards.sh"), "rows.jsonl", "results.jsonl"]
    env = clean_env()

    (tmp_path / "out.0.jsonl").write_text(line("4", 200) + "\n" + line("1", 200) + "\n")
    (tmp_path / "out.1.jsonl").write_text(line("1", 200) + "\n" + line("9", 200) + "\n")
    done = _run(merge, tmp_path, env)
    assert (done.returncode, done.stderr) == (
        1,
        "merge-shards: 4 rows in results.jsonl; missing 1, twice 1, not in the input 1, failed 0\n",
    )

    (tmp_path / "out.1.jsonl").write_text(line("2", 429) + "\n")
    done = _run(merge, tmp_path, env)
    assert (done.returncode, done.stderr) == (
        75,
        "merge-shards: 3 rows in results.jsonl; missing 0, twice 0, not in the input 0, failed 1\n",
    )
    assert [json.loads(x)["custom_id"] for x in (tmp_path / "results.jsonl").open()] == [
        "1",
        "2",
        "4",
    ]
