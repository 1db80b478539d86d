"""Tools that run (DESIGN.md, "Tools"): ``--tool-cmd`` commands called by the offline
gateway's ``tools`` model in each dialect, approval (flags, a terminal, none), the step
limit, failures, and what a conversation file keeps."""

from __future__ import annotations

import fcntl
import os
import select
import shlex
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import SECRET, alive, clean_env, llmcli

from llmcli import mock as offline

WEATHER = {"type": "object", "properties": {"location": {"type": "string"}}}
TIME = {"type": "object", "properties": {"timezone": {"type": "string"}}}
COMMANDS = [
    ["chat"],
    ["stream"],
    ["messages"],
    ["messages", "--stream"],
    ["responses"],
    ["responses", "--stream"],
]


def py(script: Path) -> str:
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


@pytest.fixture
def kit(tmp_path: Path) -> dict[str, str]:
    """Two declared tools and their commands: get_weather prints its arguments and
    leaves a mark that it ran; get_time prints a fixed time."""
    (tmp_path / "w.json").write_text(orjson.dumps(WEATHER).decode())
    (tmp_path / "t.json").write_text(orjson.dumps(TIME).decode())
    weather = tmp_path / "weather.py"
    weather.write_text(
        "import sys, pathlib\n"
        f"pathlib.Path({str(tmp_path / 'ran')!r}).touch()\n"
        "sys.stdout.write('weather for ' + sys.stdin.read())\n"
    )
    clock = tmp_path / "clock.py"
    clock.write_text("print('12:00')\n")
    return {
        "dir": str(tmp_path),
        "weather": py(weather),
        "clock": py(clock),
        "ran": str(tmp_path / "ran"),
    }


def tool_args(kit: dict[str, str], *more: str) -> list[str]:
    return [
        "-g",
        "mock",
        "-m",
        "tools",
        "--tool",
        f"get_weather={kit['dir']}/w.json",
        "--tool",
        f"get_time={kit['dir']}/t.json",
        "--tool-cmd",
        f"get_weather={kit['weather']}",
        "--tool-cmd",
        f"get_time={kit['clock']}",
        *more,
    ]


ANSWER = 'tool said: weather for {"location":"Paris"}\n12:00\n'


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_both_tools_run_and_the_final_answer_alone_is_printed(
    command: list[str], kit: dict[str, str]
) -> None:
    r = llmcli(*command, *tool_args(kit, "--approve", "all"), "Paris")
    assert (r.code, r.err) == (0, "")
    assert r.text == ANSWER
    assert Path(kit["ran"]).exists()


def test_jsonl_has_a_line_per_reply_and_per_result(kit: dict[str, str]) -> None:
    r = llmcli("chat", *tool_args(kit, "--approve", "all", "-o", "jsonl"), "Paris")
    assert r.code == 0, r.err
    lines = [orjson.loads(line) for line in r.out.splitlines()]
    assert [line.get("object", line.get("role")) for line in lines] == [
        "chat.completion",
        "tool",
        "tool",
        "chat.completion",
    ]
    first_calls = lines[0]["choices"][0]["message"]["tool_calls"]
    assert lines[1] == {
        "role": "tool",
        "tool_call_id": first_calls[0]["id"],
        "content": 'weather for {"location":"Paris"}',
    }
    assert lines[2] == {"role": "tool", "tool_call_id": first_calls[1]["id"], "content": "12:00\n"}
    assert lines[3]["choices"][0]["message"]["content"] == ANSWER


def test_json_is_the_final_reply_only(kit: dict[str, str]) -> None:
    r = llmcli("messages", *tool_args(kit, "--approve", "all", "-o", "json"), "Paris")
    assert r.code == 0, r.err
    reply = orjson.loads(r.out)
    assert reply["stop_reason"] == "end_turn"
    assert reply["content"] == [{"type": "text", "text": ANSWER}]


def test_without_a_terminal_nothing_runs_and_the_calls_are_printed(kit: dict[str, str]) -> None:
    r = llmcli("chat", *tool_args(kit, "--approve", "get_time"), "Paris")
    assert r.code == 77
    calls = [orjson.loads(line) for line in r.out.splitlines()]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert calls[0]["function"]["arguments"] == '{"location":"Paris"}'
    assert r.err == (
        "llmcli: tool calls not approved (get_weather): nothing ran; pass --approve NAME (or "
        "--approve all), or run where llmcli can ask on a terminal\n"
    )
    assert not Path(kit["ran"]).exists()


def test_dry_run_offers_the_tools_and_runs_nothing(kit: dict[str, str]) -> None:
    r = llmcli("chat", *tool_args(kit, "--approve", "all", "--dry-run"), "Paris")
    assert r.code == 0, r.err
    body = orjson.loads(r.out)["body"]
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    assert not Path(kit["ran"]).exists()


def test_max_steps_stops_with_75_and_continue_runs_the_calls_first(
    kit: dict[str, str], tmp_path: Path
) -> None:
    conv = tmp_path / "conv.jsonl"
    r = llmcli(
        "chat", *tool_args(kit, "--approve", "all", "--max-steps", "1", "-c", str(conv)), "Paris"
    )
    assert (r.code, r.out) == (75, b"")
    assert r.err == (
        "llmcli: --max-steps 1 reached: the model still calls tools; continue with -c FILE "
        "(the calls run first), or raise --max-steps\n"
    )
    assert not Path(kit["ran"]).exists()
    saved = [orjson.loads(line) for line in conv.read_bytes().splitlines()]
    assert [m["role"] for m in saved] == ["user", "assistant"]
    assert len(saved[1]["tool_calls"]) == 2

    again = llmcli("chat", *tool_args(kit, "--approve", "all", "-c", str(conv)), stdin=None)
    assert (again.code, again.err) == (0, "")
    assert again.text == ANSWER
    saved = [orjson.loads(line) for line in conv.read_bytes().splitlines()]
    assert [m["role"] for m in saved] == ["user", "assistant", "tool", "tool", "assistant"]
    assert saved[-1]["content"] == ANSWER


def keyed(args: list[str], url: str) -> list[str]:
    """The same run against a gateway that is sent a key (the offline one, by URL)."""
    at = args.index("mock")
    return [*args[: at - 1], "--base-url", url, *args[at + 1 :]]


def test_a_failing_tool_goes_back_as_an_error_result(
    tmp_path: Path, kit: dict[str, str], url: str
) -> None:
    failing = tmp_path / "fail.py"
    failing.write_text(f"import sys\nsys.stderr.write('oops {SECRET}\\n')\nsys.exit(3)\n")
    args = tool_args(kit, "--approve", "all", "-o", "jsonl")
    args[args.index(f"get_weather={kit['weather']}")] = f"get_weather={py(failing)}"
    r = llmcli("messages", *keyed(args, url), "Paris", env={"LLMCLI_API_KEY": SECRET})
    assert r.code == 0, r.err
    lines = [orjson.loads(line) for line in r.out.splitlines()]
    error = lines[1]
    assert error["type"] == "tool_result" and error["is_error"] is True
    assert (
        error["content"] == "tool get_weather failed: exit status 3; its stderr ends:\noops ***\n"
    )
    assert "is_error" not in lines[2]
    assert SECRET.encode() not in r.out


def test_a_hanging_tool_is_ended_at_its_timeout(tmp_path: Path, kit: dict[str, str]) -> None:
    hang = tmp_path / "hang.py"
    hang.write_text(
        "import subprocess, time\nsubprocess.Popen(['sleep', '300'])\ntime.sleep(300)\n"
    )
    args = tool_args(kit, "--approve", "all", "--tool-timeout", "0.5")
    args[args.index(f"get_weather={kit['weather']}")] = f"get_weather={py(hang)}"
    r = llmcli("chat", *args, "Paris", timeout=60)
    assert r.code == 0, r.err
    assert r.text == "tool said: tool get_weather failed: timed out after 0.5 s\n12:00\n"


def test_a_tool_printing_100_mb_is_cut_at_the_limit(tmp_path: Path, kit: dict[str, str]) -> None:
    flood = tmp_path / "flood.py"
    flood.write_text(
        "import sys\nblock = b'x' * (1 << 20)\n"
        "for _ in range(100):\n    sys.stdout.buffer.write(block)\n"
    )
    args = tool_args(kit, "--approve", "all", "--tool-output-max", "1000", "-o", "jsonl")
    args[args.index(f"get_weather={kit['weather']}")] = f"get_weather={py(flood)}"
    r = llmcli("chat", *args, "Paris", timeout=60)
    assert r.code == 0, r.err
    result = orjson.loads(r.out.splitlines()[1])
    assert result["content"] == "x" * 1000 + "\n[llmcli: output cut at 1000 bytes]"


def test_parallel_calls_run_at_the_same_time(tmp_path: Path, kit: dict[str, str]) -> None:
    """Each tool waits for the other's mark: they finish only if both run at once."""
    meet = tmp_path / "meet.py"
    meet.write_text(
        "import pathlib, sys, time\n"
        "me, other = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
        "me.touch()\n"
        "for _ in range(2000):\n"
        "    if other.exists():\n"
        "        print('met'); break\n"
        "    time.sleep(0.01)\n"
        "else:\n"
        "    sys.exit(1)\n"
    )
    a, b = tmp_path / "a", tmp_path / "b"
    args = tool_args(kit, "--approve", "all")
    args[args.index(f"get_weather={kit['weather']}")] = f"get_weather={py(meet)} {a} {b}"
    args[args.index(f"get_time={kit['clock']}")] = f"get_time={py(meet)} {b} {a}"
    r = llmcli("chat", *args, "Paris", timeout=60)
    assert (r.code, r.text) == (0, "tool said: met\n\nmet\n")


def test_the_key_never_reaches_a_tool(tmp_path: Path, kit: dict[str, str], url: str) -> None:
    env_tool = tmp_path / "env.py"
    env_tool.write_text("import os\nprint(sorted(os.environ))\nprint(list(os.environ.values()))\n")
    args = tool_args(kit, "--approve", "all", "-o", "jsonl")
    args[args.index(f"get_weather={kit['weather']}")] = f"get_weather={py(env_tool)}"
    env = {"LLMCLI_API_KEY": SECRET, "MY_TOKEN": SECRET}
    r = llmcli("chat", *keyed(args, url), "Paris", env=env)
    assert r.code == 0, r.err
    result = orjson.loads(r.out.splitlines()[1])["content"]
    assert "PATH" in result
    assert "LLMCLI_API_KEY" not in result and "MY_TOKEN" not in result
    assert SECRET not in result


def test_a_call_to_a_tool_not_offered_runs_nothing(kit: dict[str, str], tmp_path: Path) -> None:
    history = tmp_path / "h.jsonl"
    call = {"id": "c1", "type": "function", "function": {"name": "rm_rf", "arguments": "{}"}}
    history.write_text(
        orjson.dumps({"role": "user", "content": "hi"}).decode()
        + "\n"
        + orjson.dumps({"role": "assistant", "content": None, "tool_calls": [call]}).decode()
        + "\n"
    )
    r = llmcli("chat", *tool_args(kit, "--approve", "all", "--messages", str(history)))
    assert r.code == 0, r.err
    assert r.text == "tool said: tool 'rm_rf' was not offered: nothing ran\n"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tool-cmd", "nope=true"], "--tool-cmd nope: no tool 'nope' is declared"),
        (["--tool-cmd", "get_weather"], "--tool-cmd 'get_weather': expected NAME=COMMAND"),
        (["--approve", "get_wether"], "--approve get_wether: no tool 'get_wether' runs here"),
    ],
)
def test_tool_flags_that_cannot_work_are_usage_errors(
    flags: list[str], message: str, kit: dict[str, str]
) -> None:
    r = llmcli("chat", *tool_args(kit), *flags, "Paris")
    assert r.code == 2
    assert message in r.err
    assert not Path(kit["ran"]).exists()


def test_approve_without_tools_that_run_is_a_usage_error() -> None:
    r = llmcli("chat", "-g", "mock", "--approve", "all", "hi")
    assert (r.code, r.out) == (2, b"")
    assert "--approve: no tool runs here" in r.err


# a terminal to ask on ------------------------------------------------------------------


def on_a_terminal(args: list[str], answers: list[bytes]) -> tuple[int, bytes, str, bytes]:
    """Run llmcli with a pseudo-terminal as its controlling terminal (stdin, stdout and
    stderr stay pipes); answer each question asked on it. (code, stdout, stderr, what
    the terminal showed)."""
    master, slave = os.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "llmcli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
        start_new_session=True,
        preexec_fn=take_terminal,
        pass_fds=(slave,),
    )
    os.close(slave)
    shown = b""
    try:
        for answered, answer in enumerate(answers):
            while shown.count(b"[y/N] ") <= answered:
                ready, _, _ = select.select([master], [], [], 30)
                try:
                    more = os.read(master, 4096) if ready else b""
                except OSError:  # EIO: the terminal's other end is closed (llmcli ended)
                    more = b""
                assert more, f"no question on the terminal: {shown!r} {process.stderr!r}"
                shown += more
            os.write(master, answer)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
        while True:
            ready, _, _ = select.select([master], [], [], 0)
            if not ready:
                break
            try:
                more = os.read(master, 4096)
            except OSError:
                break
            if not more:
                break
            shown += more
        os.close(master)
    return process.returncode, out, err.decode(), shown


def test_a_terminal_is_asked_once_per_call_yes_and_no(kit: dict[str, str]) -> None:
    code, out, err, shown = on_a_terminal(["chat", *tool_args(kit), "Paris"], [b"n\n", b"y\n"])
    assert (code, err) == (0, "")
    assert b'the model calls the tool get_weather {"location":"Paris"}' in shown
    assert b'the model calls the tool get_time {"timezone":"Paris"}' in shown
    assert out == b"tool said: the user declined to run tool get_weather\n12:00\n"
    assert not Path(kit["ran"]).exists()


# batch run ------------------------------------------------------------------------------


def test_batch_rows_run_the_tools_approved_on_the_command_line(tmp_path: Path) -> None:
    def row(custom_id: str, prompt: str, tool: str) -> str:
        spec = {"type": "function", "function": {"name": tool, "parameters": WEATHER}}
        body = {"model": "tools", "messages": [{"role": "user", "content": prompt}]}
        return orjson.dumps({"custom_id": custom_id, "body": {**body, "tools": [spec]}}).decode()

    rows = tmp_path / "rows.jsonl"
    plain = {
        "custom_id": "b",
        "body": {"model": "echo", "messages": [{"role": "user", "content": "x"}]},
    }
    rows.write_text(
        "\n".join(
            [
                row("a", "Oslo", "get_weather"),
                orjson.dumps(plain).decode(),
                row("c", "Rome", "get_time"),
            ]
        )
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    flags = [
        "batch",
        "run",
        str(rows),
        "-g",
        "mock",
        "-o",
        str(out),
        "--tool-cmd",
        "get_weather=cat",
    ]
    first = llmcli(*flags, "--tool-cmd", "get_time=echo noon", "--approve", "get_weather")
    assert (first.code, first.err) == (65, "llmcli: 1 of 3 rows were rejected (see .error)\n")
    lines = {line["custom_id"]: line for line in map(orjson.loads, out.read_bytes().splitlines())}
    assert lines["a"]["response"]["body"]["choices"][0]["message"]["content"] == (
        'tool said: {"location":"Oslo"}'
    )
    assert lines["c"]["error"] == {
        "code": "tool_not_approved",
        "message": "line 3: tool calls not approved (get_time): nothing ran; --resume with "
        "--approve NAME runs them",
    }
    again = llmcli(*flags, "--tool-cmd", "get_time=echo noon", "--approve", "all", "--resume")
    assert (again.code, again.err) == (0, "")
    lines = {line["custom_id"]: line for line in map(orjson.loads, out.read_bytes().splitlines())}
    assert sorted(lines) == ["a", "b", "c"]
    assert lines["c"]["response"]["body"]["choices"][0]["message"]["content"] == "tool said: noon\n"


def test_verbose_shows_each_call_bounded_and_redacted(
    tmp_path: Path, kit: dict[str, str], url: str
) -> None:
    loud = tmp_path / "loud.py"
    loud.write_text(f"print('{SECRET} ' + 'z' * 500)\n")
    args = tool_args(kit, "--approve", "all", "-v")
    args[args.index(f"get_weather={kit['weather']}")] = f"get_weather={py(loud)}"
    r = llmcli("chat", *keyed(args, url), "Paris", env={"LLMCLI_API_KEY": SECRET})
    assert r.code == 0, r.err
    shown = [line for line in r.err.splitlines() if line.startswith("tool ")]
    assert len(shown) == 2
    weather = next(line for line in shown if line.startswith("tool get_weather"))
    prefix = 'tool get_weather {"location":"Paris"} -> 505 characters in '
    assert weather.startswith(prefix)
    took, said = weather[len(prefix) :].split(" s: ", 1)
    assert float(took) >= 0
    assert said == "*** " + "z" * 196 + "…"  # the key hidden in what goes back too
    assert SECRET not in r.err


def test_a_later_request_that_fails_keeps_what_ran(
    kit: dict[str, str], tmp_path: Path, url: str
) -> None:
    """The second request is refused: the calls that ran and their results stay in the
    conversation file, and continuing it sends them without running the tools again."""
    conv = tmp_path / "conv.jsonl"
    with offline.start(faults="every=2;status=400") as failing:
        args = tool_args(kit, "--approve", "all", "-c", str(conv))
        r = llmcli("chat", *keyed(args, failing.base_url), "Paris")
    assert r.code == 65
    saved = [orjson.loads(line) for line in conv.read_bytes().splitlines()]
    assert [m["role"] for m in saved] == ["user", "assistant", "tool", "tool"]
    Path(kit["ran"]).unlink()
    again = llmcli("chat", *keyed(tool_args(kit, "-c", str(conv)), url), stdin=None)
    assert (again.code, again.text, again.err) == (0, ANSWER, "")
    assert not Path(kit["ran"]).exists()


def paired(conversation: Path) -> bool:
    """Every call in a conversation file is answered by a result, in every dialect."""
    calls: set[str] = set()
    answered: set[str] = set()
    for line in conversation.read_bytes().splitlines():
        item = orjson.loads(line)
        for call in item.get("tool_calls") or []:
            calls.add(call["id"])
        if item.get("role") == "tool":
            answered.add(item["tool_call_id"])
        content = item.get("content")
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_use":
                calls.add(block["id"])
            if block.get("type") == "tool_result":
                answered.add(block["tool_use_id"])
        if item.get("type") == "function_call":
            calls.add(item["call_id"])
        if item.get("type") == "function_call_output":
            answered.add(item["call_id"])
    return bool(calls) and calls == answered


@pytest.mark.parametrize("command", [["chat"], ["messages"], ["responses"]], ids=" ".join)
def test_calls_left_at_77_run_first_when_continued_with_a_new_prompt(
    command: list[str], kit: dict[str, str], tmp_path: Path
) -> None:
    conv = tmp_path / "conv.jsonl"
    first = llmcli(*command, *tool_args(kit, "-c", str(conv)), "Paris")
    assert first.code == 77
    assert not paired(conv)
    again = llmcli(*command, *tool_args(kit, "--approve", "all", "-c", str(conv)), "and Rome?")
    assert (again.code, again.err) == (0, "")
    assert again.text.startswith("tool said: weather for {")
    assert paired(conv)
    # and the file goes on: the gateway takes it whole
    nxt = llmcli(*command, "-g", "mock", "-m", "echo", "-c", str(conv), "bye")
    assert (nxt.code, nxt.text) == (0, "bye\n")


def test_responses_on_the_server_answer_calls_left_before_the_last_response(
    kit: dict[str, str], tmp_path: Path, url: str
) -> None:
    conv = tmp_path / "conv.jsonl"
    assert llmcli("responses", *keyed(tool_args(kit, "-c", str(conv)), url), "Paris").code == 77
    flags = tool_args(kit, "--approve", "all", "-c", str(conv), "--previous-response-id", "last")
    again = llmcli("responses", *keyed(flags, url), "and Rome?")
    assert (again.code, again.err) == (0, "")
    assert again.text == 'tool said: weather for {"location":"and Rome?"}\n12:00\n'


def test_responses_not_stored_resend_the_items_at_each_step(
    kit: dict[str, str], tmp_path: Path, url: str
) -> None:
    conv = tmp_path / "conv.jsonl"
    assert llmcli("responses", "--base-url", url, "-m", "echo", "-c", str(conv), "hi").code == 0
    r = llmcli(
        "responses",
        *keyed(tool_args(kit, "--approve", "all", "-c", str(conv)), url),
        "--previous-response-id",
        "last",
        "--no-store",
        "Paris",
    )
    assert (r.code, r.err) == (0, "")
    assert r.text == ANSWER


def test_an_interrupt_ends_the_running_tools(tmp_path: Path, kit: dict[str, str]) -> None:
    pid_file = tmp_path / "tool.pid"
    slow = tmp_path / "slow.py"
    slow.write_text(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n"
    )
    args = tool_args(kit, "--approve", "all")
    args[args.index(f"get_weather={kit['weather']}")] = f"get_weather={py(slow)}"
    for signal_number, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        pid_file.unlink(missing_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "llmcli", "chat", *args, "Paris"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
            start_new_session=True,
        )
        try:
            for _ in range(3000):  # until the tool runs (a check, not a timing)
                if pid_file.exists() and pid_file.read_text():
                    break
                time.sleep(0.01)
            tool = int(pid_file.read_text())
            process.send_signal(signal_number)
            process.communicate(timeout=30)
        finally:
            process.kill()
        assert process.returncode == code
        assert not alive(tool)


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["stream"], {"role": "assistant", "content": "Let me look."}),
        (["messages", "--stream"], {"type": "text", "text": "Let me look."}),
        (["responses", "--stream"], {"type": "output_text", "text": "Let me look."}),
    ],
    ids=["stream", "messages", "responses"],
)
def test_what_a_streamed_step_said_goes_back_with_its_calls(
    command: list[str], said: dict[str, Any], kit: dict[str, str], tmp_path: Path
) -> None:
    """A step streamed to -o text (which keeps no text of its own) is sent back whole: a
    model's words before its calls are part of the conversation (Anthropic refuses an
    empty text block, and a thinking block without its text)."""
    cassette = tmp_path / "rec.jsonl"
    preamble = ["-p", 'mock_preamble="Let me look."', "--record", str(cassette)]
    r = llmcli(*command, *tool_args(kit, "--approve", "all", *preamble), "Paris")
    assert r.code == 0, r.err
    assert r.text == "Let me look.\n" + ANSWER  # streamed: heard as it was said
    second = orjson.loads(cassette.read_bytes().splitlines()[1])["request"]["body"]
    sent = orjson.dumps(second.get("messages") or second.get("input")).decode()
    for key, value in said.items():
        assert f'"{key}":"{value}"' in sent


def test_whole_replies_print_the_answer_only(kit: dict[str, str]) -> None:
    preamble = ["-p", 'mock_preamble="Let me look."']
    r = llmcli("chat", *tool_args(kit, "--approve", "all", *preamble), "Paris")
    assert (r.code, r.text) == (0, ANSWER)
