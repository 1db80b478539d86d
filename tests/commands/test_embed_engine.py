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


def test_hundreds_in_flight_on_the_event_loop_without_a_thread_each() -> None:
    import threading

    from llmcli.mock import latency

    batches = [[f"text {i}"] for i in range(400)]
    threads_seen: list[int] = []
    # no answer before 200 requests are in flight at once: a run that cannot hold them
    # all waits here, it does not pass by luck of timing
    with (
        latency.start(0.0, until=200) as gateway,
        Client(base_url=gateway.base_url, api_key="k") as client,
    ):
        embedder = Embedder(client, "latency-embed")
        answered = []
        for batch, embedded in embedder.run(batches, parallel=200):
            threads_seen.append(threading.active_count())
            answered.append((batch, embedded.vectors))
        held = gateway.stats.most_in_flight
    assert held == 200
    assert [batch for batch, _ in answered] == batches
    assert {str(vectors) for _, vectors in answered} == {"[[0.125, -0.25, 0.5, -1.0]]"}
    # the engine's loop and its input reader, not a thread per request in flight
    assert max(threads_seen) < 20
