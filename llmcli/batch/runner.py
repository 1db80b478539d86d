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
from llmcli.batch.limits import RateLimits
from llmcli.batch.lines import Defaults, Row, estimate_tokens, from_object, parse, shard_of
from llmcli.errors import (
    LlmcliError,
    NotAllowedError,
    ProtocolError,
    ReplayMiss,
    TemporaryError,
    UnavailableError,
    UsageError,
)
from llmcli.http.governor import Halted
from llmcli.spend import OverBudget

if TYPE_CHECKING:
    from llmcli.client import Client
    from llmcli.spend import Spend
    from llmcli.tools.loop import Toolbox

JSON = dict[str, Any]


class Stopped(NotAllowedError):
    """A 401/402/403 stopped the run."""


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


class _Stop:
    """Whether a 401/402/403 stopped the run, shared by its workers: once one has, no
    row is sent any more, even one waiting out a pause or a backoff (``Governor.halt``)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.message: str | None = None

    def halted(self) -> bool:
        return self.message is not None

    def check(self) -> None:
        if self.message is not None:
            raise Stopped(self.message)

    def stop(self, message: str) -> None:
        if self.message is None:
            self.message = message
        if self.client.governor is not None:
            self.client.governor.halt()


def answer(
    client: Client,
    row: Row,
    limits: RateLimits | None = None,
    stop: _Stop | None = None,
    spend: Spend | None = None,
    tools: Toolbox | None = None,
) -> JSON:
    """One row's output line. Raises ``Stopped`` on 401/402/403, when the row could pass
    ``--max-cost`` (``spend``), and for every row whose turn came after one of them
    (``stop``). A row that offers tools the run can run (``tools``) goes through the tool
    loop: its line holds the final reply."""
    if row.problem is not None:
        return results.failed(row.custom_id, "invalid_request", row.problem)
    try:  # the gateway's default params below the row's own, as for every command
        body = client.body(row.endpoint, row.body)
        request = client.request("POST", row.endpoint, body)
    except LlmcliError as e:  # an endpoint the gateway lacks: this row cannot go
        return results.failed(row.custom_id, _code(e), e.message)
    looped = tools is not None and _runs_tools(tools, row.endpoint, body)
    kept = client.cached(request) if not looped else None
    if kept is not None:  # --cache: asked before; nothing is sent, nothing counted
        from llmcli.http.failures import request_id

        return results.answered(
            row.custom_id, kept.status, request_id(kept.headers), results.body_of(kept.body)
        )
    if limits is not None:
        limits.acquire(estimate_tokens(row))
    if stop is not None:
        stop.check()
    if tools is not None and looped:
        return _looped(client, row, body, tools, _Step(limits, stop, spend))
    worst = 0.0
    if spend is not None:
        try:
            worst = spend.worst(body, len(request.body or b""))
        except UsageError as e:  # no bound or no price: never sent
            problem = f"line {row.line}: {e.message}"
            return results.failed(row.custom_id, "invalid_request", problem)
        try:
            spend.reserve(worst)
        except OverBudget as e:
            if stop is not None:
                stop.stop(e.message)
            raise Stopped(e.message) from None
    try:
        line = _sent(client, row, request, stop)
    except BaseException:
        if spend is not None:
            spend.settle(worst, None)  # it may have been billed: counted at its worst
        raise
    if spend is not None:
        spend.settle(worst, _cost_of(spend, line, body))
    return line


def _cost_of(spend: Spend, line: JSON, body: JSON) -> float | None:
    """What a sent row cost: its reported or priced cost; 0 for an error answer without
    one (not billed); None (counted at its worst) when nothing says."""
    response = line.get("response")
    if not isinstance(response, dict):
        return None  # no answer: it may have been billed
    answer = response.get("body")
    usage = answer.get("usage") if isinstance(answer, dict) else None
    cost = spend.book.cost(usage, (body.get("model"),))[0] if usage is not None else None
    status = response.get("status_code")
    if cost is None and isinstance(status, int) and status >= 400:
        return 0.0
    return cost


def _sent(client: Client, row: Row, request: Any, stop: _Stop | None) -> JSON:
    """The output line of a row's request, sent."""
    try:
        reply = client.send(request, halted=None if stop is None else stop.halted)
    except (LlmcliError, Halted) as e:
        return _error_line(row, e, stop)
    from llmcli.http.failures import request_id

    line = results.answered(
        row.custom_id, reply.status, request_id(reply.headers), results.body_of(reply.body)
    )
    if results.succeeded(line):  # --cache: not a 200 that carries an error
        client.keep(request, reply)
    return line


def _error_line(row: Row, error: LlmcliError | Halted, stop: _Stop | None) -> JSON:
    """The output line of a row whose request failed; raises ``Stopped`` on 401/402/403
    (and when the run was stopped), and on a replay without the row's recording."""
    if isinstance(error, Halted):
        raise Stopped(stop.message if stop is not None and stop.message else "stopped") from None
    if isinstance(error, ReplayMiss):
        raise error  # a replay without this recording: the run stops (exit 69)
    if error.status in (401, 402, 403):
        if stop is not None:
            stop.stop(error.message)
        raise Stopped(error.message) from None
    if error.status is not None:
        body = results.body_of(error.body or b"")
        return results.answered(row.custom_id, error.status, error.request_id, body)
    return results.failed(row.custom_id, _code(error), error.message)


def _runs_tools(tools: Toolbox, endpoint: str, body: JSON) -> bool:
    """Whether a row offers a tool this run can run (or the run offers its own)."""
    if endpoint not in ("chat", "messages", "responses"):
        return False
    from llmcli.protocol import tool_turns

    return bool(tools.specs) or any(n in tools.tools for n in tool_turns.offered(endpoint, body))


@dataclass(slots=True)
class _Step:
    """What each request of a row's tool loop goes through, as a row's one request does:
    the rate limits, the run's stop, the cost cap."""

    limits: RateLimits | None
    stop: _Stop | None
    spend: Spend | None
    sent: int = 0

    def send(self, client: Client, row: Row, body: JSON) -> JSON:
        from llmcli.http.request import parse_reply

        request = client.request("POST", row.endpoint, body)
        if self.limits is not None and self.sent:  # the first was counted with the row
            self.limits.acquire(len(request.body or b"") // 4 + (_most(body) or 0))
        if self.stop is not None:
            self.stop.check()
        worst = 0.0
        if self.spend is not None:
            worst = self.spend.worst(body, len(request.body or b""))  # UsageError: no bound
            try:
                self.spend.reserve(worst)
            except OverBudget as e:
                if self.stop is not None:
                    self.stop.stop(e.message)
                raise Stopped(e.message) from None
        self.sent += 1
        try:
            reply = client.send(request, halted=None if self.stop is None else self.stop.halted)
        except BaseException:
            if self.spend is not None:
                self.spend.settle(worst, None)  # it may have been billed: at its worst
            raise
        parsed: JSON = parse_reply(reply.body, request)
        from llmcli.protocol.error_objects import carried_error

        if carried_error(parsed) is None:  # --cache: an answer, not an error in a 200
            client.keep(request, reply)
        if self.spend is not None:
            usage = parsed.get("usage") if isinstance(parsed, dict) else None
            cost = self.spend.book.cost(usage, (body.get("model"),))[0] if usage else None
            self.spend.settle(worst, cost)
        return parsed


def _most(body: JSON) -> int | None:
    most = body.get("max_tokens") or body.get("max_completion_tokens")
    most = most or body.get("max_output_tokens")
    return most if isinstance(most, int) else None


def _looped(client: Client, row: Row, body: JSON, tools: Toolbox, step: _Step) -> JSON:
    """A row through the tool loop: each step one request (paced, capped and stopped
    as any row's), the calls run as the run's flags approved them (a batch never asks
    on a terminal), the final reply its line. A row stopped at a later step is sent from
    its start again by ``--resume``: its tools run again."""
    from llmcli.tools.loop import Loop, StepsReached, ToolsPending

    try:
        final = Loop(row.endpoint, tools, lambda b: step.send(client, row, b)).run(body)
    except ToolsPending as e:
        names = [c.name for c in e.calls if not tools.approval.given(c.name)]
        problem = (
            f"line {row.line}: tool calls not approved ({', '.join(dict.fromkeys(names))}): "
            "nothing ran; --resume with --approve NAME runs them"
        )
        return results.failed(row.custom_id, "tool_not_approved", problem)
    except StepsReached as e:
        return results.failed(row.custom_id, "max_steps", f"line {row.line}: {e.message}")
    except UsageError as e:  # --max-cost without a bound or a price: not sent
        return results.failed(row.custom_id, "invalid_request", f"line {row.line}: {e.message}")
    except (LlmcliError, Halted) as e:
        return _error_line(row, e, step.stop)
    return results.answered(row.custom_id, 200, "", final)


def _code(error: LlmcliError) -> str:
    if isinstance(error, TemporaryError):
        return "timeout"
    if isinstance(error, UnavailableError):
        return "connection_error"
    if isinstance(error, ProtocolError):
        return "protocol_error"
    # a row the gateway cannot take (no such endpoint: 78) is no temporary failure either
    return "invalid_request" if error.exit_code in (2, 65, 66, 78) else "error"


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
            yield from engine.lines(
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
            yield line
    finally:  # the workers are done: the client's governor serves the next run
        if stop.message is not None and client.governor is not None:
            client.governor.reopen()
