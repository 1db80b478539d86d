"""The batch runner: many rows, N in flight, one HTTP client, one rate governor.

Each row is one non-streaming request through the shared ``llmcli.Client`` (its pool,
retries and governor: a 429/503 that names its wait pauses every worker). Rows come back
in input order (a bounded window: memory stays flat however long the input) or, with
``ordered=False``, as they finish. A row that cannot be sent is answered with an error
row and never sent; a 4xx is recorded; 401/402/403 stop the run (``Stopped``): rows not
yet sent are not answered, so a ``--resume`` continues later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmcli.batch import results
from llmcli.batch.answering import _Stop, answer
from llmcli.batch.limits import RateLimits
from llmcli.batch.lines import Defaults, Row, from_object, parse, shard_of

if TYPE_CHECKING:
    from llmcli.client import Client
    from llmcli.tools.loop import Toolbox

JSON = dict[str, Any]


@dataclass(slots=True)
class Tally:
    """What a run did, for ``--usage`` and the exit status."""

    rows: int = 0
    ok: int = 0
    rejected: int = 0  # a 4xx, or a line that could not be sent
    answered_badly: int = 0  # of the rejected: those with an answer (its error in its body)
    temporary: int = 0  # 408/429/5xx after retries, timeouts, cut connections
    usage: dict[str, int] = field(default_factory=dict)
    #: what the answered rows cost (USD), and how many of them had no known cost
    cost: float = 0.0
    unpriced: int = 0
    #: (usage, model) -> (cost or None, its source): ``PriceBook.cost``; None: not counted
    price: Callable[[Any, str | None], tuple[float | None, str]] | None = field(
        default=None, repr=False, compare=False
    )

    def count(self, row: JSON) -> None:
        self.rows += 1
        response = row.get("response")
        if results.succeeded(row):
            self.ok += 1
            body = response["body"] if isinstance(response, dict) else None
            usage = body.get("usage") if isinstance(body, dict) else None
            for key, value in (usage or {}).items():
                if isinstance(value, int):
                    self.usage[key] = self.usage.get(key, 0) + value
            if self.price is not None and isinstance(body, dict):
                model = body.get("model")
                spent, _ = self.price(usage, model if isinstance(model, str) else None)
                if spent is None:
                    self.unpriced += 1
                else:
                    self.cost += spent
        elif _temporary(row):
            self.temporary += 1
        else:
            self.rejected += 1
            self.answered_badly += isinstance(row.get("response"), dict)

    def rejection(self) -> str:
        """The line for rejected rows, saying where each kind holds its error."""
        sent, unsent = self.answered_badly, self.rejected - self.answered_badly
        if not unsent:
            where = ".response.body.error"
        elif not sent:
            where = ".error"
        else:
            where = f".response.body.error of {sent}, .error of {unsent}"
        return f"{self.rejected} of {self.rows} rows were rejected (see {where})"


def _temporary(row: JSON) -> bool:
    response = row.get("response")
    if isinstance(response, dict):
        status = response.get("status_code")
        return isinstance(status, int) and (status in (408, 429) or status >= 500)
    error = row.get("error")
    return not isinstance(error, dict) or error.get("code") not in LASTING


#: error rows no retry completes by itself (``--resume`` with other flags may)
LASTING = ("invalid_request", "tool_not_approved", "max_steps")


def rows_of(
    lines: Iterable[str | JSON | Row],
    defaults: Defaults = Defaults(),
    shard: tuple[int, int] | None = None,
    skip: Callable[[str], bool] = lambda custom_id: False,
) -> Iterator[Row]:
    """The rows of input lines (text, or objects as ``batch.run`` takes them), the ones
    of one shard, less those ``skip`` says are done."""
    for number, line in enumerate(lines, start=1):
        if isinstance(line, Row):
            row: Row | None = line
        elif isinstance(line, str):
            row = parse(line, number, defaults)
        else:
            row = from_object(line, number, defaults)
        if row is None:
            continue
        if shard is not None and shard_of(row.custom_id, shard[1]) != shard[0]:
            continue
        if skip(row.custom_id):
            continue
        yield row


def run(
    rows: Iterable[str | JSON | Row],
    *,
    client: Client,
    parallel: int = 8,
    ordered: bool = True,
    rpm: float | None = None,
    tpm: float | None = None,
    defaults: Defaults = Defaults(),
    max_cost: float | None = None,
    tools: Toolbox | None = None,
) -> Iterator[JSON]:
    """Output rows for input rows (lines, line objects or ``Row`` values), ``parallel``
    in flight, in input order unless ``ordered=False``. For the client's governor to
    pause every worker on a 429, give it one: ``Client(…, governor=Governor(parallel))``.
    ``max_cost`` (USD): no row is sent whose worst case could pass it (``llmcli.spend``);
    the run then stops (``Stopped``, exit 77). ``tools``: rows offering its tools run
    them (``llmcli.tools.loop``), their lines hold the final replies.
    """
    for group in groups(
        rows,
        client=client,
        parallel=parallel,
        ordered=ordered,
        rpm=rpm,
        tpm=tpm,
        defaults=defaults,
        max_cost=max_cost,
        tools=tools,
    ):
        yield from group


def groups(
    rows: Iterable[str | JSON | Row],
    *,
    client: Client,
    parallel: int = 8,
    ordered: bool = True,
    rpm: float | None = None,
    tpm: float | None = None,
    defaults: Defaults = Defaults(),
    max_cost: float | None = None,
    tools: Toolbox | None = None,
) -> Iterator[list[JSON]]:
    """``run``'s lines in groups of those that were ready together (``batch run`` writes
    a group with one write)."""
    from llmcli.batch import descriptors
    from llmcli.batch.parallel import ordered_map, unordered_map

    descriptors.ensure(parallel)  # a connection for each request in flight
    limits = RateLimits(rpm, tpm) if rpm or tpm else None
    if defaults == Defaults():  # none given: the client's, as the commands take them
        defaults = Defaults.of(client)
    elif defaults.model is None and client.model:  # the client's default model, as chat's
        defaults = dataclasses.replace(defaults, model=client.model)
    mapper = ordered_map if ordered else unordered_map
    todo = rows_of(rows, defaults)
    stop = _Stop(client)
    spend = None
    if max_cost is not None:
        from llmcli.prices import PriceBook
        from llmcli.spend import Spend

        spend = Spend(max_cost, PriceBook(client))
    try:
        from llmcli.batch import engine

        if engine.usable(client):  # one event loop, thousands in flight (opt-in for now)
            yield from engine.groups(
                client,
                todo,
                parallel=parallel,
                ordered=ordered,
                limits=limits,
                stop=stop,
                spend=spend,
                tools=tools,
            )
            return
        for _, line in mapper(
            lambda row: answer(client, row, limits, stop, spend, tools), todo, workers=parallel
        ):
            yield [line]
    finally:  # the workers are done: the client's governor serves the next run
        if stop.message is not None and client.governor is not None:
            client.governor.reopen()
