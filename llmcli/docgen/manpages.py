"""The man pages: ``llmcli.1`` and one ``llmcli-COMMAND.1`` per command.

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
        return r.section("FILES", r.text(f"llmcli {cmd.name} reads no configuration file."))
    return r.section("FILES", *r.item(r.italic(prose.CONFIG_PATH), prose.CONFIG_FILE))


def _see_also(cli: Cli, cmd: Command | None) -> list[str]:
    pages = [("llmcli", "1")] if cmd is not None else []
    pages += [(f"llmcli-{c.name}", "1") for c in cli.commands if c is not cmd]
    pages += [("jq", "1")]
    refs = [f".BR \\%{r.esc(name)} ({sec})," for name, sec in pages]
    refs[-1] = refs[-1].rstrip(",")
    return r.section("SEE ALSO", *refs)


def command_page(cli: Cli, cmd: Command) -> str:
    lines = _header(f"llmcli-{cmd.name}", cmd.summary.rstrip("."))
    lines += r.section("SYNOPSIS", f".B llmcli {cmd.name}", r.metavars(cmd.usage))
    lines += r.section("DESCRIPTION", *r.paragraphs(cmd.description))
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
    lines += r.section("COMMANDS")
    for cmd in cli.commands:
        lines += r.item(r.bold(cmd.name), f"{cmd.summary} See llmcli-{cmd.name}(1).")
    lines += r.section("OPTIONS", *options(root.options))
    sharing = [c for c in cli.commands if cli.common <= {o.name for o in c.options}]
    lines += r.section(
        "COMMON OPTIONS",
        r.text(f"Accepted after the command name by {prose.listing([c.name for c in sharing])}."),
        *options([o for o in sharing[0].options if o.name in cli.common]),
    )
    output = sharing[0].option("--output")
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
    """File name → page, ``llmcli.1`` first."""
    found = {"llmcli.1": overview_page(cli)}
    for cmd in cli.commands:
        found[f"llmcli-{cmd.name}.1"] = command_page(cli, cmd)
    return found
