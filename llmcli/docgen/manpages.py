"""The man pages: ``llmcli.1`` and one ``llmcli-COMMAND.1`` per command.

A group gets a page of its own that lists its commands (``llmcli-batch.1``), and each of
them a page named by its whole path (``llmcli-batch-run.1``), as ``gh`` (gh-pr-create(1))
and ``git`` (git-*(1), one page per thing a user types) do: ``man llmcli-batch-run`` then
shows exactly what ``llmcli batch run --help`` does, with the options of that command
alone, however many commands the group grows.

Options come from the command tree (their help as ``--help`` prints it), DESCRIPTION and
EXAMPLES from each command's docstring, the exit status table from ``llmcli.errors``, the
config file's shape from ``llmcli.config.file``'s docstring; only what has no other home
(the environment, the output formats) is written here, in ``llmcli.docgen.prose``.
"""

from __future__ import annotations

from llmcli.docgen import prose
from llmcli.docgen import roff as r
from llmcli.docgen.model import HEADER, Cli, Command, Option
from llmcli.errors import EXIT_STATUS
from llmcli.version import __version__

#: The manual's date. Not the clock's, so that regenerating changes nothing: move it
#: when the pages change for a release.
DATE = "2026-11-22"


def _header(name: str, summary: str) -> list[str]:
    return [
        f'.\\" {HEADER}',
        f".TH {r.esc(name.upper())} 1 {DATE} {r.quoted(f'llmcli {__version__}')} "
        f"{r.quoted('llmcli manual')}",
        ".nh",  # no hyphens inserted into option names, file names and URLs
        ".ad l",
        *r.section("NAME", r.fill(f"{r.esc(name)} \\- {r.esc(summary[:1].lower() + summary[1:])}")),
    ]


def _term(opt: Option) -> str:
    term = ", ".join(r.bold(s) for s in opt.spellings)
    if opt.kind == "choice":
        return term + " " + "|".join(r.bold(c) for c in opt.choices)
    if opt.takes_value:
        return term + " " + r.italic(opt.metavar)
    return term


def options(opts: tuple[Option, ...] | list[Option]) -> list[str]:
    lines: list[str] = []
    for opt in opts:
        lines += r.item(_term(opt), opt.help)
    return lines


def _exit_status() -> list[str]:
    lines = r.section("EXIT STATUS")
    for code, meaning in EXIT_STATUS:
        lines += r.item(f"\\fB{code}\\fR", meaning)
    return lines


def _environment(cmd: Command | None) -> list[str]:
    lines = r.section("ENVIRONMENT")
    for name, scope, meaning in prose.environment():
        if cmd is None or prose.applies(scope, cmd):
            lines += r.item(r.bold(name), meaning)
    return lines


def _files(cmd: Command | None) -> list[str]:
    if cmd is not None and not prose.applies("config", cmd):
        return r.section("FILES", r.text(f"llmcli {cmd.words} reads no configuration file."))
    return r.section("FILES", *r.item(r.italic(prose.CONFIG_PATH), prose.CONFIG_FILE))


def _family(cli: Cli, cmd: Command) -> list[Command]:
    """The groups above a command, its own subcommands, then its siblings."""
    above, parent = [], cli.root
    for word in cmd.path[:-1]:
        parent = next(c for c in parent.subcommands if c.name == word)
        above.append(parent)
    return [*above, *cmd.subcommands, *(c for c in parent.subcommands if c is not cmd)]


def _see_also(cli: Cli, cmd: Command | None) -> list[str]:
    if cmd is None:
        pages = [c.page for c in cli.walk()]
    else:
        pages = ["llmcli", *(c.page for c in _family(cli, cmd))]
    refs = [f".BR \\%{r.esc(name)} (1)," for name in [*pages, "jq"]]
    refs[-1] = refs[-1].rstrip(",")
    return r.section("SEE ALSO", *refs)


def _commands(cmds: tuple[Command, ...], words: bool) -> list[str]:
    """One item per command: its name (or whole path), summary and page."""
    lines: list[str] = []
    for cmd in cmds:
        name = cmd.words if words else cmd.name
        lines += r.item(r.bold(name), f"{cmd.summary} See {cmd.page}(1).")
    return lines


def _synopsis(cmd: Command) -> list[str]:
    """A command's usage; a group's, then that of each command in it (as git-remote(1))."""
    lines = [f".B llmcli {r.esc(cmd.words)}", r.metavars(cmd.usage)]
    for sub in cmd.walk():
        if not sub.subcommands:
            lines += [".br", f".B llmcli {r.esc(sub.words)}", r.metavars(sub.usage)]
    return lines


def command_page(cli: Cli, cmd: Command) -> str:
    """The page of a command, or of a group: then with COMMANDS and its own -h only."""
    lines = _header(cmd.page, cmd.summary.rstrip("."))
    lines += r.section("SYNOPSIS", *_synopsis(cmd))
    lines += r.section("DESCRIPTION", *r.paragraphs(cmd.description))
    if cmd.subcommands:
        lines += r.section("COMMANDS", *_commands(cmd.subcommands, words=False))
    lines += r.section("OPTIONS")
    for arg in cmd.arguments:
        lines += r.item(r.italic(arg.name) + ("..." if arg.repeatable else ""), arg.help)
    lines += options(cmd.options)
    if cmd.notes:
        lines += r.section("NOTES", *r.example(cmd.notes))
    lines += _exit_status() + _environment(cmd) + _files(cmd)
    lines += r.section("EXAMPLES", *r.example(cmd.examples))
    lines += _see_also(cli, cmd)
    return "\n".join(lines) + "\n"


def _takes_common(cli: Cli, cmd: Command, but: frozenset[str] = frozenset()) -> bool:
    return cli.common - but <= {o.name for o in cmd.options}


def _common_options(cli: Cli, first: Command) -> list[str]:
    """Which commands take the shared flags: all of them, or all but -o FORMAT (batch run,
    whose -o names the file its results are appended to)."""
    output = first.option("--output")
    leaves = [c for c in cli.walk() if not c.subcommands]
    every = [c.words for c in leaves if _takes_common(cli, c)]
    most = [
        c.words
        for c in leaves
        if c.words not in every and _takes_common(cli, c, frozenset({output.name}))
    ]
    said = f"Accepted after the command name by {prose.listing(every)}"
    if most:
        said += f"; all but {'/'.join(output.names)} by {prose.listing(most)}"
    return r.section(
        "COMMON OPTIONS",
        r.text(said + "."),
        *options([o for o in first.options if o.name in cli.common]),
    )


def overview_page(cli: Cli) -> str:
    root = cli.root
    lines = _header("llmcli", root.summary.rstrip("."))
    root_flags = " | ".join(r.bold(s) for o in root.options for s in o.spellings)
    lines += r.section(
        "SYNOPSIS",
        ".B llmcli",
        r.metavars("COMMAND [OPTIONS] [ARGS]..."),
        ".br",
        ".B llmcli",
        f"[{root_flags}]",
    )
    lines += r.section("DESCRIPTION", *r.paragraphs(root.description))
    lines += r.section("COMMANDS", *_commands(cli.walk(), words=True))
    lines += r.section("OPTIONS", *options(root.options))
    first = next(c for c in cli.walk() if _takes_common(cli, c))
    lines += _common_options(cli, first)
    output = first.option("--output")
    lines += r.section("OUTPUT", r.text(prose.OUTPUT))
    for fmt in output.choices:
        lines += r.item(r.bold(fmt), prose.OUTPUT_FORMATS[fmt])
    lines += r.section("CONFIGURATION", *r.paragraphs(prose.CONFIGURATION))
    lines += [".PP", *r.example(prose.config_example())]
    lines += [".PP", r.text(prose.config_notes())]
    lines += _exit_status() + _environment(None) + _files(None)
    lines += r.section("EXAMPLES", *r.example(root.examples))
    lines += _see_also(cli, None)
    return "\n".join(lines) + "\n"


def pages(cli: Cli) -> dict[str, str]:
    """File name → page, ``llmcli.1`` first, then every command's, subcommands included."""
    found = {"llmcli.1": overview_page(cli)}
    for cmd in cli.walk():
        found[f"{cmd.page}.1"] = command_page(cli, cmd)
    return found
