"""The flags of tools that run (``--tool-cmd``, ``--mcp``, ``--approve``, ``--max-steps``,
``--tool-timeout``, ``--tool-output-max``), shared by chat, stream, messages and
responses, and the ``Toolbox`` they make."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmcli.errors import UsageError

if TYPE_CHECKING:
    from llmcli.tools.loop import Toolbox

MIB = 1 << 20


@dataclasses.dataclass(frozen=True, slots=True)
class ToolFlags:
    """Tools that run, and who says they may."""

    tool_cmd: Annotated[
        list[str] | None,
        typer.Option(
            "--tool-cmd",
            metavar="NAME=COMMAND",
            help="Run the declared tool NAME as COMMAND (no shell; the call's arguments as "
            "JSON on its stdin, its stdout the result); repeatable.",
        ),
    ] = None
    mcp: Annotated[
        list[str] | None,
        typer.Option(
            "--mcp",
            metavar="'COMMAND ARGS'|URL",
            help="Offer an MCP server's tools (stdio command or streamable HTTP URL; needs "
            "llmcli[mcp]); repeatable.",
        ),
    ] = None
    approve: Annotated[
        list[str] | None,
        typer.Option(
            "--approve",
            metavar="NAME|all",
            help="Run calls to this tool without asking; repeatable. Else asked on the "
            "terminal; with none, nothing runs: the calls are printed, exit 77.",
        ),
    ] = None
    max_steps: Annotated[
        int,
        typer.Option(
            "--max-steps",
            metavar="N",
            min=1,
            help="Most requests of a run with tools (a batch row: its own); reaching it exits 75.",
        ),
    ] = 10
    tool_timeout: Annotated[
        float,
        typer.Option(
            "--tool-timeout", metavar="S", min=0.001, help="Time limit of one tool call (s)."
        ),
    ] = 60.0
    tool_output_max: Annotated[
        int,
        typer.Option(
            "--tool-output-max",
            metavar="BYTES",
            min=1,
            help="Most bytes of a tool's output sent back; the rest is cut with a note.",
        ),
    ] = MIB

    @property
    def active(self) -> bool:
        return bool(self.tool_cmd or self.mcp)


def _bindings(flags: ToolFlags) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for item in flags.tool_cmd or []:
        name, sep, command = item.partition("=")
        if not sep or not name.strip() or not command.strip():
            raise UsageError(f"--tool-cmd {item!r}: expected NAME=COMMAND")
        found.append((name.strip(), command))
    names = [n for n, _ in found]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise UsageError(f"--tool-cmd {twice[0]}: bound twice")
    return found


def check(flags: ToolFlags) -> None:
    """What the flags say on their own, checked before anything is read or sent."""
    if not flags.active and flags.approve:
        raise UsageError("--approve: no tool runs here: give --tool-cmd NAME=COMMAND or --mcp")
    _bindings(flags)


@contextmanager
def toolbox(
    flags: ToolFlags,
    api: str,
    body: dict[str, Any],
    secrets: tuple[str, ...],
    log: Callable[[str], None] | None,
    dry_run: bool,
    batch: bool = False,
) -> Iterator[Toolbox | None]:
    """The toolbox the flags make for ``body`` (None without tools that run); MCP
    servers are started for it and stopped after (not for a dry run: nothing runs).
    ``batch``: for the rows of ``batch run``, which declare their own tools; nobody is
    asked on a terminal there (many rows at once): only ``--approve`` approves."""
    if not flags.active:
        yield None
        return
    with _tools_end_on_sigterm():
        yield from _made(flags, api, body, secrets, log, dry_run, batch)


@contextmanager
def _tools_end_on_sigterm() -> Iterator[None]:
    """SIGTERM (``timeout``, a CI job cancelled) unwinds as ^C does, so the tools that
    run are ended: they run in sessions of their own, which no signal to llmcli reaches."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum: int, frame: object) -> None:
        raise SystemExit(128 + signal.SIGTERM)

    before = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _made(
    flags: ToolFlags,
    api: str,
    body: dict[str, Any],
    secrets: tuple[str, ...],
    log: Callable[[str], None] | None,
    dry_run: bool,
    batch: bool,
) -> Iterator[Toolbox]:
    from llmcli.protocol import tool_turns
    from llmcli.tools.approval import Approval, terminal
    from llmcli.tools.command import CommandTool, split
    from llmcli.tools.loop import Toolbox

    declared = tool_turns.offered(api, body)
    tools: dict[str, Any] = {}
    for name, command in _bindings(flags):
        if name not in declared and not batch:
            raise UsageError(
                f"--tool-cmd {name}: no tool {name!r} is declared: declare it with --tool "
                f"{name}=SCHEMA_FILE or --tools FILE"
            )
        argv = tuple(split(name, command))
        tools[name] = CommandTool(name, argv, flags.tool_timeout, flags.tool_output_max, secrets)
    approved = flags.approve or []
    box = Toolbox(tools, Approval.of(approved, None), secrets=secrets, log=log)
    box.max_steps = flags.max_steps

    def ask() -> Any:
        return None if batch or box.approval.everything else terminal(secrets)

    if dry_run or not flags.mcp:
        if not flags.mcp:
            _check_approved(approved, box)
        box.approval = Approval.of(approved, ask())
        yield box
        return
    from llmcli.tools.mcp import Servers

    with Servers(flags.mcp, flags.tool_timeout, flags.tool_output_max, secrets) as servers:
        for spec, call in servers.tools():
            name = spec["name"]
            if name in tools or name in declared:
                raise UsageError(
                    f"--mcp: tool {name!r} is offered twice (an MCP server and "
                    "--tool-cmd/--tools, or two servers)"
                )
            tools[name] = call
            box.specs.append(spec)
        _check_approved(approved, box)
        box.approval = Approval.of(approved, ask())
        yield box


def _check_approved(approved: list[str], box: Toolbox) -> None:
    """``--approve NAME`` names a tool that runs (a typo would approve nothing)."""
    for name in approved:
        if name != "all" and name not in box.tools:
            raise UsageError(f"--approve {name}: no tool {name!r} runs here")
