"""Ray Data: ``llmcli.batch.run`` inside ``map_batches``, one ``llmcli.Client`` per actor.

    pip install 'llmcli[ray]'
    python ray_batch.py rows.jsonl results/ -g openai -m gpt-5-mini --actors 8 -P 16

Reads the lines of ROWS (every form ``llmcli batch run`` takes) and writes JSONL files into
OUT_DIR, one object per input line: ``{"custom_id", "status_code", "line"}``, where
``line`` is the output line ``llmcli batch run`` would have written for it (OpenAI's batch
output shape). Give every line a custom_id: a line without one is numbered within its batch.

``ray.init()`` joins the cluster ``RAY_ADDRESS`` (or ``ray start``) names, else starts one
on this machine. The actors read the gateway's key from their own environment: this script
passes on the driver's ``LLMCLI_*`` and ``*_API_KEY`` variables through the job's
``runtime_env``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import orjson

import llmcli
from llmcli.http.governor import Governor


class Ask:
    """Made once per actor, and so is its client: one HTTP pool, reused for every batch,
    and one governor, which pauses this actor's requests when the server answers 429."""

    def __init__(
        self,
        gateway: str | None,
        base_url: str | None,
        model: str,
        parallel: int = 16,
        rpm: float | None = None,
    ) -> None:
        self.client = llmcli.Client(gateway, base_url=base_url, governor=Governor(parallel))
        self.defaults = llmcli.batch.Defaults(model=model)
        self.parallel = parallel
        self.rpm = rpm

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        """One batch (a pyarrow Table of input lines): its rows, ``parallel`` in flight."""
        rows = llmcli.batch.run(
            batch.column("text").to_pylist(),
            client=self.client,
            parallel=self.parallel,
            rpm=self.rpm,
            defaults=self.defaults,
        )
        out = list(rows)
        return {
            "custom_id": [row["custom_id"] for row in out],
            "status_code": [(row["response"] or {}).get("status_code") for row in out],
            "line": [orjson.dumps(row).decode() for row in out],
        }


def pipeline(
    rows: str,
    out_dir: str,
    *,
    model: str,
    gateway: str | None = None,
    base_url: str | None = None,
    actors: int = 2,
    parallel: int = 16,
    batch_size: int = 256,
    rpm: float | None = None,
) -> None:
    """ROWS through ``actors`` actors, each with ``parallel`` requests in flight; ``rpm``
    is for all of them together."""
    import ray

    ds = ray.data.read_text(rows)
    ds = ds.map_batches(
        Ask,
        fn_constructor_kwargs={
            "gateway": gateway,
            "base_url": base_url,
            "model": model,
            "parallel": parallel,
            "rpm": rpm / actors if rpm else None,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        concurrency=actors,  # a fixed pool of actors: Ask is made `actors` times
        num_cpus=0.5,  # waiting on the network takes little CPU
    )
    ds.write_json(out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows")
    parser.add_argument("out_dir")
    parser.add_argument("-g", "--gateway")
    parser.add_argument("--base-url")
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("-P", "--parallel", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rpm", type=float)
    args = parser.parse_args()

    import ray

    passed = {
        name: value
        for name, value in os.environ.items()
        if name.startswith("LLMCLI_") or name.endswith("_API_KEY")
    }
    ray.init(runtime_env={"env_vars": passed})
    try:
        pipeline(
            os.path.abspath(args.rows),
            os.path.abspath(args.out_dir),
            model=args.model,
            gateway=args.gateway,
            base_url=args.base_url,
            actors=args.actors,
            parallel=args.parallel,
            batch_size=args.batch_size,
            rpm=args.rpm,
        )
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
