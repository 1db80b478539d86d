"""``--record`` / ``--replay`` through the real process: every command and output mode
recorded against the offline gateway (and its seed profiles), then replayed with the
gateway stopped: the same stdout bytes and exit status. No key reaches a cassette;
identical requests replay in recorded order; a request with no recording is exit 69
naming the nearest; ``llmcli serve --replay`` serves a cassette to any client."""

from __future__ import annotations

import base64
import os
import re
import select
import stat
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from conftest import Result, clean_env, llmcli

import llmcli as library
from llmcli import mock as offline

KEY = "sk-cassette-key-0123456789"
HEADER_KEY = "sk-header-key-9876543210"
URL_PASSWORD = "pw-in-the-url-4567"
BATCH = (
    b"a plain prompt\n"
    b'{"custom_id": "em", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}\n'
    b"{not json\n"
    b"another prompt\n"
)
# profile: (the key's variable, the gateway flags but --base-url, commands: (args, stdin))
Job = tuple[tuple[str, ...], bytes]
PROFILES: dict[str, tuple[str | None, tuple[str, ...], list[Job]]] = {
    "mock": (
        None,
        (),
        [
            (("chat", "-m", "echo", "hello there"), b""),
            (("chat", "-m", "echo", "-o", "json", "hello there"), b""),
            (("chat", "-m", "tools", "-o", "jsonl", "call them"), b""),
            (("chat", "-m", "nope", "no such model"), b""),
            (("stream", "-m", "lorem", "--max-tokens", "5", "hi"), b""),
            (("stream", "-m", "think", "-o", "json", "hi"), b""),
            (("stream", "-m", "lorem", "--max-tokens", "5", "-o", "jsonl", "hi"), b""),
            (("stream", "-m", "unicode", "-o", "sse", "hi"), b""),
            (("stream", "-m", "lorem", "-H", "X-Mock-Fault: cut=2", "cut short"), b""),
            (("messages", "-m", "echo", "hello"), b""),
            (("messages", "-m", "think", "--stream", "-o", "json", "hello"), b""),
            (("messages", "-m", "lorem", "--stream", "-o", "sse", "hello"), b""),
            (("responses", "-m", "think", "--reasoning", "hello"), b""),
            (("responses", "-m", "tools", "--stream", "-o", "jsonl", "hello"), b""),
            (("responses", "-m", "echo", "--stream", "-o", "sse", "hello"), b""),
            (("embed", "-m", "embed-small", "a", "b"), b""),
            (("embed", "-m", "embed-large", "-o", "json", "a"), b""),
            (("models",), b""),
            (("models", "-o", "jsonl"), b""),
            (("batch", "run", "-m", "echo", "-P", "4"), BATCH),
        ],
    ),
    "lumyxai": (
        "LUMYXAI_API_KEY",
        ("-g", "lumyxai"),
        [
            (("chat", "hi"), b""),
            (("stream", "-o", "sse", "hi"), b""),
            (("messages", "--stream", "hi"), b""),
            (("embed", "a"), b""),
            (("models", "-o", "json"), b""),
            (("batch", "run", "-P", "2"), b"one\ntwo\n"),
        ],
    ),
    "anthropic": (
        "ANTHROPIC_API_KEY",
        ("-g", "anthropic"),
        [(("messages", "-o", "json", "hi"), b""), (("models",), b"")],
    ),
    "lumiltc": (None, ("-g", "lumiltc"), [(("stream", "-o", "jsonl", "hi"), b"")]),
}


def run_all(jobs: Sequence[tuple[Sequence[str], bytes, dict[str, str]]]) -> list[Result]:
    """Run llmcli processes side by side (their cassette lines must stay whole)."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda job: llmcli(*job[0], stdin=job[1], env=job[2]), jobs))


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_command_replays_byte_for_byte(tmp_path: Path, profile: str) -> None:
    var, flags, commands = PROFILES[profile]
    cassette = str(tmp_path / "c.jsonl")
    with offline.start(profile) as gateway:
        where = (*flags, "--base-url", gateway.base_url)
        env = {var: KEY} if var else {}
        recorded = run_all([((*a, *where, "--record", cassette), i, env) for a, i in commands])
    assert [r.code for r in recorded if r.code] == ([65, 76, 65] if profile == "mock" else [])
    sent = {"mock": 22, "lumyxai": 7, "anthropic": 2, "lumiltc": 1}  # a batch row is one
    assert len(lines(Path(cassette))) == sent[profile]
    # the gateway is gone, and so is the key
    replayed = run_all([((*a, *where, "--replay", cassette), i, {}) for a, i in commands])
    for (args, _), first, again in zip(commands, recorded, replayed, strict=True):
        assert (again.code, again.out) == (first.code, first.out), args
        assert again.err == first.err, args
    assert KEY.encode() not in Path(cassette).read_bytes()


def test_no_key_reaches_a_cassette(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    basic = base64.b64encode(f"user:{URL_PASSWORD}".encode()).decode()
    secrets = [KEY, HEADER_KEY, URL_PASSWORD, basic, "sk-api-key-header-1"]
    with offline.start() as gateway:
        base = gateway.base_url
        url = base.replace("http://", f"http://user:{URL_PASSWORD}@")
        asks = [
            ("-g", "lumyxai", "--base-url", base, "hi"),  # the key from the environment
            ("--base-url", base, "-H", f"Authorization: Bearer {HEADER_KEY}", "hi"),
            ("--base-url", url, "hi"),
            ("--base-url", base, "-H", "X-Api-Key: sk-api-key-header-1", "hi"),
            ("-g", "lumyxai", "--base-url", url, "-H", "X-Mock-Fault: echo_headers", "echo"),
        ]
        env = {"LUMYXAI_API_KEY": KEY}
        recorded = [
            llmcli("chat", "-m", "echo", *a, "--record", str(cassette), env=env) for a in asks
        ]
        sent = [r.headers.get("authorization", "") for r in gateway.requests]
    assert [r.code for r in recorded] == [0, 0, 0, 0, 65]
    assert f"Bearer {KEY}" in sent and f"Basic {basic}" in sent  # they did go out
    data = cassette.read_text()
    assert [s for s in secrets if s in data] == []
    assert "***" in lines(cassette)[-1]["response"]["body"]  # the echo, redacted
    assert all("authorization" not in x["request"]["headers"] for x in lines(cassette))
    assert stat.S_IMODE(cassette.stat().st_mode) == 0o600
    again = llmcli("chat", "-m", "echo", *asks[-1], "--replay", str(cassette))
    assert (again.code, again.out) == (recorded[-1].code, recorded[-1].out)


def test_identical_requests_replay_in_recorded_order(tmp_path: Path) -> None:
    cassette = str(tmp_path / "c.jsonl")
    ask = ("chat", "-m", "echo", "--retries", "1", "-H", "X-Mock-Fault: status=503;times=1")
    with offline.start() as gateway:
        first = llmcli(*ask, "--base-url", gateway.base_url, "--record", cassette, "again")
    assert [x["response"]["status"] for x in lines(Path(cassette))] == [503, 200]
    again = llmcli(*ask, "--base-url", gateway.base_url, "--replay", cassette, "again")
    assert (again.code, again.out) == (first.code, first.out) == (0, b"again\n")
    retry = re.compile(r"in \d+\.\ds$", re.M)
    assert retry.sub("", again.err) == retry.sub("", first.err)
    assert again.err.startswith("llmcli: 503 Service Unavailable from 127.0.0.1:")


def test_a_request_without_a_recording_is_69_naming_the_nearest(tmp_path: Path) -> None:
    cassette = str(tmp_path / "c.jsonl")
    assert llmcli("chat", "-g", "mock", "-m", "echo", "--record", cassette, "hello").code == 0
    r = llmcli("chat", "-g", "mock", "-m", "echo", "--replay", cassette, "goodbye")
    assert (r.code, r.out) == (69, b"")
    assert r.err == (
        f"llmcli: no recording of POST /v1/chat/completions with this body in cassette "
        f'{cassette}; the nearest recorded body differs at character 26: sent …"messages":'
        '[{"content":"goodbye","role":"user"}]…, recorded …"messages":[{"content":'
        '"hello","role":"user"}],"…\n'
    )
    r = llmcli("models", "-g", "mock", "--replay", cassette)
    assert (r.code, r.out) == (69, b"")
    assert r.err == (
        f"llmcli: no recording of GET /v1/models in cassette {cassette}; nearest recorded "
        "request: POST /v1/chat/completions\n"
    )


def test_parallel_runs_record_whole_lines_through_the_environment(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    inputs = [b"".join(b"prompt %s%d\n" % (run, i) for i in range(30)) for run in (b"a", b"b")]
    with offline.start() as gateway:
        ask = ["batch", "run", "-m", "lorem", "--max-tokens", "300", "-P", "16"]
        ask += ["--base-url", gateway.base_url]
        env = {"LLMCLI_RECORD": str(cassette)}
        runs = run_all([(ask, rows, env) for rows in inputs])
    assert [r.code for r in runs] == [0, 0]
    assert len(lines(cassette)) == 60  # every line whole JSON
    again = llmcli(*ask, stdin=inputs[1], env={"LLMCLI_REPLAY": str(cassette)})
    assert (again.code, again.out) == (0, runs[1].out)


def test_provider_batches_replay(tmp_path: Path) -> None:
    cassette = str(tmp_path / "c.jsonl")
    rows = b"first\nsecond\n"
    with offline.start(batch_seconds=3600) as gateway:
        where = ("--base-url", gateway.base_url, "-m", "echo", "--record", cassette)
        submitted = llmcli("batch", "submit", "-", *where, stdin=rows)
        batch = orjson.loads(submitted.out)["id"]
        status = llmcli("batch", "status", batch, *where)
        gateway.advance_clock(3600)  # the batch has run its hour: no wait
        fetched = llmcli("batch", "fetch", batch, "--wait", *where)
    assert (submitted.code, status.code, fetched.code) == (0, 0, 0), fetched.err
    assert orjson.loads(status.out)["status"] == "validating"
    where = (*where[:-2], "--replay", cassette)
    assert llmcli("batch", "submit", "-", *where, stdin=rows).out == submitted.out
    assert llmcli("batch", "status", batch, *where).out == status.out
    again = llmcli("batch", "fetch", batch, "--wait", *where)
    assert (again.code, again.out) == (0, fetched.out)


def test_the_library_records_and_replays(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
    with (
        offline.start() as gateway,
        library.Client(base_url=gateway.base_url, record=cassette) as client,
    ):
        recorded = (client.chat(body), client.chat({**body, "stream": True}), client.models())
    with library.Client(base_url=gateway.base_url, replay=cassette) as client:
        replayed = (client.chat(body), client.chat({**body, "stream": True}), client.models())
        assert replayed == recorded
        with pytest.raises(library.UnavailableError) as miss:
            client.chat({**body, "model": "lorem"})
    assert miss.value.exit_code == 69
    with pytest.raises(library.UsageError):
        library.Client("mock", record=cassette, replay=cassette)


def test_recording_and_replaying_at_once_is_a_usage_error(tmp_path: Path) -> None:
    cassette = str(tmp_path / "c.jsonl")
    r = llmcli("chat", "-g", "mock", "-m", "echo", "--record", cassette, "--replay", cassette, "x")
    assert (r.code, r.out, r.err) == (
        2,
        b"",
        "llmcli: --record and --replay cannot be used together\n",
    )
    env = {"LLMCLI_RECORD": cassette, "LLMCLI_REPLAY": cassette}
    r = llmcli("chat", "-g", "mock", "-m", "echo", "x", env=env)
    assert (r.code, r.err) == (2, "llmcli: --record and --replay cannot be used together\n")
    assert not os.path.exists(cassette)


def test_cassettes_that_cannot_be_used(tmp_path: Path, gw: offline.RunningGateway) -> None:
    where = ("chat", "--base-url", gw.base_url, "-m", "echo", "x")
    missing = tmp_path / "no" / "c.jsonl"
    r = llmcli(*where, "--record", str(missing))
    assert (r.code, r.out) == (73, b"")
    assert r.err == f"llmcli: cannot write cassette {missing}: No such file or directory\n"
    assert gw.requests == []  # checked before anything is sent
    r = llmcli(*where, "--replay", str(missing))
    assert (r.code, r.err) == (
        66,
        f"llmcli: cannot read cassette {missing}: No such file or directory\n",
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    r = llmcli(*where, "--replay", str(bad))
    assert (r.code, r.err) == (
        65,
        f"llmcli: {bad}:1: not a cassette line: unexpected character, expected a string key\n",
    )


def test_serve_replays_a_cassette_to_any_client(tmp_path: Path) -> None:
    cassette = str(tmp_path / "c.jsonl")
    first = llmcli("stream", "-g", "mock", "-m", "lorem", "-o", "sse", "--record", cassette, "x")
    assert first.code == 0
    serve = [sys.executable, "-m", "llmcli", "serve", "--port", "0", "--quiet"]
    p = subprocess.Popen([*serve, "--replay", cassette], stdout=subprocess.PIPE, env=clean_env())
    try:
        assert p.stdout is not None
        assert select.select([p.stdout], [], [], 15)[0]
        base = p.stdout.readline().decode().strip()
        again = llmcli("stream", "--base-url", base, "-m", "lorem", "-o", "sse", "x")
        assert (again.code, again.out) == (0, first.out)
        miss = llmcli("chat", "--base-url", base, "-m", "lorem", "x")
        assert (miss.code, miss.out) == (69, b"")
        assert miss.err.startswith("llmcli: no recording of POST /v1/chat/completions with ")
    finally:
        p.terminate()
        p.wait(timeout=10)
    r = llmcli("serve", "--port", "0", "--replay", str(tmp_path / "none.jsonl"))
    assert (r.code, r.out) == (66, b"")


def test_serve_listens_where_no_known_local_server_does() -> None:
    r = llmcli("serve", "--help", env={"COLUMNS": "200"})
    assert r.code == 0
    assert "[default: 8765;" in r.text and "8080" not in r.text


def test_the_readme_example_runs(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Testing your scripts offline", 1)[1]
    script = section.split("```sh\n", 1)[1].split("```", 1)[0]
    script = script.replace("llmcli serve --quiet", "llmcli serve --quiet --port 0")
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        env=clean_env({"PATH": path}),
        timeout=30,
    )
    assert done.stdout == b"identical\n"
    assert done.stderr.decode().startswith(
        "llmcli: no recording of POST /v1/chat/completions with this body in cassette "
        "check.jsonl; the nearest recorded body differs at character 30: sent "
    )
    assert done.returncode == 69


def test_secrets_in_queries_custom_headers_and_short_keys_stay_out(tmp_path: Path) -> None:
    # (a secret inside a body recorded in base64: tests/core/test_cassette.py)
    cassette = tmp_path / "c.jsonl"
    with offline.start() as gateway:
        base = gateway.base_url
        env = {"OPENAI_API_KEY": "abc"}  # a key shorter than 4 characters
        asks = [
            ("--base-url", base + "?api_key=sk-query-secret-77", "hi"),
            ("--base-url", base, "-H", "X-Custom-Sub: sk-custom-header-55", "hi"),
            ("--base-url", base, "-H", "X-Mock-Fault: echo_headers", "short"),
        ]
        for ask in asks:
            llmcli("chat", "-m", "echo", *ask, "--record", str(cassette), env=env)
        sent = [r.headers.get("authorization") for r in gateway.requests]
    assert sent == ["Bearer abc"] * 3  # the short key did go out
    data = cassette.read_bytes()
    for secret in ("sk-query-secret-77", "sk-custom-header-55", "Bearer abc"):
        assert secret.encode() not in data, secret
    assert lines(cassette)[0]["request"]["path"].endswith("?api_key=***")
    assert "***" in lines(cassette)[2]["response"]["body"]  # the echo, masked


@pytest.mark.parametrize(
    ("response", "why"),
    [
        ({"status": 100, "headers": {}, "body": ""}, "response needs a status from 200 to 599"),
        (
            {"status": 200, "headers": {"bad name": "x"}, "body": ""},
            "response header 'bad name' cannot be sent as it is",
        ),
    ],
)
def test_a_cassette_that_would_hang_or_break_the_answer_is_65(
    tmp_path: Path, response: dict, why: str
) -> None:
    bad = tmp_path / "c.jsonl"
    line = {"request": {"method": "GET", "path": "/v1/models", "headers": {}}, "response": response}
    bad.write_bytes(orjson.dumps(line) + b"\n")
    r = llmcli("models", "-g", "mock", "--replay", str(bad), timeout=10)
    assert (r.code, r.out) == (65, b"")
    assert r.err == f"llmcli: {bad}:1: not a cassette line: {why}\n"


def test_a_replay_miss_stops_a_batch_run_with_69(tmp_path: Path) -> None:
    cassette = str(tmp_path / "c.jsonl")
    rec = llmcli("batch", "run", "-g", "mock", "-m", "echo", "--record", cassette, stdin=b"a\n")
    assert rec.code == 0
    r = llmcli("batch", "run", "-g", "mock", "-m", "echo", "--replay", cassette, stdin=b"a\nb\n")
    assert r.code == 69
    assert r.err.startswith("llmcli: no recording of POST /v1/chat/completions with this body")
