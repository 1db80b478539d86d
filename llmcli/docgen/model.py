"""The command tree as plain values, read from the click command Typer builds.

Every generator works from these values, so a completion script, a man page and
``--help`` can only disagree when this reading is wrong, and the tests check it. What each
option's value is (nothing, one of a ``click.Choice``, a file, a gateway name, anything
else) is decided here, once, for all three shells. A Typer sub-app (``llmcli batch``) is
a command with ``subcommands``, to any depth; its own options are only ``-h/--help``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal

import click
import typer

from llmcli.cli.app import build
from llmcli.cli.options import Common

app = build()  # every command

Kind = Literal["flag", "choice", "file", "gateway", "value"]

#: the first comment of every generated file
HEADER = "Generated from the Typer app by `python -m llmcli.docgen`: do not edit."

#: metavar words that name a file: ``FILE``, ``PATH``, and alternatives like ``PATH|URL``
FILE_METAVARS = frozenset({"FILE", "PATH", "DIR"})
#: a word a shell may take as is: choice values and command names must be such words
_WORD = re.compile(r"[A-Za-z0-9_.+-]+")


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # the parameter's name in the code, e.g. "reasoning_effort"
    names: tuple[str, ...]  # e.g. ("-o", "--output")
    negations: tuple[str, ...]  # the off switch of a flag pair, e.g. ("--no-thinking",)
    kind: Kind
    metavar: str  # as --help shows it; "" for a flag
    choices: tuple[str, ...]
    repeatable: bool
    help: str  # as --help shows it, with its [default: …] and range

    @property
    def takes_value(self) -> bool:
        return self.kind != "flag"

    @property
    def spellings(self) -> tuple[str, ...]:
        return self.names + self.negations


@dataclass(frozen=True, slots=True)
class Argument:
    name: str  # e.g. "PROMPT"
    help: str
    repeatable: bool
    required: bool

    @property
    def kind(self) -> Literal["file", "value"]:
        """A FILE argument completes file names, as a FILE option does."""
        return "file" if FILE_METAVARS & set(self.name.split("|")) else "value"


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # "llmcli" for the top level, else the last word of `path`
    path: tuple[str, ...]  # the words after `llmcli`: ("chat",), ("batch", "run"); () on top
    summary: str  # the one line of `llmcli --help`
    description: tuple[str, ...]  # paragraphs, unwrapped
    examples: tuple[str, ...]  # shell lines from the docstring's "Examples:" block
    notes: tuple[str, ...]  # the lines of the epilog (serve's faults), as --help shows them
    usage: str  # e.g. "[OPTIONS] [PROMPT]..."
    options: tuple[Option, ...]  # in --help order, -h/--help last
    arguments: tuple[Argument, ...]
    subcommands: tuple[Command, ...] = ()  # a group's commands, in --help order

    @property
    def words(self) -> str:
        """What is typed after ``llmcli``: "chat", "batch run"; "" for the top level."""
        return " ".join(self.path)

    @property
    def page(self) -> str:
        """The man page's name: "llmcli-batch-run" (as git-remote, gh-pr-create)."""
        return "-".join(("llmcli", *self.path))

    def option(self, spelling: str) -> Option:
        return next(o for o in self.options if spelling in o.spellings)

    def walk(self) -> tuple[Command, ...]:
        """Every command below this one, each group before its own subcommands."""
        return tuple(c for sub in self.subcommands for c in (sub, *sub.walk()))


@dataclass(frozen=True, slots=True)
class Cli:
    root: Command
    commands: tuple[Command, ...]  # the top-level ones: groups, not their subcommands
    common: frozenset[str]  # names of the options every request command shares

    def walk(self) -> tuple[Command, ...]:
        """Every command: chat, …, batch, batch run, … (groups before their subcommands)."""
        return self.root.walk()


def split_help(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A docstring's paragraphs (unwrapped) and the lines of its ``\\b`` Examples block."""
    paragraphs: list[str] = []
    examples: list[str] = []
    for block in text.strip().split("\n\n"):
        lines = block.strip("\n").splitlines()
        if lines and lines[0].strip() == "\b" and lines[1:2] == ["Examples:"]:
            examples.extend(line.strip() for line in lines[2:] if line.strip())
        elif not examples:
            paragraphs.append(" ".join(line.strip() for line in lines if line.strip() != "\b"))
        else:
            raise ValueError(f"text after the Examples block: {block[:40]!r}")
    return tuple(p for p in paragraphs if p), tuple(examples)


def _kind(param: click.Option, metavar: str) -> Kind:
    if param.is_flag or param.count:
        return "flag"
    if isinstance(param.type, click.Choice):
        return "choice"
    if param.name == "gateway":
        return "gateway"
    if isinstance(param.type, click.Path | click.File) or FILE_METAVARS & set(metavar.split("|")):
        return "file"
    return "value"


def _option(param: click.Option, ctx: click.Context) -> Option:
    record = param.get_help_record(ctx)
    metavar = "" if param.is_flag or param.count else param.make_metavar(ctx)
    choices: tuple[str, ...] = ()
    if isinstance(param.type, click.Choice):
        choices = tuple(str(c) for c in param.type.choices)
        if not all(_WORD.fullmatch(c) for c in choices):
            raise ValueError(f"{param.opts}: choices must be plain words: {choices}")
    return Option(
        name=param.name or "",
        names=tuple(param.opts),
        negations=tuple(param.secondary_opts),
        kind=_kind(param, metavar),
        metavar=metavar,
        choices=choices,
        repeatable=param.multiple or bool(param.count),
        help=record[1] if record else "",
    )


def _owner(path: tuple[str, ...]) -> typer.Typer | None:
    """The Typer app that registered the command at ``path``: llmcli's, or a sub-app's."""
    owner: typer.Typer | None = app
    for word in path[:-1]:
        groups = owner.registered_groups if owner is not None else []
        owner = next((g.typer_instance for g in groups if g.name == word), None)
    return owner


def _argument_help(path: tuple[str, ...]) -> dict[str, str]:
    """Typer 0.25 on click 8.5 drops an argument's ``help``: read it from the signature."""
    from typer.models import ArgumentInfo
    from typer.utils import get_params_from_function

    owner = _owner(path)
    for info in owner.registered_commands if owner is not None and path else []:
        if info.name == path[-1] and info.callback is not None:
            found = get_params_from_function(info.callback)
            return {
                name: p.default.help or ""
                for name, p in found.items()
                if isinstance(p.default, ArgumentInfo)
            }
    return {}


def _command(cmd: click.Command, ctx: click.Context, path: tuple[str, ...]) -> Command:
    """One command and, for a group, its subcommands (hidden ones left out)."""
    description, examples = split_help(cmd.help or "")
    helps = _argument_help(path)
    options: list[Option] = []
    arguments: list[Argument] = []
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Option):
            if not param.hidden:
                options.append(_option(param, ctx))
        elif isinstance(param, click.Argument):
            usage = param.make_metavar(ctx)
            arguments.append(
                Argument(
                    name=re.sub(r"[^A-Z_]", "", usage) or (param.name or "").upper(),
                    help=getattr(param, "help", None) or helps.get(param.name or "", ""),
                    repeatable=param.nargs == -1,
                    required=param.required,
                )
            )
    subcommands = []
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():  # TyperGroup keeps --help's order
            if sub.hidden:
                continue
            if not _WORD.fullmatch(name):
                raise ValueError(f"command name {name!r} is not a plain word")
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            subcommands.append(_command(sub, sub_ctx, (*path, name)))
    return Command(
        name=path[-1] if path else "llmcli",
        path=path,
        summary=cmd.short_help or cmd.get_short_help_str(limit=200),
        description=description,
        examples=examples,
        notes=tuple(line for line in (cmd.epilog or "").splitlines() if line != "\b"),
        usage=" ".join(cmd.collect_usage_pieces(ctx)),
        options=tuple(options),
        arguments=tuple(arguments),
        subcommands=tuple(subcommands),
    )


def load() -> Cli:
    """The whole command tree, in the order ``llmcli --help`` lists it."""
    group = typer.main.get_command(app)
    if not isinstance(group, click.Group):
        raise TypeError("the llmcli app is not a group of commands")
    root_ctx = click.Context(group, info_name="llmcli", **group.context_settings)
    root = _command(group, root_ctx, ())
    return Cli(
        root=root,
        commands=root.subcommands,
        common=frozenset(f.name for f in dataclasses.fields(Common)),
    )
