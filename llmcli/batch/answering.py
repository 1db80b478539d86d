"""One row's answer on the thread engine (``runner.run``), and the pieces the event-loop
engine (``engine``) shares with it: the row's line for a reply or a failure, the 401 stop,
the cost of a sent row, the tool loop of a row that runs tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmcli.batch import results
from llmcli.batch.limits import RateLimits
from llmcli.batch.lines import Row, estimate_tokens
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
