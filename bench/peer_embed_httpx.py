"""Peer for bench/embed.py: the smallest reasonable batching httpx embeddings client.

Usage: seq 1 100000 | peer_embed_httpx.py BASE_URL MODEL BATCH_SIZE PARALLEL

Reads stdin lines (empty ones skipped, as `llmcli embed` does), POSTs batches of
BATCH_SIZE to /embeddings from a ThreadPoolExecutor of PARALLEL threads sharing one
httpx.Client, and writes `{"index": i, "embedding": [...]}` lines in input order with
`json.dumps` (compact separators, as llmcli's orjson writes), flushing once per batch.
Like llmcli (`ordered_map`'s window), it submits at most 2 * PARALLEL batches ahead, so
PARALLEL requests stay in flight while the oldest answer is written and memory is bounded.
"""

import json
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any

# Same start-up trick llmcli uses (llmcli/http/session.py): httpx/__init__ otherwise imports its
# optional CLI (rich, pygments), ~70 ms. Keeps the peer as fast as it can reasonably be.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402


def main() -> None:
    base_url, model = sys.argv[1], sys.argv[2]
    batch_size, parallel = int(sys.argv[3]), int(sys.argv[4])
    texts: Iterator[str] = (t for line in sys.stdin if (t := line.rstrip("\r\n")).strip())
    out = sys.stdout
    index = 0

    def embed(batch: list[str]) -> list[Any]:
        r = client.post(base_url + "/embeddings", json={"model": model, "input": batch})
        r.raise_for_status()
        data = r.json()["data"]
        if len(data) != len(batch):
            raise SystemExit(f"sent {len(batch)} inputs, got {len(data)} embeddings")
        return [d["embedding"] for d in sorted(data, key=lambda d: d["index"])]

    def write(vectors: list[Any]) -> None:
        nonlocal index
        for vector in vectors:
            out.write(json.dumps({"index": index, "embedding": vector}, separators=(",", ":")))
            out.write("\n")
            index += 1
        out.flush()

    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(parallel) as pool:
        pending: deque[Future[list[Any]]] = deque()
        while batch := list(islice(texts, batch_size)):
            pending.append(pool.submit(embed, batch))
            if len(pending) >= 2 * parallel:
                write(pending.popleft().result())
        while pending:
            write(pending.popleft().result())


if __name__ == "__main__":
    main()
