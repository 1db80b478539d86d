"""Ray Data runs ``llmcli.batch.run`` inside ``map_batches`` (issue 12): the pipeline of
docs/recipes/ray_batch.py, one ``llmcli.Client`` per actor, against the offline gateway.

Skipped when Ray is not installed (``pip install -e '.[ray]'``), so the normal suite needs
no Ray. Ray stays on this machine's loopback: no dashboard, no usage stats, a private HOME
whose ``ray_bootstrap_config.yaml`` names a local provider (else the usage-stats code probes
the cloud-metadata address), and ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, "local Ray only"
(else Ray asks the kernel for its route to 8.8.8.8 and serves on the machine's eth0
address).
"""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from llmcli import mock as offline

RECIPE = Path(__file__).resolve().parents[2] / "docs" / "recipes" / "ray_batch.py"
ROWS = 200
BAD = '{"custom_id": "bad", "method": "POST", "url": "/v1/nope", "body": {}}'


@pytest.fixture
def ray_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A one-machine Ray on 127.0.0.1, shut down (its processes gone) after the test."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "ray_bootstrap_config.yaml").write_text("provider: {type: local}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read when ray is imported
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.timeout(240)
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")
def test_ray_data_pipeline_answers_every_row_once(
    ray_local: ModuleType, gw: offline.RunningGateway, tmp_path: Path
) -> None:
    assert ray_local.util.get_node_ip_address() == "127.0.0.1"
    rows = tmp_path / "rows.jsonl"
    lines = [
        json.dumps(
            {"custom_id": str(i), "body": {"messages": [{"role": "user", "content": f"r{i}"}]}}
        )
        for i in range(1, ROWS + 1)
    ]
    rows.write_text("\n".join([*lines[:100], BAD, *lines[100:]]) + "\n")

    # run as a file, not imported: Ray then ships the recipe's Ask class to its actors by
    # value, as it does for a script's __main__
    recipe = runpy.run_path(str(RECIPE))
    recipe["pipeline"](
        str(rows),
        str(tmp_path / "results"),
        model="echo",
        base_url=gw.base_url,
        actors=2,
        parallel=8,
        batch_size=50,
    )

    written = [
        json.loads(line)
        for path in sorted((tmp_path / "results").iterdir())
        for line in path.read_text().splitlines()
    ]
    assert len(written) == ROWS + 1  # one output object per input line
    results = {row["custom_id"]: json.loads(row["line"]) for row in written}
    assert sorted(results) == sorted([*map(str, range(1, ROWS + 1)), "bad"])  # none twice
    for i in range(1, ROWS + 1):
        answer = results[str(i)]
        assert answer["custom_id"] == str(i)
        assert answer["error"] is None
        assert answer["response"]["status_code"] == 200
        assert answer["response"]["body"]["choices"][0]["message"]["content"] == f"r{i}"
    assert results["bad"]["response"] is None
    assert results["bad"]["error"]["code"] == "invalid_request"
    # its line number is its place in its batch: a Ray batch is the runner's whole input
    assert re.fullmatch(
        r"line \d+: url '/v1/nope' is not one of /v1/chat/completions, /v1/embeddings, "
        r"/v1/messages, /v1/responses",
        results["bad"]["error"]["message"],
    )
    assert sorted(row["status_code"] or 0 for row in written) == [0] + [200] * ROWS
    # every good row was sent exactly once; the bad line never
    sent = [r for r in gw.requests if r.path.endswith("/chat/completions")]
    assert len(sent) == ROWS
    assert sorted(json.loads(r.body)["messages"][0]["content"] for r in sent) == sorted(
        f"r{i}" for i in range(1, ROWS + 1)
    )
