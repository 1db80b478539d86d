"""Attachments, tools, structured output and conversations in a file, end to end."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import clean_env, llmcli
from reading import read_until

from llmcli import mock as offline

DATA = Path(__file__).parent.parent / "data"
PNG = DATA / "pixel.png"
PDF = DATA / "page.pdf"
B64_PNG = base64.b64encode(PNG.read_bytes()).decode()
B64_PDF = base64.b64encode(PDF.read_bytes()).decode()


def sent_body(*args: str, command: str = "chat", stdin: bytes = b"") -> dict:
    r = llmcli(command, "-g", "mock", "--dry-run", *args, stdin=stdin)
    assert r.code == 0, r.err
    return orjson.loads(r.out)["body"]


# attachments ------------------------------------------------------------------------------


def test_local_png_becomes_a_data_url_part() -> None:
    body = sent_body("-a", str(PNG), "x")
    assert body["messages"][-1]["content"] == [
        {"type": "text", "text": "x"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64_PNG}"}},
    ]


def test_type_comes_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    renamed = tmp_path / "photo.jpg"
    renamed.write_bytes(PNG.read_bytes())
    part = sent_body("-a", str(renamed), "x")["messages"][-1]["content"][1]
    assert part["image_url"]["url"].startswith("data:image/png;base64,")


def test_pdf_url_and_local_image_give_three_parts_in_order() -> None:
    content = sent_body(
        "-a", str(PDF), "-a", "https://example.com/cat.jpg", "-a", str(PNG), "describe"
    )["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "describe"},
        {
            "type": "file",
            "file": {"filename": "page.pdf", "file_data": f"data:application/pdf;base64,{B64_PDF}"},
        },
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64_PNG}"}},
    ]


def test_attachment_from_stdin() -> None:
    content = sent_body("-a", "-", "what is this?", stdin=PNG.read_bytes())["messages"][-1][
        "content"
    ]
    assert content[0] == {"type": "text", "text": "what is this?"}
    assert content[1]["image_url"]["url"] == f"data:image/png;base64,{B64_PNG}"


def test_messages_attachments_are_image_and_document_blocks() -> None:
    content = sent_body(
        "-a",
        str(PNG),
        "-a",
        str(PDF),
        "-a",
        "https://example.com/x.png",
        "look",
        command="messages",
    )["messages"][-1]["content"]
    assert content == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64_PNG}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": B64_PDF},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/x.png"}},
        {"type": "text", "text": "look"},
    ]


@pytest.mark.parametrize("command", ["chat", "messages"])
def test_attachments_reach_the_server_intact(gw: offline.RunningGateway, command: str) -> None:
    r = llmcli(
        command, "--base-url", gw.base_url, "-m", "echo", "-a", str(PNG), "-a", str(PDF), "what?"
    )
    assert (r.code, r.out) == (0, b"what?\n")
    received = orjson.loads(gw.requests[-1].body)
    assert gw.requests[-1].headers["content-length"] == str(len(gw.requests[-1].body))
    text = orjson.dumps(received).decode()
    assert B64_PNG in text and B64_PDF in text


def test_bad_attachments_fail_before_sending(gw: offline.RunningGateway, tmp_path: Path) -> None:
    unknown = tmp_path / "notes.bin"
    unknown.write_bytes(b"just text")
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as f:
        f.write(PNG.read_bytes())
        f.truncate(33 * 1024 * 1024)
    cases = [
        (
            str(unknown),
            65,
            f"llmcli: {unknown}: not a PNG, JPEG, GIF or WebP image, or a PDF "
            "(by its first bytes)\n",
        ),
        (
            str(tmp_path / "missing.png"),
            66,
            f"llmcli: {tmp_path / 'missing.png'}: No such file or directory\n",
        ),
        (
            str(huge),
            65,
            f"llmcli: {huge}: 34,603,008 bytes is more than the 32 MiB an attachment may be\n",
        ),
    ]
    for source, code, err in cases:
        r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", "-a", source, "x")
        assert (r.code, r.err) == (code, err)
    assert gw.requests == []


# tools ------------------------------------------------------------------------------------


def test_tools_in_either_shape_and_one_tool_flag(tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(
        '[{"name": "lookup", "description": "Find", "input_schema": {"type": "object"}}]'
    )
    schema = tmp_path / "schema.json"
    schema.write_text(
        '{"type": "object", "description": "Add two numbers",'
        ' "properties": {"a": {"type": "number"}}}'
    )
    body = sent_body("--tools", str(tools), "--tool", f"add={schema}", "--tool-choice", "add", "x")
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "lookup", "description": "Find", "parameters": {"type": "object"}},
        },
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two numbers",
                "parameters": {
                    "type": "object",
                    "description": "Add two numbers",
                    "properties": {"a": {"type": "number"}},
                },
            },
        },
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}


@pytest.mark.parametrize("command", ["chat", "stream"])
def test_a_script_answers_a_tool_call_and_gets_the_final_reply(
    url: str, tmp_path: Path, command: str
) -> None:
    r = llmcli(command, "--base-url", url, "-m", "tools", "-H", "X-Mock-Fault: slow=7:0", "Paris")
    calls = [orjson.loads(line) for line in r.out.splitlines()]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert orjson.loads(calls[0]["function"]["arguments"]) == {"location": "Paris"}
    conv = tmp_path / "conv.jsonl"
    lines = [
        {"role": "user", "content": "Paris"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "noon"},
    ]
    conv.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in lines))
    final = llmcli(command, "--base-url", url, "-m", "tools", "--messages", str(conv))
    assert (final.code, final.out) == (0, b"tool said: sunny\nnoon\n")  # every trailing result
    answered = llmcli("messages", "--base-url", url, "-m", "tools", "--messages", str(conv))
    assert (answered.code, answered.out) == (0, b"tool said: sunny\nnoon\n")


# structured output ------------------------------------------------------------------------


def test_json_and_schema_set_the_response_format(tmp_path: Path) -> None:
    assert sent_body("--json", "x")["response_format"] == {"type": "json_object"}
    schema = tmp_path / "person card.json"
    schema.write_text('{"type": "object", "properties": {"name": {"type": "string"}}}')
    assert sent_body("--schema", str(schema), "x")["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "person_card",
            "strict": True,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    }


@pytest.mark.parametrize("command", ["chat", "stream"])
def test_a_reply_that_is_not_json_exits_3_with_its_text_on_stdout(url: str, command: str) -> None:
    r = llmcli(command, "--json", "--base-url", url, "-m", "echo", "not json")
    assert (r.code, r.out) == (3, b"not json\n")
    assert (
        r.err == "llmcli: the reply is not JSON, which --json asked for: it is text ('not json')\n"
    )
    cut = llmcli(command, "--json", "--base-url", url, "-m", "echo", '{"a": 1')
    assert (cut.code, cut.out) == (3, b'{"a": 1\n')
    assert cut.err.startswith("llmcli: the reply is not valid JSON, which --json asked for: line 1")
    ok = llmcli(command, "--json", "--base-url", url, "-m", "echo", '{"a": 1}')
    assert (ok.code, ok.out) == (0, b'{"a": 1}\n')


# conversations in a file ------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [("chat",), ("stream",), ("messages",), ("messages", "--stream")]
)
def test_three_turns_leave_six_messages(url: str, tmp_path: Path, command) -> None:
    conv = tmp_path / "conv.jsonl"
    for turn in ("one", "two", "three"):
        r = llmcli(*command, "--base-url", url, "-m", "echo", "-c", str(conv), turn)
        assert (r.code, r.out) == (0, f"{turn}\n".encode())
    messages = [orjson.loads(line) for line in conv.read_bytes().splitlines()]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert [m["content"] for m in messages[::2]] == ["one", "two", "three"]
    replies = [m["content"] for m in messages[1::2]]
    if command[0] == "messages":
        replies = [blocks[0]["text"] for blocks in replies]
    assert replies == ["one", "two", "three"]
    sent = llmcli(*command, "--dry-run", "--base-url", url, "-m", "echo", "-c", str(conv), "four")
    assert len(orjson.loads(sent.out)["body"]["messages"]) == 7


def test_reasoning_and_tool_calls_are_kept_but_reasoning_is_not_sent_back(
    url: str, tmp_path: Path
) -> None:
    conv = tmp_path / "conv.jsonl"
    llmcli("stream", "--base-url", url, "-m", "think", "-c", str(conv), "hi there")
    llmcli("chat", "--base-url", url, "-m", "tools", "-c", str(conv), "Oslo")
    saved = [orjson.loads(line) for line in conv.read_bytes().splitlines()]
    assert saved[1]["reasoning"] and saved[1]["reasoning_content"] and saved[1]["reasoning_details"]
    assert [c["function"]["name"] for c in saved[3]["tool_calls"]] == ["get_weather", "get_time"]
    sent = orjson.loads(
        llmcli("chat", "--dry-run", "--base-url", url, "-m", "echo", "-c", str(conv), "next").out
    )["body"]["messages"]
    assert "reasoning" not in sent[1] and "reasoning_content" not in sent[1]
    assert sent[1]["reasoning_details"] == saved[1]["reasoning_details"]


def test_system_prompt_is_kept_when_the_conversation_starts(url: str, tmp_path: Path) -> None:
    conv = tmp_path / "conv.jsonl"
    llmcli("chat", "--base-url", url, "-m", "echo", "-s", "be brief", "-c", str(conv), "hi")
    assert conv.read_bytes().splitlines()[0] == b'{"role":"system","content":"be brief"}'


@pytest.mark.parametrize("fault", ["status=500", "cut=3", "eof=3", "error_after=3"])
def test_a_failed_turn_leaves_the_file_byte_identical(url: str, tmp_path: Path, fault: str) -> None:
    conv = tmp_path / "conv.jsonl"
    llmcli("chat", "--base-url", url, "-m", "echo", "-c", str(conv), "first")
    before = conv.read_bytes()
    r = llmcli(
        "stream",
        "--retries",
        "0",
        "--base-url",
        url,
        "-m",
        "lorem",
        "-c",
        str(conv),
        "-H",
        f"X-Mock-Fault: {fault}",
        "second",
    )
    assert r.code != 0
    assert conv.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv.jsonl"]


def test_killing_a_turn_mid_stream_leaves_the_file_byte_identical(url: str, tmp_path: Path) -> None:
    conv = tmp_path / "conv.jsonl"
    llmcli("chat", "--base-url", url, "-m", "echo", "-c", str(conv), "first")
    before = conv.read_bytes()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmcli",
            "stream",
            "--base-url",
            url,
            "-m",
            "lorem",
            "--max-tokens",
            "2000",
            "-H",
            "X-Mock-Fault: slow=64:20",
            "-c",
            str(conv),
            "second",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=clean_env(),
    )
    assert proc.stdout is not None
    read_until(proc, proc.stdout.fileno(), b"ipsum")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert conv.read_bytes() == before
    third = llmcli("chat", "--base-url", url, "-m", "echo", "-c", str(conv), "third")
    assert third.code == 0
    assert len(conv.read_bytes().splitlines()) == 4


def test_continue_keeps_attachments_and_is_jsonl_only(url: str, tmp_path: Path) -> None:
    conv = tmp_path / "conv.jsonl"
    llmcli("chat", "--base-url", url, "-m", "echo", "-a", str(PNG), "-c", str(conv), "see")
    first = orjson.loads(conv.read_bytes().splitlines()[0])
    assert first["content"][1]["image_url"]["url"] == f"data:image/png;base64,{B64_PNG}"
    array = tmp_path / "array.json"
    array.write_text("[]")
    r = llmcli("chat", "--base-url", url, "-m", "echo", "-c", str(array), "x")
    assert (r.code, r.err) == (
        65,
        f"llmcli: {array}: --continue keeps JSONL (one message per line), not an array\n",
    )
    r = llmcli(
        "chat", "--base-url", url, "-m", "echo", "-c", str(conv), "--messages", str(conv), "x"
    )
    assert (r.code, r.err) == (
        2,
        "llmcli: --messages and --continue both give the history: pick one\n",
    )
