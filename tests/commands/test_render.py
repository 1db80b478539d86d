"""Markdown at a terminal, through a pseudo-terminal: the screen shows a rendered table,
list and code block (syntax colours on the code's background); ``NO_COLOR`` keeps the
layout without any escape code; a pipe or a file gets the bytes as sent whatever the
flags; ``--render/--no-render`` and ``LLMCLI_RENDER`` decide at a terminal; a model's
control characters never reach the terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest
from conftest import clean_env, llmcli
from reading import read_to_end

REPLY = (
    "# Plan\n"
    "\n"
    "Some **bold** words.\n"
    "\n"
    "- first item\n"
    "- second item\n"
    "\n"
    "| name | size |\n"
    "|------|-----:|\n"
    "| alpha | 1 |\n"
    "| beta | 22 |\n"
    "\n"
    "```python\n"
    "def double(x):\n"
    "    return x * 2\n"
    "```\n"
    "\n"
    "Done."
)
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def on_a_terminal(*args: str, **env: str) -> tuple[int, str]:
    """llmcli with stdout on a pseudo-terminal 60 columns wide: its exit code, and the
    screen's bytes (the terminal's \\r\\n as \\n)."""
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmcli", *args],
            stdout=terminal,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=clean_env({"COLUMNS": "60", "TERM": "xterm-256color", **env}),
            start_new_session=True,
        )
        os.close(terminal)
        shown = read_to_end(proc, controller)
        proc.wait(timeout=30)
    finally:
        os.close(controller)
    return proc.returncode, shown.decode("utf-8").replace("\r\n", "\n")


def plain(screen: str) -> list[str]:
    return [ESCAPE.sub("", line).rstrip() for line in screen.splitlines()]


@pytest.mark.parametrize("command", ["chat", "stream", "messages", "responses"])
def test_a_terminal_shows_the_reply_rendered(command: str) -> None:
    code, screen = on_a_terminal(command, "-g", "mock", "-m", "echo", REPLY)
    assert code == 0
    lines = plain(screen)
    assert "Plan" in lines[0] and "#" not in lines[0]  # a heading, not its markup
    assert any(line.strip() == "Some bold words." for line in lines)
    assert sum(line.strip().startswith("• ") for line in lines) == 2
    header = next(i for i, line in enumerate(lines) if "name" in line and "size" in line)
    assert set(lines[header + 1].strip()) == {"─"}  # the table's rule under its head
    assert re.fullmatch(r" *alpha +1 *", lines[header + 2])
    assert "```" not in screen and "|---" not in screen and "**" not in screen
    code_line = next(line for line in screen.splitlines() if "double" in line)
    assert re.search(r"\x1b\[[0-9;]*(4[0-7]|48;[0-9;]+)m", code_line)  # on a background
    assert len(set(ESCAPE.findall(code_line))) > 2  # coloured by syntax
    assert lines[-1].strip() == "Done."


def test_no_color_keeps_the_layout_without_any_escape_code() -> None:
    code, screen = on_a_terminal("stream", "-g", "mock", "-m", "echo", REPLY, NO_COLOR="1")
    assert code == 0
    assert "\x1b" not in screen
    lines = [line.rstrip() for line in screen.splitlines()]
    assert sum(line.strip().startswith("• ") for line in lines) == 2
    assert any(set(line.strip()) == {"─"} for line in lines)
    assert any(line.strip() == "def double(x):" for line in lines)
    assert "```" not in screen


def test_a_pipe_gets_the_bytes_whatever_the_flags() -> None:
    for flags in ((), ("--render",)):
        run = llmcli("stream", "-g", "mock", "-m", "echo", *flags, REPLY)
        assert (run.code, run.out) == (0, REPLY.encode() + b"\n")


@pytest.mark.parametrize(
    ("flags", "env", "rendered"),
    [
        (("--no-render",), {}, False),
        ((), {"LLMCLI_RENDER": "0"}, False),
        (("--render",), {"LLMCLI_RENDER": "0"}, True),
        ((), {"LLMCLI_RENDER": "1"}, True),
    ],
)
def test_flags_then_the_environment_decide_at_a_terminal(
    flags: tuple[str, ...], env: dict[str, str], rendered: bool
) -> None:
    code, screen = on_a_terminal("chat", "-g", "mock", "-m", "echo", *flags, REPLY, **env)
    assert code == 0
    if rendered:
        assert "```" not in screen and "\x1b[" in screen
    else:
        assert screen == REPLY + "\n"


def test_json_at_a_terminal_is_not_rendered() -> None:
    code, screen = on_a_terminal("chat", "-g", "mock", "-m", "echo", "-o", "json", REPLY)
    assert code == 0
    assert '"content": "# Plan\\n\\nSome **bold** words.' in screen


def test_a_models_control_characters_never_reach_the_terminal() -> None:
    code, screen = on_a_terminal("stream", "-g", "mock", "-m", "echo", "red \x1b[31mX\x07 bell")
    assert code == 0
    assert "\x07" not in screen
    assert "red \\x1b[31mX\\x07 bell" in plain(screen)[0]


def test_rich_is_imported_only_to_render() -> None:
    script = (
        "import sys\nfrom llmcli.cli.app import run\nrun(sys.argv[1:])\n"
        "print('rich' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "stream", "-g", "mock", "-m", "echo", REPLY],
        capture_output=True,
        env=clean_env(),
        check=False,
    )
    assert done.stdout == REPLY.encode() + b"\n"
    assert done.stderr.decode().splitlines()[-1] == "False"


def test_blank_lines_of_the_source_separate_the_parts() -> None:
    code, screen = on_a_terminal("chat", "-g", "mock", "-m", "echo", REPLY, NO_COLOR="1")
    assert code == 0
    lines = [line.rstrip() for line in screen.splitlines()]
    done = lines.index(next(line for line in lines if line.strip() == "Done."))
    assert lines[done - 1].strip() == ""  # after the code block's last (padding) line
    assert lines[done - 2].strip() == ""
    assert lines[done - 3].strip() == "return x * 2"
