"""``llmcli models`` and ``llmcli embed`` end to end against the offline gateway."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from conftest import SECRET, clean_env, host, llmcli
from reading import read_to_end

from llmcli import mock as offline

MOCK_MODELS = b"echo\nlorem\nthink\ntools\nunicode\nembed-small\nembed-large\n"


@pytest.fixture(scope="module")
def lumyxai() -> Iterator[offline.RunningGateway]:
    with offline.start("lumyxai") as running:
        yield running


def seed(g: offline.RunningGateway, *args: str, stdin: bytes = b""):
    return llmcli(
        *args,
        "-g",
        "lumyxai",
        "--base-url",
        g.base_url,
        stdin=stdin,
        env={"LUMYXAI_API_KEY": SECRET},
    )


# models -----------------------------------------------------------------------------------


def test_models_one_id_per_line_on_a_pipe(url: str) -> None:
    r = llmcli("models", "--base-url", url)
    assert (r.code, r.out, r.err) == (0, MOCK_MODELS, "")


def test_models_json_is_the_body_as_sent(url: str) -> None:
    r = llmcli("models", "-o", "json", "--base-url", url)
    assert r.out == httpx.get(f"{url}/models").content + b"\n"


def test_models_jsonl_keeps_every_field(lumyxai) -> None:
    r = seed(lumyxai, "models", "-o", "jsonl")
    rows = [orjson.loads(line) for line in r.out.splitlines()]
    body = httpx.get(f"{lumyxai.base_url}/models", headers={"Authorization": "Bearer k"}).json()
    assert rows == body["data"]
    assert rows[0]["_meta"]["tags"]


@pytest.mark.parametrize(
    ("tags", "ids"),
    [
        (["vision"], b"lumyx-plus_v1\nlumyx-vision_v1\n"),
        (["vision", "reasoning"], b"lumyx-plus_v1\n"),
        (["uncensored"], b"lumyx-uncensored_v1\n"),
        (["nothing-has-this"], b""),
    ],
)
def test_models_tag_filter(lumyxai, tags: list[str], ids: bytes) -> None:
    args = [a for t in tags for a in ("--tag", t)]
    r = seed(lumyxai, "models", *args)
    assert (r.code, r.out) == (0, ids)


def test_models_search_and_one_model(lumyxai) -> None:
    assert seed(lumyxai, "models", "-q", "THINK").out == b"lumyx-think_v1\n"
    r = seed(lumyxai, "models", "lumyx-lite_v1", "-o", "jsonl")
    model = orjson.loads(r.out)
    assert model["id"] == "lumyx-lite_v1" and model["_meta"]["pricing"]["free"] is True
    r = seed(lumyxai, "models", "nope")
    assert r.code == 65
    assert r.err == "llmcli: no model 'nope' at lumyxai (`llmcli models -g lumyxai` lists them)\n"


def test_models_on_a_gateway_without_a_models_endpoint_is_78() -> None:
    r = llmcli("models", "-g", "lumenfall", env={"LUMENFALL_API_KEY": "k"})
    assert r.code == 78
    assert r.err.startswith("llmcli: gateway 'lumenfall' has no models endpoint")


def test_models_table_on_a_terminal(lumyxai) -> None:
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llmcli",
                "models",
                "-g",
                "lumyxai",
                "--base-url",
                lumyxai.base_url,
            ],
            stdout=terminal,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=clean_env({"LUMYXAI_API_KEY": "k", "COLUMNS": "120", "NO_COLOR": "1"}),
        )
        os.close(terminal)
        shown = read_to_end(proc, controller)
        proc.wait(timeout=10)
    finally:
        os.close(controller)
    screen = shown.decode()
    lines = [line.rstrip() for line in screen.splitlines()]
    assert lines[0].split() == ["ID", "CONTEXT", "PRICING", "(USD", "per", "1M", "tokens)", "TAGS"]
    assert lines[1].split() == [
        "lumyx-plus_v1",
        "128,000",
        "0.5",
        "/",
        "1.5",
        "reasoning,streaming,tools,vision",
    ]
    assert any(line.split()[:3] == ["lumyx-lite_v1", "32,000", "free"] for line in lines)
    assert "\x1b[" not in screen


# embed --------------------------------------------------------------------------------------


def lines(out: bytes) -> list[dict]:
    return [orjson.loads(line) for line in out.splitlines()]


def test_embed_text_arguments_one_line_each(url: str) -> None:
    r = llmcli("embed", "--base-url", url, "-m", "embed-small", "alpha", "beta")
    assert r.code == 0, r.err
    rows = lines(r.out)
    assert [row["index"] for row in rows] == [0, 1]
    assert all(list(row) == ["index", "embedding"] and len(row["embedding"]) == 8 for row in rows)
    direct = httpx.post(
        f"{url}/embeddings", json={"model": "embed-small", "input": ["alpha", "beta"]}
    )
    assert [row["embedding"] for row in rows] == [d["embedding"] for d in direct.json()["data"]]


def test_embed_stdin_lines_skip_empty_by_default(url: str) -> None:
    r = llmcli("embed", "--base-url", url, "-m", "embed-small", stdin=b"a\n\nb\r\n  \nc")
    assert [row["index"] for row in lines(r.out)] == [0, 2, 4]  # input positions
    r = llmcli(
        "embed", "--base-url", url, "-m", "embed-small", "--empty", "error", stdin=b"a\n\nb\n"
    )
    assert r.code == 65
    assert r.err == "llmcli: <stdin>:2:1: empty input (--empty skip passes over it)\n"


def test_embed_whole_files(url: str, tmp_path: Path) -> None:
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("line 1\nline 2\n")
    two.write_text("other")
    whole = llmcli(
        "embed", "--base-url", url, "-m", "embed-small", "--whole", "-f", str(one), "-f", str(two)
    )
    assert [r["index"] for r in lines(whole.out)] == [0, 1]
    same = llmcli("embed", "--base-url", url, "-m", "embed-small", "line 1\nline 2", "other")
    assert whole.out == same.out


def test_embed_jsonl_in_carries_fields(url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "body": "first"}\n{"id": "b", "body": "second", "n": 2}\n')
    r = llmcli(
        "embed",
        "--base-url",
        url,
        "-m",
        "embed-small",
        "--jsonl-in",
        "--field",
        "body",
        "-f",
        str(docs),
    )
    rows = lines(r.out)
    assert [{k: v for k, v in row.items() if k != "embedding"} for row in rows] == [
        {"id": "a", "index": 0},
        {"id": "b", "n": 2, "index": 1},
    ]


def test_embed_bad_jsonl_line_is_named_and_nothing_after_it_is_written(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        "".join(f'{{"text": "doc {i}"}}\n' for i in range(5))
        + '{"text": oops}\n'
        + '{"text": "after"}\n'
    )
    r = llmcli(
        "embed",
        "--base-url",
        gw.base_url,
        "-m",
        "embed-small",
        "--jsonl-in",
        "--batch-size",
        "2",
        "-f",
        str(docs),
    )
    assert r.code == 65
    assert r.err == f"llmcli: {docs}:6:10: unexpected character, expected a JSON value\n"
    assert [row["index"] for row in lines(r.out)] == [0, 1, 2, 3, 4]
    sent = [orjson.loads(q.body)["input"] for q in gw.requests]
    assert sorted(x for batch in sent for x in batch) == [f"doc {i}" for i in range(5)]


def test_embed_hundred_thousand_lines_in_order(url: str) -> None:
    data = "".join(f"{i}\n" for i in range(1, 100_001)).encode()
    r = llmcli(
        "embed",
        "--base-url",
        url,
        "-m",
        "embed-small",
        "--batch-size",
        "256",
        "--parallel",
        "4",
        stdin=data,
        timeout=120,
    )
    assert r.code == 0, r.err
    out = r.out.splitlines()
    assert len(out) == 100_000
    assert [orjson.loads(line)["index"] for line in out[::9_999]] == list(range(0, 100_000, 9_999))
    assert all(orjson.loads(out[i])["index"] == i for i in range(0, 100_000, 997))


def test_embed_survives_429_on_every_third_batch(gw: offline.RunningGateway) -> None:
    gw.set_faults("status=429;every=3;retry_after=0")
    data = "".join(f"t{i}\n" for i in range(60)).encode()
    r = llmcli(
        "embed",
        "--base-url",
        gw.base_url,
        "-m",
        "embed-small",
        "--batch-size",
        "5",
        "--parallel",
        "3",
        # three workers share the server's every-3rd counter, so a retried batch can
        # land on a multiple of 3 again; ten retries make that a one-in-59,049 event
        "--retries",
        "10",
        stdin=data,
    )
    assert r.code == 0, r.err
    assert [row["index"] for row in lines(r.out)] == list(range(60))
    gw.set_faults(None)
    clean = llmcli(
        "embed", "--base-url", gw.base_url, "-m", "embed-small", "--batch-size", "5", stdin=data
    )
    assert r.out == clean.out
    assert r.err.count("; retry ") >= 5  # each announced (a repeat as "the same again")


def test_embed_base64_and_float_answers_give_identical_lines(url: str) -> None:
    args = ("embed", "--base-url", url, "-m", "embed-large", "--dimensions", "32", "a", "b c")
    as_float = llmcli(*args, "--encoding-format", "float")
    as_base64 = llmcli(*args, "--encoding-format", "base64")
    assert as_float.code == as_base64.code == 0
    assert as_base64.out == as_float.out
    assert len(lines(as_float.out)[0]["embedding"]) == 32


def test_embed_wrong_number_of_vectors_is_76(url: str) -> None:
    fake = '{"data": [{"index": 0, "embedding": [1.0]}]}'
    r = llmcli(
        "embed",
        "--base-url",
        url,
        "-m",
        "embed-small",
        "-H",
        f"X-Mock-Fault: body={fake}",
        "a",
        "b",
    )
    assert r.code == 76
    assert r.err == f"llmcli: {host(url)}: sent 2 inputs but got 1 embeddings back\n"
    assert r.out == b""


def test_embed_on_a_gateway_without_embeddings_is_78(gw: offline.RunningGateway) -> None:
    r = llmcli(
        "embed",
        "-g",
        "lumenfall",
        "--base-url",
        gw.base_url,
        "-m",
        "x",
        "hi",
        env={"LUMENFALL_API_KEY": "k"},
    )
    assert r.code == 78
    assert r.err == "llmcli: gateway 'lumenfall' has no embeddings endpoint (it offers: chat)\n"
    assert gw.requests == []


def test_embed_json_is_each_body_as_sent_and_usage_adds_up(url: str) -> None:
    r = llmcli("embed", "-o", "json", "--usage", "--base-url", url, "-m", "embed-small", "one two")
    direct = httpx.post(f"{url}/embeddings", json={"model": "embed-small", "input": ["one two"]})
    assert r.out == direct.content + b"\n"
    assert orjson.loads(r.err)["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_embed_seed_004_default_model(lumyxai) -> None:
    r = seed(lumyxai, "embed", "hello")
    assert r.code == 0, r.err
    assert len(lines(r.out)[0]["embedding"]) == 16
    assert orjson.loads(lumyxai.requests[-1].body)["model"] == "lumyx-embed_v1"


def test_embed_takes_a_whole_body_and_flags_override_it(url: str, tmp_path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"model": "embed-small", "input": ["a", "b"], "dimensions": 4}')
    whole = llmcli("embed", "--base-url", url, "--body", str(body))
    assert whole.code == 0, whole.err
    lines = [orjson.loads(line) for line in whole.out.splitlines()]
    assert [line["index"] for line in lines] == [0, 1]
    assert [len(line["embedding"]) for line in lines] == [4, 4]
    dry = llmcli("embed", "--base-url", url, "--body", str(body), "--dimensions", "2", "--dry-run")
    assert orjson.loads(dry.out)["body"] == {
        "dimensions": 2,
        "model": "embed-small",
        "input": ["a", "b"],
    }
    bad = tmp_path / "bad.json"
    bad.write_text('{"input": 5}')
    r = llmcli("embed", "--base-url", url, "-m", "embed-small", "--body", str(bad))
    assert (r.code, r.err) == (
        65,
        f'llmcli: --body {bad}: "input" must be a string or a list of strings\n',
    )
