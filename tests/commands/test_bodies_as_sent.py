"""Replies read the way the official SDKs read them (DESIGN.md, "Output" and "Limits"):
a JSON body after a UTF-8 byte order mark, a delta field no rule of llmcli's knows
merged piece by piece instead of replaced. The real process against the offline
gateway on 127.0.0.1."""

from __future__ import annotations

import urllib.parse
import zlib

import orjson
import pytest
from conftest import llmcli

BOM = b"\xef\xbb\xbf"


def body(raw: bytes, kind: str) -> tuple[str, str]:
    quoted = urllib.parse.quote(raw, safe="")
    return ("-H", f"X-Mock-Fault: body={quoted};content_type={urllib.parse.quote(kind, safe='')}")


REPLY = orjson.dumps(
    {
        "id": "c1",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
    }
)


@pytest.mark.parametrize("command", ["chat", "stream"])
def test_a_json_body_after_a_byte_order_mark_is_read(url: str, command: str) -> None:
    r = llmcli(command, "--base-url", url, "-m", "x", *body(BOM + REPLY, "application/json"), "q")
    assert (r.code, r.out, r.err) == (0, b"hi\n", "")


def test_a_batch_row_keeps_a_body_after_a_byte_order_mark_as_json(url: str) -> None:
    r = llmcli(
        "batch", "run", "--base-url", url, "-m", "x", *body(BOM + REPLY, "application/json"),
        stdin=b"q\n",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert orjson.loads(r.out)["response"]["body"] == orjson.loads(REPLY)


def test_models_after_a_byte_order_mark(url: str) -> None:
    listing = BOM + b'{"object": "list", "data": [{"id": "m1", "object": "model"}]}'
    r = llmcli("models", "--base-url", url, *body(listing, "application/json"))
    assert (r.code, r.out) == (0, b"m1\n")


def test_an_audio_delta_is_merged_not_replaced(url: str) -> None:
    chunks = [
        {"role": "assistant", "audio": {"id": "audio_1"}},
        {"audio": {"data": "UklG", "transcript": "hel"}},
        {"audio": {"data": "Rg==", "transcript": "lo", "expires_at": 1700000000}},
    ]
    events = [
        {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d}]}
        for d in chunks
    ]
    events.append(
        {"id": "c", "object": "chat.completion.chunk",
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    )  # fmt: skip
    sse = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    r = llmcli(
        "stream", "-o", "json", "--base-url", url, "-m", "x", *body(sse, "text/event-stream"), "q"
    )
    assert r.code == 0, r.err
    assert orjson.loads(r.out)["choices"][0]["message"]["audio"] == {
        "id": "audio_1",
        "data": "UklGRg==",
        "transcript": "hello",
        "expires_at": 1700000000,
    }


@pytest.mark.parametrize("wbits", [-15, 15])  # raw deflate, as some servers send it; zlib
def test_a_deflate_body_read_a_byte_at_a_time_decodes(url: str, wbits: int) -> None:
    squeeze = zlib.compressobj(wbits=wbits)
    packed = squeeze.compress(REPLY) + squeeze.flush()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: deflate"
        b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(packed)
    )
    spec = f"raw={urllib.parse.quote(head + packed, safe='')};slow=1:1"
    r = llmcli("chat", "--base-url", url, "-m", "x", "-H", f"X-Mock-Fault: {spec}", "q")
    assert (r.code, r.out, r.err) == (0, b"hi\n", "")
