"""MCP servers as tools (``--mcp``, ``llmcli mcp list-tools``), against a real server
written with the official SDK (tests/data/mcp_server.py), over stdio and HTTP."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import SECRET, llmcli

pytest.importorskip("mcp")

SERVER = f"{shlex.quote(sys.executable)} {Path(__file__).parent.parent / 'data' / 'mcp_server.py'}"
WEATHER = {"type": "object", "properties": {"location": {"type": "string"}}}


def test_list_tools_prints_one_line_per_tool() -> None:
    r = llmcli("mcp", "list-tools", SERVER, timeout=60)
    assert (r.code, r.err) == (0, "")
    tools = [orjson.loads(line) for line in r.out.splitlines()]
    assert [t["name"] for t in tools] == ["lookup", "add", "fail", "env"]
    assert tools[1]["inputSchema"]["properties"] == {
        "a": {"title": "A", "type": "integer"},
        "b": {"title": "B", "type": "integer"},
    }
    assert tools[0]["description"] == "Look a word up."


def test_a_command_tool_and_mcp_tools_answer_in_one_run(tmp_path: Path, url: str) -> None:
    (tmp_path / "w.json").write_text(orjson.dumps(WEATHER).decode())
    r = llmcli(
        "messages",
        "--base-url",
        url,
        "-m",
        "tools",
        "--tool",
        f"get_weather={tmp_path / 'w.json'}",
        "--tool-cmd",
        "get_weather=echo sunny",
        "--mcp",
        SERVER,
        "--approve",
        "all",
        "-o",
        "jsonl",
        "Paris",
        env={"LLMCLI_API_KEY": SECRET, "SOME_TOKEN": SECRET},
        timeout=60,
    )
    assert (r.code, r.err) == (0, "")
    lines = [orjson.loads(line) for line in r.out.splitlines()]
    calls = [b for b in lines[0]["content"] if b["type"] == "tool_use"]
    assert [c["name"] for c in calls] == ["get_weather", "lookup", "add", "fail", "env"]
    results = lines[1:6]
    assert [(b["tool_use_id"], b["content"], b.get("is_error")) for b in results[:4]] == [
        (calls[0]["id"], "sunny\n", None),
        (calls[1]["id"], "Paris: a word", None),
        (calls[2]["id"], "2", None),
        (calls[3]["id"], "Error executing tool fail: cannot: Paris", True),  # an MCP error
    ]
    environment = results[4]["content"]  # the MCP server's: without the key
    assert "PATH=" in environment and SECRET not in environment
    assert "SOME_TOKEN" not in environment
    final = lines[6]["content"][0]["text"]
    assert final.startswith("tool said: sunny\n\nParis: a word\n2\nError executing tool fail")


def test_a_server_that_does_not_start_is_named() -> None:
    r = llmcli("mcp", "list-tools", "/nonexistent/server --flag", timeout=60)
    assert (r.code, r.out) == (69, b"")
    assert r.err.startswith("llmcli: --mcp '/nonexistent/server --flag': cannot start: ")


def test_without_the_sdk_the_error_says_what_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "mcp"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('no mcp here')\n")
    r = llmcli("mcp", "list-tools", "x", env={"PYTHONPATH": str(tmp_path)})
    assert (r.code, r.out) == (69, b"")
    assert r.err == "llmcli: --mcp needs the MCP SDK: pip install 'llmcli[mcp]'\n"


@pytest.fixture
def http_server() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [*shlex.split(SERVER), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # until it listens (a check, not a timing: 60 s at most)
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait()


def test_a_streamable_http_server_answers(http_server: str) -> None:
    run = llmcli(
        "chat",
        "-g",
        "mock",
        "-m",
        "tools",
        "--mcp",
        http_server,
        "--approve",
        "add",
        "--tool-choice",
        "add",
        "-v",
        "one two three",
        timeout=60,
    )
    assert (run.code, run.text) == (0, "tool said: 6\n")
    assert 'tool add {"a":3,"b":3} -> 1 characters in ' in run.err
