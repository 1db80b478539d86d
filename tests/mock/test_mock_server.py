"""The offline gateway (llmcli.mock), exercised over real HTTP on loopback with httpx."""

from __future__ import annotations

import base64
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from llmcli import mock
from llmcli.mock import Profile, RunningGateway

CHAT_MODELS = ["echo", "lorem", "think", "tools", "unicode"]
UNICODE_TEXT = "héllo wörld — 日本語 😀🎉 naïve café ∑ 👩\u200d💻 ok"


# ---- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    with mock.start() as running:
        yield running


@pytest.fixture()
def fresh() -> Iterator[RunningGateway]:
    """A gateway of its own, for tests that count requests."""
    with mock.start() as running:
        yield running


@pytest.fixture(scope="module")
def client(gw: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.base_url, timeout=10) as c:
        yield c


def chat_body(model: str = "echo", prompt: str = "hello big world", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def msg_body(model: str = "echo", prompt: str = "hello big world", **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }


def sse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of each SSE event; comments skipped."""
    text = raw.decode().replace("\r\n", "\n")
    events: list[tuple[str | None, str]] = []
    for block in text.split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, "\n".join(data)))
    return events


def assemble_chat(events: list[tuple[str | None, str]]) -> dict[str, Any]:
    """A chat stream assembled into the object the non-streaming request returns."""
    head: dict[str, Any] = {}
    message: dict[str, Any] = {}
    details: dict[int, dict[str, Any]] = {}
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    usage = None
    for _, data in events:
        if data == "[DONE]":
            break
        chunk = orjson.loads(data)
        head = {k: chunk[k] for k in ("id", "created", "model")}
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            delta = choice["delta"]
            finish = choice["finish_reason"] or finish
            if "role" in delta:
                message["role"] = delta["role"]
                message["content"] = delta.get("content")
            if delta.get("content") is not None:
                message["content"] = (message.get("content") or "") + delta["content"]
            for key in ("reasoning", "reasoning_content"):
                if key in delta:
                    message[key] = message.get(key, "") + delta[key]
            for item in delta.get("reasoning_details", []):
                d = details.setdefault(item["index"], {**item, "text": ""})
                d["text"] += item["text"]
            for call in delta.get("tool_calls", []):
                c = calls.setdefault(call["index"], {"function": {"arguments": ""}})
                for key in ("id", "type"):
                    if key in call:
                        c[key] = call[key]
                fn = call.get("function", {})
                if "name" in fn:
                    c["function"]["name"] = fn["name"]
                c["function"]["arguments"] += fn.get("arguments", "")
    if details:
        message["reasoning_details"] = [details[i] for i in sorted(details)]
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return {
        **head,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def assemble_messages(events: list[tuple[str | None, str]]) -> dict[str, Any]:
    """An Anthropic stream assembled into the non-streaming message."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for name, data in events:
        event = orjson.loads(data)
        assert event["type"] == name
        if name == "message_start":
            message = event["message"]
        elif name == "content_block_start":
            message["content"].append(dict(event["content_block"]))
        elif name == "content_block_delta":
            block, delta = message["content"][event["index"]], event["delta"]
            kind = delta["type"]
            if kind == "text_delta":
                block["text"] += delta["text"]
            elif kind == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif kind == "signature_delta":
                block["signature"] += delta["signature"]
            elif kind == "input_json_delta":
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
        elif name == "content_block_stop" and event["index"] in partial:
            message["content"][event["index"]]["input"] = orjson.loads(partial[event["index"]])
        elif name == "message_delta":
            message.update(event["delta"])
            message["usage"].update(event["usage"])
    return message


def raw_http(base_url: str, path: str, body: dict[str, Any], headers: str = "") -> bytes:
    """Send one request over a bare socket and return every byte of the response."""
    url = httpx.URL(base_url)
    payload = orjson.dumps(body)
    request = (
        f"POST {url.path}{path} HTTP/1.1\r\nHost: {url.host}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n{headers}\r\n"
    ).encode() + payload
    with socket.create_connection((url.host, url.port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def dechunk(response: bytes) -> list[bytes]:
    """The payloads of the HTTP chunks of a chunked response, in order."""
    _, _, rest = response.partition(b"\r\n\r\n")
    chunks = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return chunks


# ---- endpoints ---------------------------------------------------------------------------


def test_base_url_and_models(gw: RunningGateway, client: httpx.Client) -> None:
    assert gw.base_url == f"http://127.0.0.1:{gw.port}/v1"
    body = client.get("/models").json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == [*CHAT_MODELS, "embed-small", "embed-large"]
    assert all(m["object"] == "model" and m["created"] and m["owned_by"] for m in body["data"])


def test_chat_echo(client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=chat_body(prompt="hello big world"))
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "echo" and body["created"] == 1700000000
    assert body["choices"] == [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "hello big world"},
        }
    ]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}


def test_chat_prompt_from_content_parts(client: httpx.Client) -> None:
    content = [
        {"type": "text", "text": "one"},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "two"},
    ]
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": content}]
    r = client.post("/chat/completions", json={"model": "echo", "messages": messages})
    assert r.json()["choices"][0]["message"]["content"] == "one\ntwo"
    assert r.json()["usage"]["prompt_tokens"] == 4


def test_chat_echo_stream_pieces(client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=chat_body(stream=True))
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["transfer-encoding"] == "chunked"
    events = sse(r.content)
    assert events[-1] == (None, "[DONE]")
    deltas = [orjson.loads(d)["choices"][0]["delta"] for _, d in events[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert [d["content"] for d in deltas[1:-1]] == ["hello ", "big ", "world"]
    assert deltas[-1] == {}
    assert not any("usage" in orjson.loads(d) for _, d in events[:-1])


@pytest.mark.parametrize("model", CHAT_MODELS)
@pytest.mark.parametrize("prompt", ["hello big world", "  spaced\n\tout  "])
def test_chat_stream_equals_non_stream(client: httpx.Client, model: str, prompt: str) -> None:
    body = chat_body(model, prompt, max_tokens=7)
    whole = client.post("/chat/completions", json=body).json()
    streamed = client.post(
        "/chat/completions",
        json={**body, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert assemble_chat(sse(streamed.content)) == whole


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_messages_stream_equals_non_stream(client: httpx.Client, model: str) -> None:
    body = msg_body(model, max_tokens=6)
    whole = client.post("/messages", json=body).json()
    r = client.post("/messages", json={**body, "stream": True})
    events = sse(r.content)
    names = [n for n, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert assemble_messages(events) == whole


def test_chat_think(client: httpx.Client) -> None:
    message = client.post("/chat/completions", json=chat_body("think")).json()["choices"][0][
        "message"
    ]
    assert message["content"] == "hello big world"
    assert message["reasoning"] == message["reasoning_content"]
    assert message["reasoning"] == "The user wrote 3 words. I will repeat them back."
    assert message["reasoning_details"] == [
        {"type": "reasoning.text", "format": "unknown", "index": 0, "text": message["reasoning"]}
    ]
    r = client.post("/chat/completions", json=chat_body("think", stream=True))
    deltas = [orjson.loads(d)["choices"][0]["delta"] for _, d in sse(r.content)[1:-2]]
    kinds = ["reasoning" if "reasoning" in d else "content" for d in deltas]
    assert kinds == sorted(kinds, reverse=True) and kinds.count("reasoning") > 3
    for d in deltas:
        if "reasoning" in d:
            assert d["reasoning"] == d["reasoning_content"] == d["reasoning_details"][0]["text"]


def test_chat_tools(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat_body("tools", "Paris")).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [(c["id"], c["type"], c["function"]["name"]) for c in calls] == [
        ("call_0", "function", "get_weather"),
        ("call_1", "function", "get_time"),
    ]
    assert orjson.loads(calls[0]["function"]["arguments"]) == {"location": "Paris"}
    assert orjson.loads(calls[1]["function"]["arguments"]) == {"timezone": "UTC"}
    r = client.post("/chat/completions", json=chat_body("tools", "Paris", stream=True))
    indexes = [
        orjson.loads(d)["choices"][0]["delta"].get("tool_calls", [{}])[0].get("index")
        for _, d in sse(r.content)[:-1]
    ]
    assert indexes[1:5] == [0, 1, 0, 1]  # names first, then interleaved argument fragments


def test_chat_tools_answers_tool_result(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
    ]
    body = client.post("/chat/completions", json={"model": "tools", "messages": messages}).json()
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "tool said: sunny"}
    assert body["choices"][0]["finish_reason"] == "stop"


def test_messages_models(client: httpx.Client) -> None:
    echo = client.post("/messages", json=msg_body(system="be brief")).json()
    assert echo["type"] == "message" and echo["role"] == "assistant"
    assert echo["content"] == [{"type": "text", "text": "hello big world"}]
    assert echo["stop_reason"] == "end_turn" and echo["stop_sequence"] is None
    assert echo["usage"] == {"input_tokens": 5, "output_tokens": 3}
    think = client.post("/messages", json=msg_body("think")).json()
    assert [b["type"] for b in think["content"]] == ["thinking", "text"]
    assert think["content"][0]["signature"]
    tools = client.post("/messages", json=msg_body("tools", "Oslo")).json()
    assert tools["stop_reason"] == "tool_use"
    assert tools["content"] == [
        {"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {"location": "Oslo"}},
        {"type": "tool_use", "id": "toolu_1", "name": "get_time", "input": {"timezone": "UTC"}},
    ]
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "rainy"}],
    }
    answered = client.post(
        "/messages",
        json={
            **msg_body("tools", "Oslo"),
            "messages": [
                {"role": "user", "content": "Oslo"},
                {"role": "assistant", "content": tools["content"]},
                result,
            ],
        },
    ).json()
    assert answered["content"] == [{"type": "text", "text": "tool said: rainy"}]
    assert answered["stop_reason"] == "end_turn"


def test_messages_stream_deltas(client: httpx.Client) -> None:
    events = sse(client.post("/messages", json=msg_body("think", stream=True)).content)
    kinds = [orjson.loads(d)["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert kinds[0] == "thinking_delta"
    assert kinds.index("signature_delta") == kinds.count("thinking_delta")
    assert kinds[-1] == "text_delta"
    events = sse(client.post("/messages", json=msg_body("tools", stream=True)).content)
    kinds = [orjson.loads(d)["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert set(kinds) == {"input_json_delta"} and len(kinds) > 4
    start = orjson.loads(events[0][1])["message"]
    assert start["content"] == [] and start["usage"]["input_tokens"] == 3


def test_unicode(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat_body("unicode")).json()
    assert body["choices"][0]["message"]["content"] == UNICODE_TEXT
    r = client.post("/chat/completions", json=chat_body("unicode", stream=True))
    assert len(sse(r.content)) > 5


def test_lorem_lengths(client: httpx.Client) -> None:
    text = client.post("/chat/completions", json=chat_body("lorem")).json()["choices"][0][
        "message"
    ]["content"]
    assert len(text.split(" ")) == 100 and text.startswith("lorem ipsum dolor")
    body = chat_body("lorem", max_completion_tokens=250, stream=True, mock_words_per_chunk=100)
    events = sse(client.post("/chat/completions", json=body).content)
    pieces = [orjson.loads(d)["choices"][0]["delta"].get("content") for _, d in events[1:-2]]
    assert [len(p.split()) for p in pieces] == [100, 100, 50]
    assert len("".join(pieces).split(" ")) == 250
    long = client.post("/messages", json=msg_body("lorem", max_tokens=1000)).json()
    assert len(long["content"][0]["text"].split(" ")) == 1000
    assert long["usage"]["output_tokens"] == 1000


def test_embeddings(client: httpx.Client) -> None:
    body = {"model": "embed-small", "input": ["alpha", "beta gamma"]}
    floats = client.post("/embeddings", json=body).json()
    assert floats["object"] == "list" and floats["model"] == "embed-small"
    assert floats["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    vectors = [d["embedding"] for d in floats["data"]]
    assert [d["index"] for d in floats["data"]] == [0, 1]
    assert all(len(v) == 8 for v in vectors) and vectors[0] != vectors[1]
    assert all(abs(sum(x * x for x in v) - 1) < 1e-3 for v in vectors)
    assert client.post("/embeddings", json=body).json() == floats  # deterministic
    b64 = client.post("/embeddings", json={**body, "encoding_format": "base64"}).json()
    decoded = [list(struct.unpack("<8f", base64.b64decode(d["embedding"]))) for d in b64["data"]]
    assert decoded == vectors
    single = client.post("/embeddings", json={"model": "embed-small", "input": "alpha"}).json()
    assert single["data"][0]["embedding"] == vectors[0]
    large = client.post("/embeddings", json={"model": "embed-large", "input": "x"}).json()
    assert len(large["data"][0]["embedding"]) == 64
    dims = client.post("/embeddings", json={**body, "dimensions": 3}).json()
    assert len(dims["data"][0]["embedding"]) == 3
    tokens = client.post("/embeddings", json={"model": "embed-small", "input": [[1, 2, 3], [4]]})
    assert tokens.json()["usage"]["prompt_tokens"] == 4
    assert client.post("/embeddings", json={"model": "echo", "input": "x"}).status_code == 404
    assert client.post("/embeddings", json={"model": "embed-small", "input": 3}).status_code == 400


# ---- errors ------------------------------------------------------------------------------


def test_request_errors(client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=chat_body("nope"))
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": "model not found: nope",
            "type": "invalid_request_error",
            "code": "model_not_found",
        }
    }
    r = client.post(
        "/chat/completions",
        content=b'{"model": "echo",',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = client.post("/chat/completions", json={"model": "echo"})
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]
    r = client.post(
        "/messages", json={"model": "echo", "messages": [{"role": "user", "content": "x"}]}
    )
    assert r.status_code == 400
    assert r.json()["type"] == "error" and "max_tokens" in r.json()["error"]["message"]
    r = client.post("/messages", json=msg_body("nope"))
    assert r.json() == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model not found: nope"},
    }
    assert client.get("/nowhere").status_code == 404
    assert client.get("/v1/models").status_code == 404  # prefix is already in base_url
    r = client.get("/chat/completions")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_recorded_requests(fresh: RunningGateway) -> None:
    with httpx.Client(base_url=fresh.base_url) as c:
        before = time.monotonic()
        answers = [
            c.get("/models", headers={"Authorization": "Bearer k"}),
            c.post("/chat/completions", json=chat_body(), params={"q": "1"}),
            c.post("/embeddings", content=b"not json"),
        ]
        after, sent = time.monotonic(), fresh.body_bytes_sent
        listed = c.get("/_mock/requests").json()
        assert c.get(f"http://127.0.0.1:{fresh.port}/_mock/requests").json() == listed
    assert [(r.method, r.path) for r in fresh.requests] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions?q=1"),
        ("POST", "/v1/embeddings"),
    ]
    assert fresh.requests[0].headers["authorization"] == "Bearer k"
    assert orjson.loads(fresh.requests[1].body) == chat_body()
    received = [r.received for r in fresh.requests]
    assert before <= received[0] <= received[1] <= received[2] <= after  # in real time
    assert sent == sum(len(r.content) for r in answers)
    assert [r["body"] for r in listed] == [None, chat_body(), "not json"]
    assert listed[0]["headers"]["authorization"] == "Bearer k"
    fresh.clear()
    assert fresh.requests == []


@pytest.mark.parametrize(
    "auth,headers,ok",
    [
        ("bearer", {}, False),
        ("bearer", {"Authorization": "Basic abc"}, False),
        ("bearer", {"Authorization": "Bearer sk-1"}, True),
        ("x-api-key", {"Authorization": "Bearer sk-1"}, False),
        ("x-api-key", {"x-api-key": "k"}, True),
    ],
)
def test_auth_profiles(auth: str, headers: dict[str, str], ok: bool) -> None:
    with mock.start(Profile("t", prefix="/api/v1", auth=auth)) as gw:
        assert gw.base_url.endswith("/api/v1")
        r = httpx.post(gw.base_url + "/chat/completions", json=chat_body(), headers=headers)
        assert r.status_code == (200 if ok else 401)
        if not ok:
            assert r.json()["error"]["type"] == "authentication_error"


def test_bad_profile_and_fault_spec(client: httpx.Client) -> None:
    with pytest.raises(ValueError):
        mock.start("no-such-profile")
    with pytest.raises(ValueError):
        mock.start(faults="explode=1")
    r = client.post("/chat/completions", json=chat_body(), headers={"X-Mock-Fault": "cut=x"})
    assert r.status_code == 400 and "X-Mock-Fault" in r.json()["error"]["message"]


# ---- faults ------------------------------------------------------------------------------


def fault(
    client: httpx.Client,
    spec: str,
    path: str = "/chat/completions",
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return client.post(path, json=body or chat_body(), headers={"X-Mock-Fault": spec})


@pytest.mark.parametrize(
    "status,kind",
    [
        (429, "rate_limit_error"),
        (401, "authentication_error"),
        (402, "insufficient_balance"),
        (500, "server_error"),
        (502, "server_error"),
        (503, "server_error"),
        (529, "overloaded_error"),
    ],
)
def test_fault_status(client: httpx.Client, status: int, kind: str) -> None:
    r = fault(client, f"status={status}")
    assert r.status_code == status
    assert r.json()["error"]["type"] == kind and r.json()["error"]["message"]


@pytest.mark.parametrize(
    "status,kind",
    [
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (500, "api_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
    ],
)
def test_fault_status_messages_shape(client: httpx.Client, status: int, kind: str) -> None:
    r = fault(client, f"status={status}", "/messages", msg_body())
    assert r.status_code == status
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == kind


def test_fault_headers(client: httpx.Client) -> None:
    r = fault(client, "status=429;retry_after=2;reset=7")
    assert r.headers["retry-after"] == "2"
    assert r.headers["x-ratelimit-limit-requests"]
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert r.headers["x-ratelimit-reset-requests"] == "7s"


def test_fault_times(fresh: RunningGateway) -> None:
    with httpx.Client(base_url=fresh.base_url) as c:
        codes = [fault(c, "status=503;times=2").status_code for _ in range(4)]
        assert codes == [503, 503, 200, 200]
        assert fault(c, "status=429;times=1").status_code == 429  # counted per spec string
    assert fresh.fault_count("status=503;times=2") == 4


def test_fault_every(fresh: RunningGateway) -> None:
    with httpx.Client(base_url=fresh.base_url) as c:
        codes = [fault(c, "status=500;every=3").status_code for _ in range(7)]
    assert codes == [200, 200, 500, 200, 200, 500, 200]


def test_server_wide_faults_and_header_wins() -> None:
    with mock.start(faults="status=502;times=1") as gw, httpx.Client(base_url=gw.base_url) as c:
        assert c.post("/chat/completions", json=chat_body()).status_code == 502
        assert c.post("/chat/completions", json=chat_body()).status_code == 200
        gw.set_faults("status=500")
        assert fault(c, "status=429").status_code == 429
        assert c.get("/models").status_code == 500
        gw.set_faults(None)
        assert c.get("/models").status_code == 200


def test_fault_html_and_body(client: httpx.Client) -> None:
    r = fault(client, "status=502;html")
    assert r.status_code == 502 and r.headers["content-type"] == "text/html"
    assert r.text.startswith("<html>") and "502 Bad Gateway" in r.text
    r = fault(client, "status=503;body=upstream down%21")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/plain")
    assert r.text == "upstream down!"
    r = fault(client, "body=not json")
    assert r.status_code == 200 and r.text == "not json"


@pytest.mark.parametrize("stream", [False, True])
def test_fault_slow_gives_same_bytes(client: httpx.Client, stream: bool) -> None:
    body = chat_body("unicode", stream=stream)
    plain = client.post("/chat/completions", json=body).content
    assert fault(client, "slow=1:0", body=body).content == plain
    assert fault(client, "slow=7:1", body=body).content == plain


def test_fault_slow_write_sizes(gw: RunningGateway) -> None:
    raw = raw_http(
        gw.base_url, "/chat/completions", chat_body(stream=True), "X-Mock-Fault: slow=7:0\r\n"
    )
    chunks = dechunk(raw)
    assert max(map(len, chunks)) == 7 and len(chunks) > 50
    assert sse(b"".join(chunks))[-1] == (None, "[DONE]")


def test_fault_split_utf8(gw: RunningGateway) -> None:
    raw = raw_http(
        gw.base_url,
        "/chat/completions",
        chat_body("unicode", stream=True),
        "X-Mock-Fault: split_utf8\r\n",
    )
    chunks = dechunk(raw)
    broken = 0
    for chunk in chunks:
        try:
            chunk.decode()
        except UnicodeDecodeError:
            broken += 1
    assert broken >= 10  # every multi-byte character straddles a write boundary
    assert b"".join(chunks).decode().count("[DONE]") == 1
    plain = raw_http(gw.base_url, "/chat/completions", chat_body("unicode"))
    split = raw_http(
        gw.base_url, "/chat/completions", chat_body("unicode"), "X-Mock-Fault: split_utf8\r\n"
    )
    assert split.partition(b"\r\n\r\n")[2] == plain.partition(b"\r\n\r\n")[2]


def test_fault_cut_stream(client: httpx.Client) -> None:
    seen = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "POST",
            "/chat/completions",
            json=chat_body(stream=True),
            headers={"X-Mock-Fault": "cut=2"},
        ) as r,
    ):
        assert r.status_code == 200
        for part in r.iter_raw():
            seen += part
    assert len(sse(seen)) == 2


def test_fault_cut_non_stream(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        fault(client, "cut=1")
    with pytest.raises(httpx.RemoteProtocolError):
        fault(client, "cut=0", "/messages", msg_body())
    assert client.get("/models").status_code == 200  # the gateway carries on


def test_fault_eof(client: httpx.Client) -> None:
    r = fault(client, "eof=3", body=chat_body(stream=True))
    events = sse(r.content)
    assert len(events) == 3 and all(d != "[DONE]" for _, d in events)
    assert all(orjson.loads(d)["choices"][0]["finish_reason"] is None for _, d in events)


def test_fault_no_done(client: httpx.Client) -> None:
    events = sse(fault(client, "no_done", body=chat_body(stream=True)).content)
    assert events[-1][1] != "[DONE]"
    assert orjson.loads(events[-1][1])["choices"][0]["finish_reason"] == "stop"
    events = sse(fault(client, "no_done", "/messages", msg_body(stream=True)).content)
    assert events[-1][0] == "message_delta"


def test_fault_malformed(client: httpx.Client) -> None:
    events = sse(fault(client, "malformed=2", body=chat_body(stream=True)).content)
    assert events[1][1] == '{"choices": ['
    orjson.loads(events[0][1])
    orjson.loads(events[2][1])
    assert events[-1][1] == "[DONE]"
    r = fault(client, "malformed")
    assert r.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)


def test_fault_error_after(client: httpx.Client) -> None:
    events = sse(fault(client, "error_after=2", body=chat_body(stream=True)).content)
    assert len(events) == 3
    assert orjson.loads(events[2][1]) == {
        "error": {"message": "upstream error", "type": "server_error", "code": "upstream_error"}
    }
    events = sse(fault(client, "error_after=1", "/messages", msg_body(stream=True)).content)
    assert [n for n, _ in events] == ["message_start", "error"]
    assert orjson.loads(events[1][1]) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_fault_comment_and_crlf(client: httpx.Client) -> None:
    plain = client.post("/chat/completions", json=chat_body(stream=True)).content
    commented = fault(client, "comment", body=chat_body(stream=True)).content
    assert commented.startswith(b": OPENROUTER PROCESSING\n\ndata: ")
    assert commented.count(b": OPENROUTER PROCESSING") == len(sse(plain))
    assert sse(commented) == sse(plain)
    crlf = fault(client, "crlf;comment", body=chat_body(stream=True)).content
    assert b"\r\n\r\n" in crlf and b"\n\n" not in crlf.replace(b"\r\n", b"")
    assert crlf.replace(b"\r\n", b"\n") == commented
    anthropic = fault(client, "crlf", "/messages", msg_body(stream=True)).content
    assert anthropic.startswith(b"event: message_start\r\ndata: ")


def test_fault_delay(client: httpx.Client) -> None:
    started = time.perf_counter()
    assert fault(client, "delay=150").status_code == 200
    assert time.perf_counter() - started >= 0.15
    with pytest.raises(httpx.ReadTimeout):  # the delay comes before the head
        client.post(
            "/chat/completions",
            json=chat_body(),
            headers={"X-Mock-Fault": "delay=3000"},  # 60 times the timeout: never in time
            timeout=0.05,
        )


def test_silent(capfd: pytest.CaptureFixture[str], client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        fault(client, "cut=1", body=chat_body(stream=True))
    with client.stream(
        "POST", "/chat/completions", json=chat_body("lorem", stream=True, max_tokens=5000)
    ) as r:
        next(r.iter_raw())  # then hang up mid-stream
    client.post("/chat/completions", content=b"{")
    time.sleep(0.05)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_stop_and_serve_forever() -> None:
    running = mock.start()
    running.stop()
    running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(running.base_url + "/models")
    urls: list[str] = []

    def ready(url: str) -> None:
        urls.append(url)

        def interrupt() -> None:
            urls.append(httpx.get(url + "/models").json()["object"])
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()

    mock.serve_forever(port=0, ready=ready)
    assert urls[0].startswith("http://127.0.0.1:") and urls[0].endswith("/v1")
    assert urls[1] == "list"
