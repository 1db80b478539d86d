"""Markdown at a terminal, through a pseudo-terminal: the screen shows a rendered table,
list and code block (syntax colours on the code's background); ``NO_COLOR`` keeps the
layout without any escape code; a pipe or a file gets the bytes as sent whatever the
flags; ``--render/--no-render`` and ``LLMCLI_RENDER`` decide at a terminal; a model's
control characters never reach the terminal."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys

import pyte
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


def on_a_terminal(*args: str, **env: str) -> tuple[int, str]:
    """llmcli with stdout on a pseudo-terminal 60 columns wide: its exit code, and the
    bytes it wrote there (the terminal's \r\n as \n)."""
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmcli", *args],
            stdout=terminal,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=clean_env({"COLUMNS": "60", "LINES": "40", "TERM": "xterm-256color", **env}),
            start_new_session=True,
        )
        os.close(terminal)
        shown = read_to_end(proc, controller)
        proc.wait(timeout=30)
    finally:
        os.close(controller)
    return proc.returncode, shown.decode("utf-8").replace("\r\n", "\n")


def screen_of(written: str, rows: int = 80) -> pyte.Screen:
    """What a terminal 60 columns wide shows after those bytes (cursor moves, clears and
    colours applied)."""
    screen = pyte.Screen(60, rows)
    screen.set_mode(pyte.modes.LNM)  # \n is a new line, as the pty's onlcr made it
    pyte.Stream(screen).feed(written)
    return screen


def plain(written: str) -> list[str]:
    """The screen's lines, right-trimmed, up to its last one with text."""
    lines = [line.rstrip() for line in screen_of(written).display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize("command", ["chat", "stream", "messages", "responses"])
def test_a_terminal_shows_the_reply_rendered(command: str) -> None:
    code, written = on_a_terminal(command, "-g", "mock", "-m", "echo", REPLY)
    assert code == 0
    lines = plain(written)
    assert lines[0].strip() == "Plan"  # a heading, not its markup
    assert "Some bold words." in lines
    assert [line for line in lines if line.startswith(" • ")] == [
        " • first item",
        " • second item",
    ]
    header = next(i for i, line in enumerate(lines) if "name" in line and "size" in line)
    assert set(lines[header + 1].strip()) == {"─"}  # the table's rule under its head
    assert re.fullmatch(r" *alpha +1", lines[header + 2])
    assert not any("```" in line or "|---" in line or "**" in line for line in lines)
    assert lines[-1] == "Done."
    screen = screen_of(written)
    row = next(y for y, line in enumerate(screen.display) if "def double(x):" in line)
    cells = [screen.buffer[row][x] for x in range(60)]
    assert {c.bg for c in cells} != {"default"}  # the code sits on its background
    assert len({c.fg for c in cells if c.data.strip()}) > 2  # coloured by syntax


def test_no_color_keeps_the_layout_without_any_escape_code() -> None:
    code, written = on_a_terminal("stream", "-g", "mock", "-m", "echo", REPLY, NO_COLOR="1")
    assert code == 0
    assert "\x1b" not in written
    lines = [line.rstrip() for line in written.splitlines()]
    assert sum(line.strip().startswith("• ") for line in lines) == 2
    assert any(set(line.strip()) == {"─"} for line in lines)
    assert any(line.strip() == "def double(x):" for line in lines)
    assert "```" not in written


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
    code, written = on_a_terminal("chat", "-g", "mock", "-m", "echo", *flags, REPLY, **env)
    assert code == 0
    if rendered:
        assert "```" not in "\n".join(plain(written)) and "\x1b[" in written
    else:
        assert written == REPLY + "\n"


def test_json_at_a_terminal_is_not_rendered() -> None:
    code, screen = on_a_terminal("chat", "-g", "mock", "-m", "echo", "-o", "json", REPLY)
    assert code == 0
    assert '"content": "# Plan\\n\\nSome **bold** words.' in screen


def test_a_models_control_characters_never_reach_the_terminal() -> None:
    code, written = on_a_terminal("stream", "-g", "mock", "-m", "echo", "red \x1b[31mX\x07 bell")
    assert code == 0
    assert "\x07" not in written and "\x1b[31mX" not in written
    assert plain(written) == ["red \\x1b[31mX\\x07 bell"]


def test_a_paragraph_shows_as_it_arrives_and_is_then_drawn_rendered() -> None:
    """The words of an unfinished paragraph are on the screen before its end (raw), and
    the finished screen holds it once, rendered."""
    code, written = on_a_terminal(
        "stream", "-g", "mock", "-m", "echo", "-p", "mock_words_per_chunk=1", "a **b** c\n\nd"
    )
    assert code == 0
    assert "a **b" in written  # raw, before the paragraph was whole
    assert plain(written) == ["a b c", "", "d"]


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
    code, written = on_a_terminal("chat", "-g", "mock", "-m", "echo", REPLY)
    assert code == 0
    lines = plain(written)
    done = lines.index("Done.")
    assert lines[done - 1] == ""  # the source's blank line
    assert lines[done - 2].strip() == ""  # the code block's last (padding) line
    assert lines[done - 3].strip() == "return x * 2"


SLOW = ("--max-tokens", "1000", "-H", "X-Mock-Fault: slow=64:50", "x")


def test_ctrl_c_leaves_what_arrived_rendered_and_the_terminal_on_a_new_line() -> None:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmcli", "stream", "-g", "mock", "-m", "lorem", *SLOW],
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=clean_env({"COLUMNS": "60", "LINES": "40", "TERM": "xterm-256color"}),
        start_new_session=True,
    )
    os.close(terminal)
    written = b""
    try:
        while b"dolor " not in written:  # raw, as it arrives
            chunk = os.read(controller, 4096)
            assert chunk, written
            written += chunk
        proc.send_signal(signal.SIGINT)
        written += read_to_end(proc, controller)
        assert proc.wait(timeout=30) == 130
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    text = written.decode().replace("\r\n", "\n")
    lines = plain(text)
    assert lines[0].startswith("lorem ipsum dolor")
    assert len(set(lines)) == len(lines)  # the raw preview erased, the paragraph drawn once
    assert "\x1b[J" in text and text.endswith("\n")
