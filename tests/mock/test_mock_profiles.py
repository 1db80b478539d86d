"""The offline gateway's profiles: each imitates one gateway on the wire (seeds 000-004,
Anthropic, OpenRouter). Real HTTP on loopback with httpx, one gateway per profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from llmcli import mock
from llmcli.mock import PROFILES, Profile, RunningGateway

KEY = {"Authorization": "Bearer sk-test"}
ANTHROPIC = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
MOCK_CHAT = ["echo", "lorem", "think", "tools", "unicode"]
THOUGHT = "The user wrote 3 words. I will repeat them back."
ENDPOINTS = {
    "chat": ("POST", "/chat/completions"),
    "models": ("GET", "/models"),
    "embeddings": ("POST", "/embeddings"),
    "messages": ("POST", "/messages"),
}
# name -> (prefix, endpoints served, headers that pass its auth)
TABLE: dict[str, tuple[str, set[str], dict[str, str]]] = {
    "mock": ("/v1", {"chat", "models", "embeddings", "messages", "responses"}, {}),
    "lumiltc": ("", {"chat"}, {}),
    "lumenfall": ("/openai/v1", {"chat"}, KEY),
    "lumyx": ("/v1", {"chat"}, KEY),
    "llmbase": ("/v1", {"chat", "models"}, KEY),
    "lumyxai": ("/api/v1", {"chat", "models", "embeddings", "messages"}, KEY),
    "anthropic": ("/v1", {"messages", "models"}, ANTHROPIC),
    "openrouter": ("/api/v1", {"chat", "models", "embeddings", "responses"}, KEY),
}
# a chat model each profile serves
MODEL = {
    "mock": "echo",
    "lumiltc": "z-ai/glm5",
    "lumenfall": "google/gemini-3-flash-preview",
    "lumyx": "nova_1_1",
    "llmbase": "zai-org/glm-5",
    "lumyxai": "lumyx-plus_v1",
    "anthropic": "claude-sonnet-4-5",
    "openrouter": "openai/gpt-4o-mini",
}
# (profile, model) pairs whose chat answers must stream into exactly the whole answer
CHAT_CASES = [
    ("lumiltc", "z-ai/glm5"),
    ("lumenfall", "google/gemini-3-flash-preview"),
    ("lumenfall", "openai/gpt-5.4"),
    ("lumyx", "nova_1_1"),
    ("lumyx", "nova_2_0"),
    ("lumyx", "nova_2_1"),
    ("llmbase", "zai-org/glm-5"),
    ("llmbase", "think"),
    ("llmbase", "tools"),
    *[("lumyxai", m) for m in ("lumyx-plus_v1", "lumyx-think_v1", "lumyx-tools_v1")],
    ("openrouter", "openai/gpt-4o-mini"),
    ("openrouter", "deepseek/deepseek-r1"),
    ("openrouter", "tools"),
]


# ---- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def gws() -> Iterator[dict[str, RunningGateway]]:
    running = {name: mock.start(name) for name in PROFILES}
    try:
        yield running
    finally:
        for gw in running.values():
            gw.stop()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def chat_body(model: str, prompt: str = "hello big world", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def msg_body(model: str, prompt: str = "hello big world", **extra: Any) -> dict[str, Any]:
    return {"max_tokens": 50, **chat_body(model, prompt), **extra}


def sse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of each SSE event; comments skipped."""
    events: list[tuple[str | None, str]] = []
    for block in raw.decode().split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, "\n".join(data)))
    return events


def chunks(raw: bytes) -> list[dict[str, Any]]:
    events = sse(raw)
    assert events[-1] == (None, "[DONE]")
    return [orjson.loads(d) for _, d in events[:-1]]


def _merge(into: list[dict[str, Any]], items: list[dict[str, Any]], text: str) -> None:
    """Merge streamed list items by ``index`` (no index: a new item), concatenating ``text``."""
    for item in items:
        target = next(
            (t for t in into if "index" in item and t.get("index") == item["index"]), None
        )
        if target is None:
            into.append(orjson.loads(orjson.dumps(item)))
            continue
        for key, value in item.items():
            if key == "function":
                for name, part in value.items():
                    fn = target.setdefault("function", {})
                    fn[name] = fn.get(name, "") + part if name == text else part
            elif key == text:
                target[key] = target.get(key, "") + value
            else:
                target[key] = value


def assemble(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat stream assembled generically: top-level fields kept (nulls do not overwrite),
    text fields concatenated, null delta fields kept, list items merged by index."""
    top: dict[str, Any] = {}
    message: dict[str, Any] = {}
    details: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    finish = None
    for chunk in events:
        for key, value in chunk.items():
            if key == "object":
                top[key] = "chat.completion"
            elif key != "choices" and (value is not None or key not in top):
                top[key] = value
        for choice in chunk["choices"]:
            finish = choice["finish_reason"] or finish
            for key, value in choice["delta"].items():
                if key == "reasoning_details":
                    message.setdefault(key, details)
                    _merge(details, value, "text")
                elif key == "tool_calls" and value is not None:
                    message[key] = calls
                    _merge(calls, value, "arguments")
                elif isinstance(value, str) and key != "role":
                    message[key] = (message.get(key) or "") + value
                elif value is not None or key not in message:
                    message[key] = value
    for call in calls:
        del call["index"]
    top["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
    return top


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
            field = {
                "text_delta": "text",
                "thinking_delta": "thinking",
                "signature_delta": "signature",
            }.get(delta["type"])
            if field:
                block[field] += delta[field]
            else:
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
        elif name == "content_block_stop" and event["index"] in partial:
            message["content"][event["index"]]["input"] = orjson.loads(partial[event["index"]])
        elif name == "message_delta":
            message.update(event["delta"])
            message["usage"].update(event["usage"])
    return message


def url(gw: RunningGateway, endpoint: str) -> str:
    """The endpoint's URL; where the profile does not serve it, the usual path."""
    path = gw.profile.path(endpoint)
    return gw.base_url + (ENDPOINTS[endpoint][1] if path is None else path)


def call(
    client: httpx.Client,
    gw: RunningGateway,
    endpoint: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    method, _ = ENDPOINTS[endpoint]
    json = None if method == "GET" else body
    return client.request(method, url(gw, endpoint), json=json, headers=headers)


def body_for(name: str, endpoint: str) -> dict[str, Any] | None:
    """A body for ``endpoint`` that ``name`` answers 200 (None for GET)."""
    model = MODEL[name]
    if endpoint == "embeddings":
        embed = {"lumyxai": "lumyx-embed_v1", "openrouter": "openai/text-embedding-3-small"}
        return {"model": embed.get(name, "embed-small"), "input": "hi"}
    return {"messages": msg_body, "chat": chat_body}.get(endpoint, lambda m: None)(model)


# ---- the table ---------------------------------------------------------------------------


def test_profile_table(gws: dict[str, RunningGateway]) -> None:
    assert list(PROFILES) == list(TABLE)
    assert Profile("mock") == PROFILES["mock"]
    for name, (prefix, served, _) in TABLE.items():
        gw = gws[name]
        assert gw.base_url == f"http://127.0.0.1:{gw.port}{prefix}"
        assert set(gw.profile.endpoints) == served
    assert gws["lumiltc"].url("chat") == f"http://127.0.0.1:{gws['lumiltc'].port}/api.php"
    assert gws["lumyxai"].url("messages") == gws["lumyxai"].base_url + "/messages"
    with pytest.raises(ValueError):
        gws["lumenfall"].url("models")


@pytest.mark.parametrize("name", list(TABLE))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_endpoints_served_or_404(
    gws: dict[str, RunningGateway], client: httpx.Client, name: str, endpoint: str
) -> None:
    gw = gws[name]
    _, served, headers = TABLE[name]
    r = call(client, gw, endpoint, body_for(name, endpoint), headers)
    if endpoint not in served:
        assert r.status_code == 404
        error = r.json()["error"]
        assert error["message"] == f"no such endpoint: {ENDPOINTS[endpoint][0]} {r.url.path}"
        return
    assert r.status_code == 200, r.text
    if endpoint in ("chat", "messages"):
        streamed = client.post(
            gw.url(endpoint),
            json={**(body_for(name, endpoint) or {}), "stream": True},
            headers=headers,
        )
        assert streamed.status_code == 200
        assert streamed.headers["content-type"] == "text/event-stream"
        last = sse(streamed.content)[-1]
        assert last == ((None, "[DONE]") if endpoint == "chat" else ("message_stop", last[1]))


def test_lumiltc_only_api_php(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    base = gws["lumiltc"].base_url
    for path in ("/chat/completions", "/v1/chat/completions", "/api.php/x"):
        r = client.post(base + path, json=chat_body("z-ai/glm5"))
        assert r.status_code == 404
        assert r.json() == {
            "error": {
                "message": f"no such endpoint: POST {path}",
                "type": "not_found_error",
                "code": "not_found",
            }
        }
    r = client.get(base + "/api.php")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


# ---- stream == non-stream ------------------------------------------------------------------


@pytest.mark.parametrize("name,model", CHAT_CASES)
def test_chat_stream_equals_non_stream(
    gws: dict[str, RunningGateway], client: httpx.Client, name: str, model: str
) -> None:
    gw = gws[name]
    headers = TABLE[name][2]
    body = chat_body(model, chat_template_kwargs={"enable_thinking": True})
    whole = client.post(gw.url("chat"), json=body, headers=headers).json()
    options = {} if name == "llmbase" else {"stream_options": {"include_usage": True}}
    r = client.post(gw.url("chat"), json={**body, "stream": True, **options}, headers=headers)
    assert assemble(chunks(r.content)) == whole


@pytest.mark.parametrize(
    "name,model",
    [
        ("anthropic", "claude-sonnet-4-5"),
        ("lumyxai", "lumyx-think_v1"),
        ("lumyxai", "lumyx-tools_v1"),
    ],
)
def test_messages_stream_equals_non_stream(
    gws: dict[str, RunningGateway], client: httpx.Client, name: str, model: str
) -> None:
    gw, headers = gws[name], TABLE[name][2]
    whole = client.post(gw.url("messages"), json=msg_body(model), headers=headers).json()
    assert whole["type"] == "message" and whole["model"] == model
    r = client.post(gw.url("messages"), json=msg_body(model, stream=True), headers=headers)
    assert assemble_messages(sse(r.content)) == whole


# ---- auth ----------------------------------------------------------------------------------

BEARER_401 = {
    "message": "missing or malformed Authorization: Bearer header",
    "type": "authentication_error",
    "code": "invalid_api_key",
}


@pytest.mark.parametrize(
    "name,endpoint,headers,status",
    [
        ("lumiltc", "chat", {}, 200),
        ("lumiltc", "chat", {"Authorization": "Bearer whatever"}, 200),
        ("lumenfall", "chat", {}, 401),
        ("lumenfall", "chat", {"Authorization": "Basic abc"}, 401),
        ("lumenfall", "chat", {"Authorization": "Bearer"}, 401),
        ("lumyx", "chat", {"x-api-key": "k"}, 401),
        ("llmbase", "chat", {}, 401),
        ("llmbase", "models", {}, 401),
        ("lumyxai", "chat", {"x-api-key": "k"}, 401),
        ("lumyxai", "models", {}, 401),
        ("lumyxai", "embeddings", {}, 401),
        ("lumyxai", "messages", {}, 401),
        ("lumyxai", "messages", {"x-api-key": "k"}, 200),
        ("lumyxai", "messages", KEY, 200),
        ("openrouter", "models", {}, 401),
        ("openrouter", "embeddings", {}, 401),
        ("anthropic", "messages", {"anthropic-version": "2023-06-01"}, 401),
        ("anthropic", "messages", {**KEY, "anthropic-version": "2023-06-01"}, 401),
        ("anthropic", "models", {"anthropic-version": "2023-06-01"}, 401),
        ("anthropic", "messages", {"x-api-key": "k"}, 400),
        ("anthropic", "models", {"x-api-key": "k"}, 400),
    ],
)
def test_auth(
    gws: dict[str, RunningGateway],
    client: httpx.Client,
    name: str,
    endpoint: str,
    headers: dict[str, str],
    status: int,
) -> None:
    r = call(client, gws[name], endpoint, body_for(name, endpoint), headers)
    assert r.status_code == status, r.text
    if name == "anthropic" and status == 401:
        assert r.json() == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "missing x-api-key header"},
        }
    elif name == "anthropic":
        assert r.json() == {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "anthropic-version: header is required",
            },
        }
    elif name == "llmbase" and status == 401:
        assert r.json() == {"error": {k: BEARER_401[k] for k in ("message", "type")}}
    elif name == "lumyxai" and endpoint == "messages" and status == 401:
        assert r.json() == {
            "error": {
                "message": "missing API key: send Authorization: Bearer or x-api-key",
                "type": "authentication_error",
                "code": "invalid_api_key",
            }
        }
    elif status == 401:
        assert r.json() == {"error": BEARER_401}


def test_lumiltc_records_the_authorization_header(client: httpx.Client) -> None:
    with mock.start("lumiltc") as gw:
        client.post(gw.url("chat"), json=chat_body("z-ai/glm5"))
        client.post(
            gw.url("chat"), json=chat_body("z-ai/glm5"), headers={"Authorization": "Bearer x"}
        )
        assert ["authorization" in r.headers for r in gw.requests] == [False, True]
        assert gw.requests[1].headers["authorization"] == "Bearer x"
        assert [r.path for r in gw.requests] == ["/api.php", "/api.php"]


# ---- seed 000: lumiltc ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,thinks",
    [
        ({"enable_thinking": True, "clear_thinking": False}, True),
        ({"enable_thinking": False}, False),
        (None, False),
        ({"enable_thinking": "true"}, False),
    ],
)
def test_lumiltc_glm_thinking_switch(
    gws: dict[str, RunningGateway], client: httpx.Client, kwargs: Any, thinks: bool
) -> None:
    extra = {} if kwargs is None else {"chat_template_kwargs": kwargs}
    body = client.post(gws["lumiltc"].url("chat"), json=chat_body("z-ai/glm5", **extra)).json()
    message = {"role": "assistant", "content": "hello big world"}
    if thinks:
        message["reasoning_content"] = THOUGHT
    assert body["model"] == "z-ai/glm5"
    assert body["choices"] == [{"index": 0, "message": message, "finish_reason": "stop"}]
    r = client.post(gws["lumiltc"].url("chat"), json=chat_body("z-ai/glm5", stream=True, **extra))
    deltas = [c["choices"][0]["delta"] for c in chunks(r.content)]
    reasoning = [d for d in deltas if "reasoning_content" in d]
    assert len(reasoning) == (10 if thinks else 0)
    assert all(set(d) == {"reasoning_content"} for d in reasoning)
    assert r.content.endswith(b"data: [DONE]\n\n")


# ---- seed 001: lumenfall -------------------------------------------------------------------


def test_lumenfall_openrouter_prefix_and_extra_params(client: httpx.Client) -> None:
    with mock.start("lumenfall") as gw:
        sent = chat_body(
            "openrouter/google/gemini-3-flash-preview",
            provider={"order": ["google"], "allow_fallbacks": False},
            transforms=["middle-out"],
            x_anything=[1, {"a": None}],
        )
        r = client.post(gw.url("chat"), json=sent, headers=KEY)
        assert r.status_code == 200
        assert r.json()["model"] == "google/gemini-3-flash-preview"
        assert r.json()["choices"][0]["message"] == {
            "role": "assistant",
            "content": "hello big world",
        }
        assert orjson.loads(gw.requests[0].body) == sent
        r = client.post(gw.url("chat"), json=chat_body("openrouter/openai/gpt-5.4"), headers=KEY)
        assert r.json()["model"] == "openai/gpt-5.4"
        assert r.json()["choices"][0]["message"] == {
            "role": "assistant",
            "content": "hello big world",
            "reasoning": THOUGHT,
            "reasoning_details": [
                {"type": "reasoning.text", "text": THOUGHT, "format": "unknown", "index": 0}
            ],
        }
        r = client.post(gw.url("chat"), json=chat_body("openrouter/nope/x"), headers=KEY)
        assert r.status_code == 404
        assert r.json()["error"]["message"] == "model not found: nope/x"


@pytest.mark.parametrize("name", ["lumenfall", "openrouter"])
def test_openrouter_processing_comment(
    gws: dict[str, RunningGateway], client: httpx.Client, name: str
) -> None:
    r = client.post(gws[name].url("chat"), json=chat_body(MODEL[name], stream=True), headers=KEY)
    assert r.content.startswith(b": OPENROUTER PROCESSING\n\ndata: {")
    assert r.content.count(b": OPENROUTER PROCESSING") == 1
    for other in ("mock", "lumyx", "llmbase", "lumyxai", "lumiltc"):
        body = chat_body(MODEL[other], stream=True)
        r = client.post(gws[other].url("chat"), json=body, headers=KEY)
        assert r.content.startswith(b"data: {")


# ---- seed 002: lumyx -----------------------------------------------------------------------


def test_lumyx_seed_example(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    body = chat_body("nova_1_1", "Write a haiku about programming", temperature=0.7, max_tokens=100)
    r = client.post(gws["lumyx"].url("chat"), json=body, headers=KEY)
    got = r.json()
    assert got["id"].startswith("chatcmpl-")
    assert list(got) == [
        "id",
        "object",
        "created",
        "model",
        "context_left",
        "context_total",
        "choices",
        "usage",
    ]
    assert got == {
        "id": got["id"],
        "object": "chat.completion",
        "created": 1700000000,
        "model": "nova_1_1",
        "context_left": 2000000 - 10,
        "context_total": 2000000,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Write a haiku about programming",
                    "tool_calls": None,
                    "reasoning_content": None,
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }
    r = client.post(gws["lumyx"].url("chat"), json={**body, "stream": True}, headers=KEY)
    events = chunks(r.content)
    with_context = [c for c in events if "context_left" in c]
    assert with_context == [events[-1]]
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert (events[-1]["context_left"], events[-1]["context_total"]) == (1999990, 2000000)
    assert events[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "",
        "tool_calls": None,
        "reasoning_content": None,
    }


def test_lumyx_reasoning_as_the_seed_shows(
    gws: dict[str, RunningGateway], client: httpx.Client
) -> None:
    r = client.post(gws["lumyx"].url("chat"), json=chat_body("nova_2_0"), headers=KEY)
    assert r.json()["choices"][0]["message"] == {
        "role": "assistant",
        "content": "hello big world",
        "reasoning": THOUGHT,
        "reasoning_content": THOUGHT,
        "reasoning_details": [{"type": "reasoning.text", "text": THOUGHT}],
        "tool_calls": None,
    }
    r = client.post(gws["lumyx"].url("chat"), json=chat_body("nova_2_1", "Paris"), headers=KEY)
    message = r.json()["choices"][0]["message"]
    assert message["content"] is None and message["reasoning_content"] is None
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["get_weather", "get_time"]


def test_lumyx_empty_balance_and_extra_fields(client: httpx.Client) -> None:
    with mock.start("lumyx") as gw:
        r = client.post(
            gw.url("chat"),
            json=chat_body("nova_1_1"),
            headers={"Authorization": "Bearer nova_empty_balance"},
        )
        assert (r.status_code, r.reason_phrase) == (402, "Payment Required")
        assert r.content == (
            b'{"error":{"message":"Insufficient balance","type":"insufficient_balance",'
            b'"code":"insufficient_balance"}}'
        )
        sent = chat_body(
            "nova_1_1",
            conversation_id="0f8fad5b-d9cb-469f-a165-70867728950e",
            memory=True,
            reasoning={"effort": "high", "max_tokens": 8000},
        )
        assert client.post(gw.url("chat"), json=sent, headers=KEY).status_code == 200
        assert orjson.loads(gw.requests[-1].body) == sent


# ---- seed 003: llmbase ---------------------------------------------------------------------


@pytest.mark.parametrize("include_usage", [None, False, True])
def test_llmbase_usage_in_final_chunk(
    gws: dict[str, RunningGateway], client: httpx.Client, include_usage: bool | None
) -> None:
    body = chat_body("zai-org/glm-5", "Count to 5.", stream=True)
    if include_usage is not None:
        body["stream_options"] = {"include_usage": include_usage}
    whole = client.post(gws["llmbase"].url("chat"), json={**body, "stream": False}, headers=KEY)
    r = client.post(gws["llmbase"].url("chat"), json=body, headers=KEY)
    events = chunks(r.content)
    assert [c for c in events if "usage" in c] == [events[-1]]
    assert events[-1]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert events[-1]["usage"] == whole.json()["usage"]
    assert events[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}


def test_llmbase_errors_exactly(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    url = gws["llmbase"].url("chat")
    r = client.post(url, json=chat_body("unknown/model"), headers=KEY)
    assert r.status_code == 404
    assert r.content == (
        b'{"error":{"message":"Model not found: unknown/model","type":"invalid_request_error"}}'
    )
    r = client.post(
        url, json=chat_body("zai-org/glm-5"), headers={**KEY, "X-Mock-Fault": "status=502"}
    )
    assert r.status_code == 502
    assert r.json() == {
        "error": {"message": "All upstream providers failed", "type": "server_error"}
    }
    models = client.get(gws["llmbase"].url("models"), headers=KEY).json()
    assert [m["id"] for m in models["data"]] == ["zai-org/glm-5", *MOCK_CHAT]
    assert models["data"][0] == {
        "id": "zai-org/glm-5",
        "object": "model",
        "created": 1700000000,
        "owned_by": "zai-org",
    }


# ---- seed 004: lumyxai ---------------------------------------------------------------------


def test_lumyxai_rate_limit_headers(client: httpx.Client) -> None:
    with mock.start("lumyxai") as gw:
        seen = []
        for i in range(27):
            endpoint = ["chat", "models", "embeddings", "messages"][i % 4]
            r = call(client, gw, endpoint, body_for("lumyxai", endpoint), KEY if i % 3 else {})
            assert r.headers["x-ratelimit-limit-requests"] == "25"
            assert r.headers["x-ratelimit-reset-requests"] == "86400s"
            seen.append(int(r.headers["x-ratelimit-remaining-requests"]))
        assert seen == [*range(24, -1, -1), 0, 0]
        r = client.post(gw.url("chat"), json=chat_body("echo", stream=True), headers=KEY)
        assert r.headers["x-ratelimit-remaining-requests"] == "0"
        r = client.post(gw.base_url + "/nowhere", headers=KEY)
        assert r.status_code == 404 and r.headers["x-ratelimit-limit-requests"] == "25"
        r = client.post(
            gw.url("chat"),
            json=chat_body("echo"),
            headers={**KEY, "X-Mock-Fault": "status=429;reset=7"},
        )
        assert r.headers.get_list("x-ratelimit-reset-requests") == ["7s"]


def test_lumyxai_models_meta(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    body = client.get(gws["lumyxai"].url("models"), headers=KEY).json()
    assert body["object"] == "list"
    data = {m["id"]: m for m in body["data"]}
    assert list(data) == [
        "lumyx-plus_v1",
        "lumyx-lite_v1",
        "lumyx-vision_v1",
        "lumyx-think_v1",
        "lumyx-tools_v1",
        "lumyx-uncensored_v1",
        "lumyx-embed_v1",
    ]
    assert data["lumyx-plus_v1"] == {
        "id": "lumyx-plus_v1",
        "object": "model",
        "_meta": {
            "displayName": "Lumyx Plus v1",
            "description": "Flagship general model.",
            "contextWindow": 128000,
            "supportsStreaming": True,
            "tags": ["streaming", "tools", "reasoning", "vision"],
            "pricing": {"input": 0.5, "output": 1.5, "free": False},
        },
    }
    tags = {k: m["_meta"]["tags"] for k, m in data.items()}
    assert tags == {
        "lumyx-plus_v1": ["streaming", "tools", "reasoning", "vision"],
        "lumyx-lite_v1": ["streaming"],
        "lumyx-vision_v1": ["streaming", "vision"],
        "lumyx-think_v1": ["streaming", "reasoning"],
        "lumyx-tools_v1": ["streaming", "tools"],
        "lumyx-uncensored_v1": ["uncensored"],
        "lumyx-embed_v1": [],
    }
    assert [k for k, m in data.items() if m["_meta"]["pricing"]["free"]] == ["lumyx-lite_v1"]
    assert data["lumyx-uncensored_v1"]["_meta"]["supportsStreaming"] is False
    assert len({m["_meta"]["contextWindow"] for m in data.values()}) >= 4
    emb = client.post(
        gws["lumyxai"].url("embeddings"),
        json={"model": "lumyx-embed_v1", "input": ["a", "b"]},
        headers=KEY,
    ).json()
    assert [len(d["embedding"]) for d in emb["data"]] == [16, 16]
    assert emb["model"] == "lumyx-embed_v1"


def test_lumyxai_reasoning_content(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    r = client.post(gws["lumyxai"].url("chat"), json=chat_body("lumyx-think_v1"), headers=KEY)
    assert r.json()["choices"][0]["message"] == {
        "role": "assistant",
        "content": "hello big world",
        "reasoning_content": THOUGHT,
    }


@pytest.mark.parametrize(
    "status,kind",
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "authorization_error"),
        (404, "not_found_error"),
        (429, "rate_limit_error"),
        (500, "server_error"),
        (502, "server_error"),
    ],
)
@pytest.mark.parametrize("endpoint", ["chat", "messages", "models"])
def test_lumyxai_error_shape(
    gws: dict[str, RunningGateway], client: httpx.Client, status: int, kind: str, endpoint: str
) -> None:
    headers = {**KEY, "X-Mock-Fault": f"status={status}"}
    r = call(client, gws["lumyxai"], endpoint, body_for("lumyxai", endpoint), headers)
    assert r.status_code == status
    error = r.json()["error"]
    assert list(r.json()) == ["error"] and list(error) == ["message", "type", "code"]
    assert error["type"] == kind and error["message"] and error["code"]


def test_lumyxai_unknown_model(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    r = client.post(gws["lumyxai"].url("chat"), json=chat_body("nope"), headers=KEY)
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "message": "model not found: nope",
            "type": "not_found_error",
            "code": "model_not_found",
        }
    }


# ---- anthropic -----------------------------------------------------------------------------


def test_anthropic_models_shape(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    body = client.get(gws["anthropic"].url("models"), headers=ANTHROPIC).json()
    assert body["data"][:2] == [
        {
            "type": "model",
            "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        },
        {
            "type": "model",
            "id": "echo",
            "display_name": "echo",
            "created_at": "2023-11-14T22:13:20Z",
        },
    ]
    assert [m["id"] for m in body["data"]] == ["claude-sonnet-4-5", *MOCK_CHAT]
    assert {k: v for k, v in body.items() if k != "data"} == {
        "has_more": False,
        "first_id": "claude-sonnet-4-5",
        "last_id": "unicode",
    }


def test_anthropic_errors_everywhere(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    gw = gws["anthropic"]
    r = client.post(gw.url("messages"), json=msg_body("nope"), headers=ANTHROPIC)
    assert r.json() == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model not found: nope"},
    }
    r = client.get(gw.base_url + "/models", headers={**ANTHROPIC, "X-Mock-Fault": "status=529"})
    assert r.status_code == 529
    assert r.json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    r = client.post(gw.url("messages"), json=msg_body("claude-sonnet-4-5"), headers=ANTHROPIC)
    assert r.json()["content"] == [{"type": "text", "text": "hello big world"}]


# ---- openrouter ----------------------------------------------------------------------------


def test_openrouter(gws: dict[str, RunningGateway], client: httpx.Client) -> None:
    gw = gws["openrouter"]
    r = client.post(gw.url("chat"), json=chat_body("deepseek/deepseek-r1"), headers=KEY)
    assert r.json()["choices"][0]["message"] == {
        "role": "assistant",
        "content": "hello big world",
        "reasoning": THOUGHT,
        "reasoning_details": [
            {"type": "reasoning.text", "text": THOUGHT, "format": "unknown", "index": 0}
        ],
    }
    r = client.post(
        gw.url("chat"), json=chat_body("deepseek/deepseek-r1", stream=True), headers=KEY
    )
    deltas = [c["choices"][0]["delta"] for c in chunks(r.content)]
    assert all("reasoning_content" not in d for d in deltas)
    assert sum("reasoning_details" in d for d in deltas) == 10
    models = client.get(gw.url("models"), headers=KEY).json()
    assert [m["id"] for m in models["data"]][:3] == [
        "openai/gpt-4o-mini",
        "deepseek/deepseek-r1",
        "openai/text-embedding-3-small",
    ]
    emb = client.post(gw.url("embeddings"), json=body_for("openrouter", "embeddings"), headers=KEY)
    assert len(emb.json()["data"][0]["embedding"]) == 32


# ---- every profile: redirect fault, records ------------------------------------------------


@pytest.mark.parametrize("name", list(TABLE))
def test_redirect_fault(gws: dict[str, RunningGateway], client: httpx.Client, name: str) -> None:
    gw = gws[name]
    endpoint = sorted(TABLE[name][1])[0]
    spec = "redirect=http%3A%2F%2Fother.example%3A9%2Fv1%2Fsteal%3Fa%3D1"
    r = call(client, gw, endpoint, body_for(name, endpoint), {"X-Mock-Fault": spec})
    assert (r.status_code, r.reason_phrase) == (307, "Temporary Redirect")
    assert r.headers["location"] == "http://other.example:9/v1/steal?a=1"
    assert r.content == b""
    r = call(client, gw, endpoint, body_for(name, endpoint), {"X-Mock-Fault": spec + ";status=308"})
    assert r.status_code == 308


def test_redirect_server_wide_and_bad_spec(client: httpx.Client) -> None:
    with mock.start("lumyx", faults="redirect=http://127.0.0.1:1/v1/chat/completions") as gw:
        r = client.post(gw.url("chat"), json=chat_body("nova_1_1"), headers=KEY)
        assert r.status_code == 307
        assert r.headers["location"] == "http://127.0.0.1:1/v1/chat/completions"
    with pytest.raises(ValueError):
        mock.start("lumyx", faults="redirect=")


@pytest.mark.parametrize("name", list(TABLE))
def test_records_per_profile(client: httpx.Client, name: str) -> None:
    with mock.start(name) as gw:
        endpoint = sorted(TABLE[name][1])[0]
        call(client, gw, endpoint, body_for(name, endpoint), {"Authorization": "Bearer k"})
        under = client.get(gw.base_url + "/_mock/requests").json()
        root = client.get(f"http://127.0.0.1:{gw.port}/_mock/requests").json()
        assert under == root
        assert [(r["method"], r["path"]) for r in under] == [
            (ENDPOINTS[endpoint][0], httpx.URL(gw.url(endpoint)).path)
        ]
        assert under[0]["headers"]["authorization"] == "Bearer k"
        assert under[0]["body"] == body_for(name, endpoint)
        assert len(gw.requests) == 1
