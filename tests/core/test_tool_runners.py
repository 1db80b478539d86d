"""What runs a tool call: commands (bounded, timed, without the key), Python callables,
and the toolbox's decisions (approval, refusals, order of results)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import alive

import llmcli
from llmcli.errors import NotAllowedError
from llmcli.protocol.tool_turns import Call
from llmcli.tools import callables
from llmcli.tools.approval import Approval
from llmcli.tools.command import CommandTool, Outcome, environment, split
from llmcli.tools.loop import Toolbox, ToolsPending


def call(name: str, arguments: str = "{}", ident: str = "c") -> Call:
    return Call(ident, name, arguments, {"id": ident})


def python(code: str, **kw: Any) -> CommandTool:
    return CommandTool("t", (sys.executable, "-c", code), **kw)


def test_a_command_reads_its_arguments_on_stdin() -> None:
    out = python("import sys; print(sys.stdin.read()[::-1])")('{"a":1}')
    assert out == Outcome('}1:"a"{\n')


def test_a_failing_command_says_its_status_and_stderr_tail() -> None:
    out = python("import sys; sys.stderr.write('x' * 9000 + 'end'); sys.exit(4)")("{}")
    assert out.error
    assert out.text == "tool t failed: exit status 4; its stderr ends:\n" + "x" * 4093 + "end"


def test_output_over_the_limit_is_cut_and_an_endless_writer_ends() -> None:
    out = python("import sys\nwhile True: sys.stdout.write('y' * 1000)", output_max=10)("{}")
    assert out == Outcome("yyyyyyyyyy\n[llmcli: output cut at 10 bytes]")


def test_a_command_past_its_time_is_ended_with_what_it_started(tmp_path: Any) -> None:
    child = tmp_path / "child.pid"
    code = (
        "import subprocess, time\n"
        f"p = subprocess.Popen(['sleep', '300']); open({str(child)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(300)"
    )
    out = python(code, timeout=1.0)("{}")
    assert out == Outcome("tool t failed: timed out after 1 s", True)

    assert not alive(int(child.read_text()))


def test_a_tool_that_leaves_a_daemon_answers_with_what_it_printed(tmp_path: Path) -> None:
    daemon = tmp_path / "daemon.pid"
    code = (
        "import subprocess\n"
        "p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"  # holds the pipes
        f"open({str(daemon)!r}, 'w').write(str(p.pid))\n"
        "print('done')\n"
    )
    try:
        assert python(code, timeout=60)("{}") == Outcome("done\n")
    finally:
        os.kill(int(daemon.read_text()), signal.SIGKILL)


def test_a_missing_program_is_an_error_result() -> None:
    out = CommandTool("t", ("/nonexistent/tool",))("{}")
    assert out == Outcome("tool t: cannot run /nonexistent/tool: No such file or directory", True)


def test_split_is_a_shells_without_expansion() -> None:
    assert split("t", "grep -e 'a b' $HOME *.py") == ["grep", "-e", "a b", "$HOME", "*.py"]
    with pytest.raises(llmcli.Error, match="No closing quotation"):
        split("t", "grep 'a")


def test_the_environment_loses_every_variable_holding_a_secret() -> None:
    env = environment(("sk-12345",), {"A": "1", "KEY": "sk-12345", "URL": "http://u:sk-12345@h"})
    assert env == {"A": "1"}
    # a short dummy key (local servers take any): only a variable that is just it
    assert environment(("x",), {"KEY": "x", "PATH": "/usr/bin:/x"}) == {"PATH": "/usr/bin:/x"}


def test_callables_are_declared_from_their_signatures() -> None:
    def add(a: int, b: float = 1.0, *, tags: list[str] | None = None) -> float:
        """Add."""
        return a + b

    assert callables.spec("add", add) == {
        "name": "add",
        "input_schema": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "number"}, "tags": {}},
            "required": ["a"],
        },
        "description": "Add.",
    }
    run = callables.runner("add", add)
    assert run('{"a": 2}') == Outcome("3.0")
    assert run('{"b": 2}') == Outcome(
        "tool add failed: TypeError: test_callables_are_declared_from_their_signatures.<locals>"
        ".add() missing 1 required positional argument: 'a'",
        True,
    )


def test_the_toolbox_refuses_what_cannot_run_and_keeps_the_order() -> None:
    box = Toolbox({"echo": lambda a: Outcome(a)}, Approval(everything=True))
    results = box.run(
        [call("echo", '{"x":1}', "1"), call("ghost", ident="2"), call("echo", "{no", "3")],
        ["echo", "ghost"],
    )
    assert [(r.call.id, r.text, r.error) for r in results] == [
        ("1", '{"x":1}', False),
        ("2", "tool 'ghost' has nothing to run it here (no --tool-cmd or --mcp)", True),
        (
            "3",
            "tool echo: the arguments are not valid JSON (unexpected character, expected a "
            "string key): nothing ran",
            True,
        ),
    ]
    assert box.run([call("echo")], [])[0].text == "tool 'echo' was not offered: nothing ran"


def test_without_approval_and_no_one_to_ask_nothing_runs() -> None:
    ran: list[str] = []
    box = Toolbox(
        {n: (lambda a, n=n: ran.append(n) or Outcome("")) for n in ("a", "b")},
        Approval.of(["a"], None),
    )
    with pytest.raises(ToolsPending) as caught:
        box.run([call("a", ident="1"), call("b", ident="2")], ["a", "b"])
    assert isinstance(caught.value, NotAllowedError) and caught.value.exit_code == 77
    assert [c.id for c in caught.value.calls] == ["1", "2"]
    assert ran == []


def test_a_person_asked_says_no_to_one_call() -> None:
    asked: list[str] = []

    def ask(c: Call) -> bool:
        asked.append(c.id)
        return c.id == "2"

    box = Toolbox({"a": lambda a: Outcome("ran")}, Approval.of([], ask))
    results = box.run([call("a", ident="1"), call("a", ident="2")], ["a"])
    assert asked == ["1", "2"]
    assert [(r.text, r.error) for r in results] == [
        ("the user declined to run tool a", True),
        ("ran", False),
    ]


def test_the_library_runs_python_callables_until_the_answer() -> None:
    seen: list[dict[str, Any]] = []

    def get_weather(location: str) -> dict[str, Any]:
        seen.append({"location": location})
        return {"sky": "clear"}

    with llmcli.Client("mock") as client:
        body = {"model": "tools", "messages": [{"role": "user", "content": "Oslo"}]}
        reply = client.chat(body, tools={"get_weather": get_weather})
        streamed = client.messages(
            {**body, "max_tokens": 50, "stream": True}, tools={"get_weather": get_weather}
        )
        with pytest.raises(llmcli.Error) as caught:
            client.responses(
                {"model": "tools", "input": "Oslo", "mock_tool_rounds": 3},
                tools={"get_weather": get_weather},
                max_steps=2,
            )
    assert reply["choices"][0]["message"]["content"] == 'tool said: {"sky":"clear"}'
    assert streamed["content"] == [{"type": "text", "text": 'tool said: {"sky":"clear"}'}]
    assert caught.value.exit_code == 75
    assert seen == [{"location": "Oslo"}] * 3  # the second step of responses ran nothing
