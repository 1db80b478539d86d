"""Man pages and --help: valid roff, every option and exit status, one source of examples.

Pages are rendered by groff with every warning on (and by ``mandoc -T lint`` where it is
installed): any message fails. What ``llmcli CMD --help`` prints is compared with the page
of that command, so neither can lose an option or an example the other has. A group
(``llmcli batch``) has a page listing its commands, and each of them its own page
(``llmcli-batch-run.1``), checked like any other command's.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import clean_env, llmcli

from llmcli import errors

with warnings.catch_warnings():  # typer 0.25 imports names click 8.5 deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    from llmcli.docgen import roff
    from llmcli.docgen.model import load, split_help

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "man"
#: every command as typed after `llmcli`, in --help order, each group before its commands
COMMANDS = [
    "chat",
    "stream",
    "messages",
    "responses",
    "models",
    "embed",
    "gateways",
    "serve",
    "batch",
    "batch run",
    "batch submit",
    "batch status",
    "batch fetch",
    "batch cancel",
    "batch list",
    "templates",
    "templates show",
    "mcp",
    "mcp list-tools",
]
BATCH = ["run", "submit", "status", "fetch", "cancel", "list"]
GROUPS = {
    "": [c for c in COMMANDS if " " not in c],
    "batch": BATCH,
    "templates": ["show"],
    "mcp": ["list-tools"],
}
PAGES = ["llmcli.1", *(f"{'-'.join(['llmcli', *c.split()])}.1" for c in COMMANDS)]
SECTIONS = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    '"EXIT STATUS"',
    "ENVIRONMENT",
    "FILES",
    "EXAMPLES",
    '"SEE ALSO"',
]
ENVIRONMENT = [
    "LLMCLI_GATEWAY",
    "LLMCLI_BASE_URL",
    "LLMCLI_MODEL",
    "LLMCLI_API_KEY",
    "LLMCLI_CONFIG",
    "LLMCLI_EMBEDDING_MODEL",
    "LLMCLI_DEBUG",
    "XDG_CONFIG_HOME",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "NO_COLOR",
]


def page(name: str) -> str:
    return (MAN / name).read_text(encoding="ascii")  # anything else is escaped


def page_of(command: str) -> str:
    """The page of a command as typed: "batch run" -> llmcli-batch-run.1."""
    return page("-".join(["llmcli", *command.split()]) + ".1")


@functools.cache
def help_text(*args: str) -> str:
    r = llmcli(*(w for a in args for w in a.split()), "--help", env={"COLUMNS": "80"})
    assert (r.code, r.err) == (0, "")
    return r.text


def help_commands(text: str) -> list[tuple[str, str]]:
    """(name, summary) of each line of a group's Commands list."""
    listed = text.split("\nCommands:\n", 1)[1].splitlines()
    return [(name, summary) for name, summary in (line.split(None, 1) for line in listed)]


def section(text: str, title: str) -> str:
    return text.split(f"\n.SH {title}\n", 1)[1].split("\n.SH ", 1)[0]


def flat(text: str) -> str:
    """Roff text with its lines joined: what a check should not care how it is filled."""
    return " ".join(text.split())


def help_options(text: str) -> set[str]:
    """Every spelling in the left column of an Options list of --help."""
    found: set[str] = set()
    options = text.split("\nOptions:\n", 1)[1].split("\n\n", 1)[0]
    for line in options.splitlines():
        if line.startswith("  -"):
            left = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            found.update(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", left))
    return found


def help_examples(text: str) -> list[str]:
    block = text.split("\n  Examples:\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in block.splitlines()]


# --- rendering ------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("name", PAGES)
def test_groff_renders_without_a_warning(name: str) -> None:
    done = subprocess.run(
        ["groff", "-man", "-ww", "-z", str(MAN / name)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.skipif(shutil.which("mandoc") is None, reason="mandoc is not installed")
def test_mandoc_lint_is_silent() -> None:
    done = subprocess.run(
        ["mandoc", "-T", "lint", *(str(MAN / name) for name in PAGES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def man(name: str) -> str:
    done = subprocess.run(
        ["man", "-l", str(MAN / name)],
        capture_output=True,
        text=True,
        env=clean_env({"MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"}),
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_shows_the_batch_run_page() -> None:
    shown = man("llmcli-batch-run.1")
    assert "\n       llmcli-batch-run - " in shown
    assert "\n       llmcli batch run [OPTIONS] [FILE]\n" in shown
    assert "\n       -o, --output FILE\n" in shown  # a file here, not -o FORMAT
    assert "\n       FILE   JSONL input; stdin when absent or '-'.\n" in shown


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_shows_the_batch_page_with_its_commands() -> None:
    shown = man("llmcli-batch.1")
    assert "llmcli-batch - many requests from JSONL" in shown
    assert "\n       llmcli batch [OPTIONS] COMMAND [ARGS]...\n" in shown
    assert "\n       llmcli batch run [OPTIONS] [FILE]\n" in shown
    commands = shown.split("\nCOMMANDS\n", 1)[1].split("\nOPTIONS\n", 1)[0]
    assert commands.lstrip().startswith("run    ")
    assert "See llmcli-batch-run(1)." in " ".join(commands.split())


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_shows_the_stream_page() -> None:
    done = subprocess.run(
        ["man", "-l", str(MAN / "llmcli-stream.1")],
        capture_output=True,
        text=True,
        env=clean_env({"MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"}),
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "llmcli-stream - send a prompt" in done.stdout
    assert "--reasoning-effort none|minimal|low|medium|high|xhigh" in done.stdout


# --- content --------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_every_page_has_every_section(name: str) -> None:
    text = page(name)
    titles = re.findall(r"^\.SH (.+)$", text, flags=re.M)
    assert [t for t in titles if t in SECTIONS] == SECTIONS
    assert text.startswith('.\\" Generated from the Typer app')


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_of_help_is_in_the_page(command: str) -> None:
    text = page_of(command)
    options = help_options(help_text(command))
    assert {"-h", "--help"} <= options
    for option in options:
        assert f"\\fB{roff.esc(option)}\\fR" in section(text, "OPTIONS"), option


def test_every_top_level_option_is_in_the_overview() -> None:
    options = help_options(help_text())
    assert {"-V", "--version", "-h", "--help"} <= options
    for option in options:
        assert f"\\fB{roff.esc(option)}\\fR" in section(page("llmcli.1"), "OPTIONS")


@pytest.mark.parametrize("name", PAGES)
def test_exit_status_lists_every_code(name: str) -> None:
    listed = [
        int(c)
        for c in re.findall(
            r"^\.TP\n\\fB(\d+)\\fR$", section(page(name), '"EXIT STATUS"'), flags=re.M
        )
    ]
    raised = {0, 1, errors.EXIT_INTERRUPTED, errors.EXIT_PIPE}
    stack: list[type[errors.LlmcliError]] = [errors.LlmcliError]
    while stack:
        cls = stack.pop()
        raised.add(cls.exit_code)
        stack.extend(cls.__subclasses__())
    assert listed == sorted(raised)
    assert {3, 65, 66, 69, 75, 76, 77, 78} <= raised


def test_overview_has_environment_commands_and_config() -> None:
    text = page("llmcli.1")
    environment = section(text, "ENVIRONMENT")
    for name in ENVIRONMENT:
        assert f"\n.TP\n\\fB{roff.esc(name)}\\fR\n" in "\n" + environment, name
    for command in COMMANDS:
        assert f"\\fB{roff.esc(command)}\\fR" in section(text, "COMMANDS")
    commands = flat(section(text, "COMMANDS"))
    assert ".TP \\fBbatch\\fR Many requests from JSONL" in commands
    assert "See \\%llmcli\\-batch(1). .TP \\fBbatch run\\fR " in commands
    assert commands.endswith("See \\%llmcli\\-mcp\\-list\\-tools(1).")
    for name in PAGES[1:]:
        assert f".BR \\%{roff.esc(name[:-2])} (1)," in section(text, '"SEE ALSO"')
    assert (
        "embed; all but \\%\\-o/\\-\\-output by batch run, batch submit, batch status, "
        "batch fetch, batch cancel and batch list." in flat(section(text, '"COMMON OPTIONS"'))
    )
    assert '[gateways.work]\nbase_url = "http://127.0.0.1:8080/v1"' in section(
        text, "CONFIGURATION"
    )
    assert "\\fI$XDG_CONFIG_HOME/llmcli/config.toml\\fR" in section(text, "FILES")


def test_command_pages_name_only_the_environment_they_read() -> None:
    assert "LLMCLI_EMBEDDING_MODEL" in page("llmcli-embed.1")
    assert "LLMCLI_EMBEDDING_MODEL" not in page("llmcli-chat.1")
    serve = section(page("llmcli-serve.1"), "ENVIRONMENT")
    assert "LLMCLI_DEBUG" in serve and "LLMCLI_GATEWAY" not in serve
    for name in ("llmcli-batch.1", "llmcli-batch-run.1"):  # a group: what its commands read
        environment = section(page(name), "ENVIRONMENT")
        assert "LLMCLI_GATEWAY" in environment and "LLMCLI_API_KEY" in environment
        assert "LLMCLI_EMBEDDING_MODEL" not in environment
        assert "\\fI$XDG_CONFIG_HOME/llmcli/config.toml\\fR" in section(page(name), "FILES")


def test_a_group_page_lists_its_commands_and_their_synopses() -> None:
    text = page("llmcli-batch.1")
    assert section(text, "SYNOPSIS") == (
        ".B llmcli batch\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...\n.br\n"
        ".B llmcli batch run\n[\\fIOPTIONS\\fR] [\\fIFILE\\fR]\n.br\n"
        ".B llmcli batch submit\n[\\fIOPTIONS\\fR] [\\fIFILE\\fR]\n.br\n"
        ".B llmcli batch status\n[\\fIOPTIONS\\fR] \\fIID\\fR...\n.br\n"
        ".B llmcli batch fetch\n[\\fIOPTIONS\\fR] \\fIID\\fR...\n.br\n"
        ".B llmcli batch cancel\n[\\fIOPTIONS\\fR] \\fIID\\fR...\n.br\n"
        ".B llmcli batch list\n[\\fIOPTIONS\\fR]"
    )
    listed = re.findall(r"^\.TP\n\\fB(\w+)\\fR$", section(text, "COMMANDS"), flags=re.M)
    assert listed == GROUPS["batch"]
    assert flat(section(text, "COMMANDS")).endswith("See \\%llmcli\\-batch\\-list(1).")
    assert (
        section(text, "OPTIONS")
        == ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nShow this message and exit."
    )
    assert section(text, '"SEE ALSO"').startswith(
        ".BR \\%llmcli (1),\n.BR \\%llmcli\\-batch\\-run (1),\n"
        ".BR \\%llmcli\\-batch\\-submit (1),\n.BR \\%llmcli\\-batch\\-status (1),\n"
        ".BR \\%llmcli\\-batch\\-fetch (1),\n.BR \\%llmcli\\-batch\\-cancel (1),\n"
        ".BR \\%llmcli\\-batch\\-list (1),\n.BR \\%llmcli\\-chat (1),"
    )


def test_a_subcommand_page_is_that_of_its_help() -> None:
    text = page("llmcli-batch-run.1")
    assert text.splitlines()[1].startswith(".TH LLMCLI\\-BATCH\\-RUN 1 ")
    assert section(text, "NAME").startswith("llmcli\\-batch\\-run \\- ")
    assert section(text, "SYNOPSIS") == ".B llmcli batch run\n[\\fIOPTIONS\\fR] [\\fIFILE\\fR]"
    options = section(text, "OPTIONS")
    assert options.startswith(".TP\n\\fIFILE\\fR\nJSONL input; stdin when absent or \\%'\\-'.\n")
    assert (
        "\n.TP\n\\fB\\-o\\fR, \\fB\\-\\-output\\fR \\fIFILE\\fR\nAppend result lines to FILE.\n"
        in options
    )
    assert "\\fB\\-\\-shard\\fR \\fIK/N\\fR" in options
    assert section(text, '"SEE ALSO"') == (
        ".BR \\%llmcli (1),\n.BR \\%llmcli\\-batch (1),\n"
        ".BR \\%llmcli\\-batch\\-submit (1),\n.BR \\%llmcli\\-batch\\-status (1),\n"
        ".BR \\%llmcli\\-batch\\-fetch (1),\n.BR \\%llmcli\\-batch\\-cancel (1),\n"
        ".BR \\%llmcli\\-batch\\-list (1),\n.BR \\%jq (1)\n"
    )
    assert "llmcli\\-batch\\-run" not in page("llmcli-chat.1")  # not a top-level command


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_examples_are_those_of_help(command: str | None) -> None:
    text = help_text(*([command] if command else []))
    examples = help_examples(text)
    assert 2 <= len(examples) <= 3
    shown = section(page_of(command) if command else page("llmcli.1"), "EXAMPLES")
    assert shown == "\n".join(
        [".RS 4", ".EX", *(roff.safe_line(roff.esc(e)) for e in examples), ".EE", ".RE"]
    )


@pytest.mark.parametrize(
    "command",
    [None, *COMMANDS],
)
def test_examples_show_pipes(command: str | None) -> None:
    examples = help_examples(help_text(*([command] if command else [])))
    assert sum(" | " in e for e in examples) >= 2  # real pipes


# --- --help ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS)
def test_help_lists_the_commands_of_each_group(group: str) -> None:
    assert [name for name, _ in help_commands(help_text(group))] == GROUPS[group]
    model = load()
    found = next(c for c in model.walk() if c.words == group) if group else model.root
    assert [c.name for c in found.subcommands] == GROUPS[group]


def test_commands_are_every_command_of_help() -> None:
    """COMMANDS, walked from `llmcli --help` down: a new subcommand cannot go unchecked."""
    found: list[str] = []
    for group in GROUPS:
        found += [f"{group} {name}".strip() for name, _ in help_commands(help_text(group))]
    assert sorted(found) == sorted(COMMANDS)
    assert [c.words for c in load().walk()] == COMMANDS


@pytest.mark.parametrize(
    "command",
    COMMANDS,
)
def test_help_lists_each_command_on_one_line(command: str) -> None:
    group, _, name = command.rpartition(" ")
    summary = dict(help_commands(help_text(group)))[name]
    assert summary == next(c.summary for c in load().walk() if c.words == command)
    assert not summary.endswith("...")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_one_paragraph_and_examples(command: str) -> None:
    cmd = next(c for c in load().walk() if c.words == command)
    assert len(cmd.description) == 1
    assert len(cmd.description[0]) > 150  # a paragraph, more than a title
    assert 2 <= len(cmd.examples) <= 3
    assert help_text(command).split("\n\n", 2)[1].startswith("  " + cmd.description[0][:40])


@pytest.mark.parametrize("args", [[], *(c.split() for c in COMMANDS)])
def test_help_never_waits_on_stdin(args: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmcli", *args, "--help"],
        stdin=subprocess.PIPE,  # open, never written to, never closed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        if proc.stdin:
            proc.stdin.close()
    assert (proc.returncode, err) == (0, b"")
    assert b"Examples:" in out


def test_normal_runs_do_not_import_the_generator() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llmcli", "chat", "--help"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0
    assert "llmcli.cli.app" in done.stderr
    assert "llmcli.docgen" not in done.stderr


@pytest.mark.parametrize(
    ("args", "loaded"),
    [
        (("chat", "--help"), {"chat"}),
        (("batch", "run", "--help"), {"batch", "batch_fetch", "provider_batch"}),
        (("-V", "embed", "--help"), {"embed"}),
        (("--help",), None),  # every command, to list them
        (("chta",), None),  # every command, to say which was meant
    ],
)
def test_a_run_imports_only_the_command_it_names(
    args: tuple[str, ...], loaded: set[str] | None
) -> None:
    script = (
        "import sys\nfrom llmcli.cli.app import run\nrun(sys.argv[1:])\n"
        "print(' '.join(m[11:] for m in sys.modules if m.startswith('llmcli.cli.')), "
        "file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    commands = {"chat", "messages", "responses", "models", "embed", "batch", "batch_fetch"}
    commands |= {"provider_batch", "templates", "mcp", "gateways", "serve"}
    imported = commands & set(done.stderr.splitlines()[-1].split())
    assert imported == (commands if loaded is None else loaded)


# --- the pieces -----------------------------------------------------------------------


def test_roff_escapes() -> None:
    assert roff.esc("--a\\b") == "\\-\\-a\\eb"
    assert roff.esc("…") == "\\[u2026]"
    assert roff.safe_line(".x") == "\\&.x"
    assert roff.safe_line("'x") == "\\&'x"
    assert roff.text("'quoted' and .dotted") == "\\&'quoted' and \\%.dotted"
    assert roff.quoted('say "hi"') == '"say \\(dqhi\\(dq"'
    assert all(len(line) <= 78 for line in roff.text("word " * 60).splitlines())


def test_split_help() -> None:
    doc = "One line\nwrapped.\n\n\b\nExamples:\n  a | b\n  c | d\n"
    assert split_help(doc) == (("One line wrapped.",), ("a | b", "c | d"))
    with pytest.raises(ValueError):
        split_help(doc + "\ntrailing text\n")
