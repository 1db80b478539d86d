"""Embeddings at corpus scale: batches of inputs, several requests in flight, answers in
input order, usage summed, memory flat however long the input. ``llmcli embed`` is this
engine with a writer; a program can drive it as well::

    from llmcli.batch.embed import Embedder

    embedder = Embedder(client, model="e")
    batches = (lines[i : i + 100] for i in range(0, len(lines), 100))
    for batch, answer in embedder.run(batches, parallel=4):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from llmcli.batch.parallel import ordered_map
from llmcli.http.request import parse_reply
from llmcli.protocol import embeddings

if TYPE_CHECKING:
    from llmcli.client import Client
    from llmcli.http.request import Request
    from llmcli.http.session import Answer

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Embedded:
    """One batch's answer: its body as sent, its vectors in input order, its usage."""

    raw: bytes
    vectors: list[list[float]]
    usage: Any


@dataclass(slots=True)
class Totals:
    """The usage of every answer so far, summed field by field (numbers only: token
    counts, and the ``cost`` a gateway may report)."""

    usage: dict[str, int | float] = field(default_factory=dict)

    def add(self, used: Any) -> None:
        for key, value in (used if isinstance(used, Mapping) else {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.usage[key] = self.usage.get(key, 0) + value


@dataclass(frozen=True, slots=True)
class Embedder:
    """Embeddings requests to one client and model, every batch the same shape."""

    client: Client
    model: str
    dimensions: int | None = None
    encoding_format: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def request(self, texts: Sequence[str]) -> Request:
        """The request of one batch (what ``--dry-run`` shows)."""
        body = embeddings.request_body(
            self.model,
            texts,
            dimensions=self.dimensions,
            encoding_format=self.encoding_format,
            extra=self.extra,
        )
        return self.client.request("POST", "embeddings", body)

    def send(self, texts: Sequence[str]) -> Embedded:
        """One batch's answer, checked (a vector per input, in input order)."""
        request = self.request(texts)
        answer = self.client.send(request)
        return self._checked(request, answer.body, answer, len(texts))

    def _checked(
        self, request: Request, body: bytes, answer: Answer | None, count: int
    ) -> Embedded:
        """An answer's vectors, checked: one for each of the ``count`` inputs."""
        parsed = parse_reply(body, request)
        vectors = embeddings.vectors(parsed, count, self.client.gateway.name)
        if answer is not None:
            self.client.keep(request, answer)  # --cache: checked, a vector for each input
        return Embedded(body, vectors, parsed.get("usage"))

    def run(
        self,
        batches: Iterable[Sequence[T]],
        *,
        text: Callable[[T], str] | None = None,
        parallel: int = 4,
        totals: Totals | None = None,
    ) -> Iterator[tuple[Sequence[T], Embedded]]:
        """Each batch with its answer, in input order, ``parallel`` requests in flight.
        ``text`` takes an item to its text (default: the item is the text). ``totals``,
        when given, sums the usage of the answers as they are handed out (in the caller's
        thread, not the workers')."""
        from llmcli.batch import descriptors

        descriptors.ensure(parallel)  # a connection for each request in flight
        of: Callable[[T], str] = text or (lambda item: str(item))

        def send(batch: Sequence[T]) -> Embedded:
            return self.send([of(item) for item in batch])

        from llmcli.batch import engine

        answered: Iterable[tuple[Sequence[T], Embedded]]
        if engine.usable(self.client):  # the batch engine's loop: no thread per request

            async def work(loop: Any, pool: Any, batch: Sequence[T]) -> tuple[Any, Embedded]:
                request = self.request([of(item) for item in batch])
                body, answer = await loop.fetched(pool, request)
                return batch, self._checked(request, body, answer, len(batch))

            groups = engine.answers(self.client, iter(batches), work, parallel=parallel)
            answered = (pair for group in groups for pair in group)
        else:
            answered = ordered_map(send, batches, workers=parallel)
        for batch, embedded in answered:
            if totals is not None:
                totals.add(embedded.usage)
            yield batch, embedded
