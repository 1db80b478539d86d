"""``llmcli.batch.embed.Embedder``: the corpus engine of ``llmcli embed``, as a library,
against the offline gateway on loopback."""

from __future__ import annotations

from llmcli.batch.embed import Embedder, Totals
from llmcli.client import Client


def test_batches_come_back_in_input_order_with_their_usage_summed(url: str) -> None:
    texts = [f"text number {i}" for i in range(37)]
    batches = [texts[i : i + 5] for i in range(0, 37, 5)]
    with Client(base_url=url, api_key="k") as client:
        embedder = Embedder(client, "embed-small")
        one_by_one = [embedder.send([text]).vectors[0] for text in texts]
        totals = Totals()
        answered = list(embedder.run(batches, parallel=3, totals=totals))
        singles = Totals()
        for text in texts:
            singles.add(embedder.send([text]).usage)
    assert [list(batch) for batch, _ in answered] == batches
    assert [v for _, embedded in answered for v in embedded.vectors] == one_by_one
    assert totals.usage["prompt_tokens"] == singles.usage["prompt_tokens"] > 0
    assert set(totals.usage) == set(singles.usage)


def test_items_are_taken_to_their_text(url: str) -> None:
    items = [{"id": i, "body": f"doc {i}"} for i in range(4)]
    with Client(base_url=url, api_key="k") as client:
        embedder = Embedder(client, "embed-small")
        answered = list(embedder.run([items[:3], items[3:]], text=lambda d: d["body"]))
        alone = embedder.send(["doc 3"]).vectors
    assert [[d["id"] for d in batch] for batch, _ in answered] == [[0, 1, 2], [3]]
    assert answered[1][1].vectors == alone


def test_totals_sum_integer_fields_only() -> None:
    totals = Totals()
    totals.add({"prompt_tokens": 3, "total_tokens": 3, "flag": True, "note": "x"})
    totals.add({"prompt_tokens": 4, "total_tokens": 4})
    totals.add(None)
    assert totals.usage == {"prompt_tokens": 7, "total_tokens": 7}
