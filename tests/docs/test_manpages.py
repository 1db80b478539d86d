"""Man pages and --help: valid roff, every option and exit status, one source of examples.

Pages are rendered by groff with every warning on (and by ``mandoc -T lint`` where it is
installed): any message fails. What ``llmcli CMD --help`` prints is compared with the page
of that command, so neither can lose an option or an example the other has.
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
COMMANDS = ["chat", "stream", "messages", "models", "embed", "gateways", "serve"]
PAGES = ["llmcli.1", *(f"llmcli-{c}.1" for c in COMMANDS)]
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


@functools.cache
def help_text(*args: str) -> str:
    r = llmcli(*args, "--help", env={"COLUMNS": "80"})
    assert (r.code, r.err) == (0, "")
    return r.text


def section(text: str, title: str) -> str:
    return text.split(f"\n.SH {title}\n", 1)[1].split("\n.SH ", 1)[0]


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
    text = page(f"llmcli-{command}.1")
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
        assert f"\\fB{command}\\fR" in section(text, "COMMANDS")
    assert '[gateways.work]\nbase_url = "http://127.0.0.1:8080/v1"' in section(
        text, "CONFIGURATION"
    )
    assert "\\fI$XDG_CONFIG_HOME/llmcli/config.toml\\fR" in section(text, "FILES")


def test_command_pages_name_only_the_environment_they_read() -> None:
    assert "LLMCLI_EMBEDDING_MODEL" in page("llmcli-embed.1")
    assert "LLMCLI_EMBEDDING_MODEL" not in page("llmcli-chat.1")
    serve = section(page("llmcli-serve.1"), "ENVIRONMENT")
    assert "LLMCLI_DEBUG" in serve and "LLMCLI_GATEWAY" not in serve


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_examples_are_those_of_help(command: str | None) -> None:
    text = help_text(*([command] if command else []))
    examples = help_examples(text)
    assert 2 <= len(examples) <= 3
    assert sum(" | " in e for e in examples) >= 2  # real pipes
    name = f"llmcli-{command}.1" if command else "llmcli.1"
    shown = section(page(name), "EXAMPLES")
    assert shown == "\n".join(
        [".RS 4", ".EX", *(roff.safe_line(roff.esc(e)) for e in examples), ".EE", ".RE"]
    )


# --- --help ---------------------------------------------------------------------------


def test_top_level_help_lists_each_command_on_one_line() -> None:
    listed = help_text().split("\nCommands:\n", 1)[1].splitlines()
    summaries = {c.name: c.summary for c in load().commands}
    assert [line.split()[0] for line in listed] == COMMANDS
    for line in listed:
        name, summary = line.split(None, 1)
        assert summary == summaries[name]
        assert not summary.endswith("...")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_one_paragraph_and_examples(command: str) -> None:
    cmd = next(c for c in load().commands if c.name == command)
    assert len(cmd.description) == 1
    assert len(cmd.description[0]) > 150  # a paragraph, more than a title
    assert 2 <= len(cmd.examples) <= 3
    assert help_text(command).split("\n\n", 2)[1].startswith("  " + cmd.description[0][:40])


@pytest.mark.parametrize("args", [[], *([c] for c in COMMANDS)])
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
