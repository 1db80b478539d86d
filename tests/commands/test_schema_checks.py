"""``--schema FILE`` checks the reply with jsonschema: exit 3 naming the JSON path and the
reason of the first error, the reply still on stdout; chat, stream and messages (whose
--schema is Anthropic's output_config.format)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from conftest import llmcli

from llmcli import mock as offline

SCHEMA = {
    "type": "object",
    "required": ["answer"],
    "properties": {
        "answer": {"type": "integer"},
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"n": {"type": "number"}}},
        },
    },
}


@pytest.fixture
def schema(tmp_path: Path) -> str:
    path = tmp_path / "reply.json"
    path.write_text(json.dumps(SCHEMA))
    return str(path)


COMMANDS = [("chat",), ("stream",), ("messages",), ("messages", "--stream")]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ('{"x": 1}', "$.answer: 'answer' is a required property"),
        ('{"answer": "no"}', "$.answer: 'no' is not of type 'integer'"),
        (
            '{"answer": 1, "items": [{"n": 1}, {"n": "2"}]}',
            "$.items[1].n: '2' is not of type 'number'",
        ),
    ],
)
def test_a_reply_that_breaks_the_schema_is_3_naming_path_and_reason(
    url: str, schema: str, command: tuple[str, ...], reply: str, error: str
) -> None:
    r = llmcli(*command, "--base-url", url, "-m", "echo", "--schema", schema, reply)
    assert (r.code, r.out) == (3, reply.encode() + b"\n")
    assert r.err == f"llmcli: the reply does not match --schema {schema}: {error}\n"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_reply_that_matches_is_0(url: str, schema: str, command: tuple[str, ...]) -> None:
    r = llmcli(*command, "--base-url", url, "-m", "echo", "--schema", schema, '{"answer": 42}')
    assert (r.code, r.out, r.err) == (0, b'{"answer": 42}\n', "")


def test_messages_sends_the_schema_as_output_config_format(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"name": "reply", "schema": SCHEMA}))
    r = llmcli("messages", "--base-url", gw.base_url, "-m", "echo", "--schema", str(wrapped), "{}")
    assert r.code == 3
    body = orjson.loads(gw.requests[-1].body)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}


def test_messages_json_checks_the_reply_parses(url: str) -> None:
    r = llmcli("messages", "--base-url", url, "-m", "echo", "--json", "not json")
    assert (r.code, r.out) == (3, b"not json\n")
    assert (
        r.err == "llmcli: the reply is not JSON, which --json asked for: it is text ('not json')\n"
    )
    r = llmcli("messages", "--base-url", url, "-m", "echo", "--json", "--schema", "x.json", "{}")
    assert (r.code, r.err) == (
        2,
        "llmcli: --json and --schema both set the reply format: pick one\n",
    )


@pytest.mark.parametrize("command", ["chat", "messages"])
def test_a_schema_that_is_not_one_is_65_and_nothing_is_sent(
    gw: offline.RunningGateway, tmp_path: Path, command: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": 5}')
    r = llmcli(command, "--base-url", gw.base_url, "-m", "echo", "--schema", str(bad), "{}")
    assert (r.code, r.out) == (65, b"")
    assert r.err == (
        f"llmcli: --schema {bad}: not a valid JSON Schema: 5 is not valid under any of the "
        "given schemas\n"
    )
    assert gw.requests == []


def test_the_library_does_not_load_jsonschema_without_a_schema(url: str) -> None:
    probe = (
        "import sys\nfrom llmcli.cli.app import run\n"
        f"run(['chat', '--base-url', '{url}', '-m', 'echo', 'hi'])\n"
        "print('jsonschema' in sys.modules, file=sys.stderr)"
    )
    import subprocess
    import sys

    from conftest import clean_env

    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, env=clean_env(), timeout=30
    )
    assert done.stdout == b"hi\n"
    assert done.stderr.decode().strip().splitlines()[-1] == "False"


def test_json_object_with_a_schema_sends_json_object_and_checks_here(
    url: str, tmp_path: Path
) -> None:
    """Some servers refuse json_schema (a 500): --response-format json_object is sent as
    given, and the schema is checked on this side only (issue 26)."""
    schema = tmp_path / "s.json"
    schema.write_text('{"type": "object", "required": ["a"]}')
    flags = ["--base-url", url, "-m", "echo", "--response-format", "json_object"]
    sent = llmcli("chat", *flags, "--schema", str(schema), "--dry-run", "x")
    assert orjson.loads(sent.out)["body"]["response_format"] == {"type": "json_object"}
    bad = llmcli("chat", *flags, "--schema", str(schema), '{"b": 1}')
    assert (bad.code, bad.out) == (3, b'{"b": 1}\n')
    assert bad.err == (
        f"llmcli: the reply does not match --schema {schema}: $.a: 'a' is a required property\n"
    )
    good = llmcli("chat", *flags, "--schema", str(schema), '{"a": 1}')
    assert (good.code, good.err) == (0, "")
