"""The tool loop: send, run the calls the model asks for (approved ones, in parallel),
send their results, until a reply asks for none or ``max_steps`` requests went out.

The loop knows no HTTP and no command line: ``send`` is one request (a body in, the
reply out), so the commands (which print each reply as it arrives), the library and the
batch runner share it. What a run added to the conversation is kept in ``turns`` (and the
results that answered calls a conversation arrived with, in ``before``), so a conversation
file records it whether the run ends with an answer or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmcli.errors import NotAllowedError, TemporaryError
from llmcli.protocol import tool_turns
from llmcli.protocol.tool_turns import Call, Result
from llmcli.redaction import redact
from llmcli.tools import command
from llmcli.tools.approval import Approval, shown
from llmcli.tools.command import Outcome

JSON = dict[str, Any]
Tool = Callable[[str], Outcome]  # a call's arguments in, what it gave back out
MAX_PARALLEL = 16  # calls of one reply run at once
LOGGED = 200  # characters of a result -v shows


class ToolsPending(NotAllowedError):
    """Calls nobody approved, with no one to ask: nothing ran (exit 77). ``reply``: the
    reply that made them (None: a conversation ended with them)."""

    def __init__(
        self, message: str, calls: Sequence[Call], reply: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.calls = list(calls)
        self.reply = dict(reply) if reply is not None else None


class StepsReached(TemporaryError):
    """``max_steps`` requests went out and the model still asks for tools (exit 75)."""

    def __init__(self, message: str, reply: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.reply = dict(reply)


@dataclass(slots=True)
class Toolbox:
    """The tools that run, who approves them, and how long the loop may go on.
    ``specs``: declarations ``{name, description, input_schema}`` the loop adds to the
    body (MCP tools, library callables); tools declared by the body itself are bound by
    name only."""

    tools: dict[str, Tool]
    approval: Approval
    specs: list[JSON] = field(default_factory=list)
    max_steps: int = 10
    secrets: tuple[str, ...] = ()
    log: Callable[[str], None] | None = None  # -v: each call, its time and result

    def offer(self, api: str, body: Mapping[str, Any]) -> JSON:
        """The body with the declared tools added (a name it already offers is kept)."""
        have = set(tool_turns.offered(api, body))
        extra = [s for s in self.specs if s.get("name") not in have]
        if not extra:
            return dict(body)
        existing = body.get("tools")
        tools = list(existing) if isinstance(existing, list) else []
        return {**body, "tools": [*tools, *tool_turns.declare(api, extra)]}

    def run(self, calls: Sequence[Call], offered: Sequence[str]) -> list[Result]:
        """Every call answered: approved ones run (in parallel), the others get an error
        result saying why. ``ToolsPending`` when one needs approval nobody can give."""
        decided: list[Result | None] = []
        pending = False
        for call in calls:
            refusal = self._refusal(call, offered)
            if refusal is None and not self.approval.given(call.name):
                if self.approval.ask is None:
                    pending = True
                elif not self.approval.ask(call):
                    refusal = f"the user declined to run tool {call.name}"
            decided.append(None if refusal is None else Result(call, refusal, error=True))
        if pending:
            waiting = [c.name for c in calls if not self.approval.given(c.name)]
            names = ", ".join(dict.fromkeys(waiting))
            raise ToolsPending(
                f"tool calls not approved ({names}): nothing ran; pass --approve NAME (or "
                "--approve all), or run where llmcli can ask on a terminal",
                calls,
            )
        todo = [c for c, r in zip(calls, decided, strict=True) if r is None]
        if todo:
            pool = ThreadPoolExecutor(min(len(todo), MAX_PARALLEL))
            try:
                ran = iter(list(pool.map(self._call, todo)))
            except BaseException:  # ^C, SIGTERM: what runs is ended, not waited for
                command.end_all()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown()
            decided = [r if r is not None else next(ran) for r in decided]
        return [r for r in decided if r is not None]

    def _refusal(self, call: Call, offered: Sequence[str]) -> str | None:
        """Why a call cannot run at all, or None."""
        if call.name not in offered:
            return f"tool {call.name!r} was not offered: nothing ran"
        if call.name not in self.tools:
            return f"tool {call.name!r} has nothing to run it here (no --tool-cmd or --mcp)"
        if not call.custom:
            try:
                orjson.loads(call.arguments or "{}")
            except orjson.JSONDecodeError as e:
                return f"tool {call.name}: the arguments are not valid JSON ({e.msg}): nothing ran"
        return None

    def _call(self, call: Call) -> Result:
        started = time.monotonic()
        try:
            outcome = self.tools[call.name](call.arguments or ("" if call.custom else "{}"))
        except Exception as e:  # a library callable's failure goes back to the model
            outcome = Outcome(f"tool {call.name} failed: {type(e).__name__}: {e}", True)
        if self.secrets:  # a tool that found the key some other way does not pass it on
            outcome = Outcome(redact(outcome.text, self.secrets), outcome.error)
        if self.log is not None:
            took = time.monotonic() - started
            said = outcome.text[:LOGGED].replace("\n", "\\n")
            more = "…" if len(outcome.text) > LOGGED else ""
            failed = " (error)" if outcome.error else ""
            self.log(
                f"tool {shown(call, self.secrets)} -> {len(outcome.text)} characters in "
                f"{took:.2f} s{failed}: {said}{more}"
            )
        return Result(call, outcome.text, outcome.error)


@dataclass(slots=True)
class Loop:
    """One run of the loop over ``send``; ``turns``/``before`` what it added."""

    api: str
    toolbox: Toolbox
    send: Callable[[JSON], JSON]
    on_results: Callable[[list[Result]], None] = lambda results: None
    #: what the conversation keeps of a reply (default: the dialect's assistant turn)
    recorded: Callable[[JSON], list[JSON]] | None = None
    turns: list[JSON] = field(default_factory=list)
    before: list[JSON] = field(default_factory=list)
    steps: int = 0

    def run(self, body: Mapping[str, Any], given: tuple[list[Call], int] | None = None) -> JSON:
        """The final reply. ``given``: the calls a conversation left unanswered and
        where their results go, when the body alone does not show them (a Responses
        body continued on the server); else they are read from the body."""
        body = self.toolbox.offer(self.api, body)
        offered = tool_turns.offered(self.api, body)
        waiting, where = given or tool_turns.unanswered(self.api, body)
        if waiting:  # a conversation stopped at a call: answer it first
            results = self.toolbox.run(waiting, offered)
            self.on_results(results)
            self.before = tool_turns.result_turn(self.api, results)
            body = tool_turns.answer_unanswered(self.api, body, where, results)
        while True:
            reply = self.send(body)
            self.steps += 1
            calls = tool_turns.calls(self.api, reply)
            keep = self.recorded or (lambda r: tool_turns.assistant_turn(self.api, r))
            self.turns.extend(keep(reply))
            if not calls:
                return reply
            if self.steps >= self.toolbox.max_steps:
                raise StepsReached(
                    f"--max-steps {self.toolbox.max_steps} reached: the model still calls "
                    "tools; continue with -c FILE (the calls run first), or raise --max-steps",
                    reply,
                )
            try:
                results = self.toolbox.run(calls, offered)
            except ToolsPending as e:
                e.reply = dict(reply)
                raise
            self.on_results(results)
            self.turns.extend(tool_turns.result_turn(self.api, results))
            body = tool_turns.answered(self.api, body, reply, results)
