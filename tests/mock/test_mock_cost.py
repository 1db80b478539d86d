"""Prices and costs on the offline gateway: OpenRouter's per-token ``pricing`` on
``/models``, its usage accounting (``usage.cost`` …) on the ``openrouter`` and
``lumenfall`` profiles, whole and streamed, and the ``cost=USD`` fault's LiteLLM
``x-litellm-response-cost`` header. Real HTTP on loopback with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from llmcli import mock
from llmcli.mock import RunningGateway

KEY = {"Authorization": "Bearer sk-test"}
THINK_REPLY_REASONING = 10  # "The user wrote 2 words. I will repeat them back."


@pytest.fixture(scope="module")
def openrouter() -> Iterator[RunningGateway]:
    with mock.start("openrouter") as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def chat_body(model: str, prompt: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def events(raw: bytes) -> list[dict[str, Any]]:
    """The JSON data of each SSE event (comments and ``[DONE]`` skipped)."""
    out = []
    for block in raw.decode().split("\n\n"):
        data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
        if data and data != ["[DONE]"]:
            out.append(orjson.loads("\n".join(data)))
    return out


def streamed_usage(client: httpx.Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """The usage of a chat stream (its one chunk with ``usage``)."""
    stream = {**body, "stream": True, "stream_options": {"include_usage": True}}
    r = client.post(url, json=stream, headers=KEY)
    assert r.status_code == 200
    found = [e["usage"] for e in events(r.content) if "usage" in e]
    assert len(found) == 1
    return found[0]


def accounting(cost: float, reasoning: int = 0) -> dict[str, Any]:
    return {
        "cost": cost,
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0},
        "cost_details": {"upstream_inference_cost": None},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


# ---- /models: OpenRouter's pricing --------------------------------------------------------


def test_openrouter_models_carry_per_token_pricing_strings(
    openrouter: RunningGateway, client: httpx.Client
) -> None:
    r = client.get(openrouter.url("models"), headers=KEY)
    assert r.status_code == 200
    data = {m["id"]: m for m in r.json()["data"]}
    assert data["openai/gpt-4o-mini"] == {
        "id": "openai/gpt-4o-mini",
        "object": "model",
        "created": 1700000000,
        "owned_by": "openai",
        "name": "OpenAI: GPT-4o-mini",
        "context_length": 128000,
        "pricing": {
            "prompt": "0.00000015",
            "completion": "0.0000006",
            "request": "0",
            "image": "0",
            "input_cache_read": "0.000000015",
            "internal_reasoning": "0.0000006",
        },
    }
    assert data["deepseek/deepseek-r1"]["pricing"]["prompt"] == "0.0000007"
    assert data["deepseek/deepseek-r1"]["pricing"]["completion"] == "0.0000025"
    # a mock model is free: "0" everywhere, no context length known
    assert data["echo"]["pricing"] == dict.fromkeys(
        ("prompt", "completion", "request", "image", "input_cache_read", "internal_reasoning"),
        "0",
    )
    assert (data["echo"]["name"], data["echo"]["context_length"]) == ("echo", None)
    # never an exponent in a price string
    for model in data.values():
        assert all("e" not in v.lower() for v in model["pricing"].values()), model["id"]


# ---- usage.cost, whole and streamed -------------------------------------------------------


def test_echo_cost_whole_equals_streamed(openrouter: RunningGateway, client: httpx.Client) -> None:
    body = chat_body("openai/gpt-4o-mini")
    r = client.post(openrouter.url("chat"), json=body, headers=KEY)
    assert r.status_code == 200
    usage = r.json()["usage"]
    assert usage == {
        "prompt_tokens": 2,
        "completion_tokens": 2,
        "total_tokens": 4,
        **accounting(0.0000015),
    }
    assert list(usage) == [
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost",
        "is_byok",
        "prompt_tokens_details",
        "cost_details",
        "completion_tokens_details",
    ]
    assert streamed_usage(client, openrouter.url("chat"), body) == usage
    # the cost is the tokens at /models' per-token prices, exactly
    listed = {m["id"]: m for m in client.get(openrouter.url("models"), headers=KEY).json()["data"]}
    price = listed["openai/gpt-4o-mini"]["pricing"]
    exact = 2 * Decimal(price["prompt"]) + 2 * Decimal(price["completion"])
    assert Decimal(repr(usage["cost"])) == exact == Decimal("0.0000015")


def test_think_model_counts_reasoning_tokens_and_charges_them(
    openrouter: RunningGateway, client: httpx.Client
) -> None:
    body = chat_body("deepseek/deepseek-r1")
    usage = client.post(openrouter.url("chat"), json=body, headers=KEY).json()["usage"]
    assert usage == {
        "prompt_tokens": 2,
        "completion_tokens": 2 + THINK_REPLY_REASONING,
        "total_tokens": 4 + THINK_REPLY_REASONING,
        **accounting(0.0000314, reasoning=THINK_REPLY_REASONING),  # 2 x 0.7 + 12 x 2.5 per M
    }
    assert streamed_usage(client, openrouter.url("chat"), body) == usage


def test_free_model_costs_zero(openrouter: RunningGateway, client: httpx.Client) -> None:
    r = client.post(openrouter.url("chat"), json=chat_body("echo"), headers=KEY)
    assert b'"cost":0,' in r.content
    assert r.json()["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": 2,
        "total_tokens": 4,
        **accounting(0),
    }


def test_lumenfall_has_openrouters_accounting(client: httpx.Client) -> None:
    with mock.start("lumenfall") as lumenfall:
        body = chat_body("openrouter/google/gemini-3-flash-preview")
        usage = client.post(lumenfall.url("chat"), json=body, headers=KEY).json()["usage"]
        assert usage == {
            "prompt_tokens": 2,
            "completion_tokens": 2,
            "total_tokens": 4,
            **accounting(0.000007),  # 2 x 0.5 + 2 x 3 per million
        }
        assert streamed_usage(client, lumenfall.url("chat"), body) == usage


def test_responses_usage_carries_cost_beside_its_own_fields(
    openrouter: RunningGateway, client: httpx.Client
) -> None:
    body = {"model": "deepseek/deepseek-r1", "input": "hello there", "store": False}
    whole = client.post(openrouter.url("responses"), json=body, headers=KEY).json()
    assert whole["usage"] == {
        "input_tokens": 2,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 12,
        "output_tokens_details": {"reasoning_tokens": THINK_REPLY_REASONING},
        "total_tokens": 14,
        "cost": 0.0000314,
        "is_byok": False,
        "cost_details": {"upstream_inference_cost": None},
    }
    r = client.post(openrouter.url("responses"), json={**body, "stream": True}, headers=KEY)
    done = [e for e in events(r.content) if e["type"] == "response.completed"]
    assert [e["response"]["usage"] for e in done] == [whole["usage"]]


# ---- the mock profile is unchanged --------------------------------------------------------


def test_mock_profile_chat_has_no_cost_keys(url: str, client: httpx.Client) -> None:
    r = client.post(url + "/chat/completions", json=chat_body("echo"))
    assert r.content == (
        b'{"id":"chatcmpl-97521a305269a3ea5f413cdc","object":"chat.completion",'
        b'"created":1700000000,"model":"echo","choices":[{"index":0,"message":'
        b'{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}}'
    )
    assert "x-litellm-response-cost" not in r.headers
    stream = chat_body("echo", stream=True, stream_options={"include_usage": True})
    r = client.post(url + "/chat/completions", json=stream)
    assert [e["usage"] for e in events(r.content) if "usage" in e] == [
        {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    ]
    models = client.get(url + "/models").json()["data"]
    assert all("pricing" not in m for m in models)


# ---- cost=USD: LiteLLM's response-cost header ---------------------------------------------


def test_cost_fault_sends_litellm_header_whole_and_streamed(
    gw: RunningGateway, client: httpx.Client
) -> None:
    fault = {"X-Mock-Fault": "cost=0.000123"}
    r = client.post(gw.url("chat"), json=chat_body("echo"), headers=fault)
    assert (r.status_code, r.headers["x-litellm-response-cost"]) == (200, "0.000123")
    assert "cost" not in r.json()["usage"]  # the body is the mock's own
    r = client.post(gw.url("chat"), json=chat_body("echo", stream=True), headers=fault)
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["x-litellm-response-cost"] == "0.000123"
    r = client.post(gw.url("messages"), json=chat_body("echo", max_tokens=9), headers=fault)
    assert r.headers["x-litellm-response-cost"] == "0.000123"


def test_cost_fault_value_is_sent_as_given(gw: RunningGateway, client: httpx.Client) -> None:
    r = client.post(gw.url("chat"), json=chat_body("echo"), headers={"X-Mock-Fault": "cost=1e-6"})
    assert r.headers["x-litellm-response-cost"] == "1e-6"


def test_cost_fault_only_on_2xx(gw: RunningGateway, client: httpx.Client) -> None:
    fault = {"X-Mock-Fault": "cost=0.5;status=500"}
    r = client.post(gw.url("chat"), json=chat_body("echo"), headers=fault)
    assert r.status_code == 500
    assert "x-litellm-response-cost" not in r.headers
    r = client.post(gw.url("chat"), json={"model": "nope"}, headers={"X-Mock-Fault": "cost=0.5"})
    assert r.status_code == 404
    assert "x-litellm-response-cost" not in r.headers


def test_cost_fault_gates(gw: RunningGateway, client: httpx.Client) -> None:
    def header(spec: str) -> str | None:
        r = client.post(gw.url("chat"), json=chat_body("echo"), headers={"X-Mock-Fault": spec})
        assert r.status_code == 200
        return r.headers.get("x-litellm-response-cost")

    assert [header("cost=0.01;times=1") for _ in range(3)] == ["0.01", None, None]
    assert [header("cost=0.02;every=2") for _ in range(4)] == [None, "0.02", None, "0.02"]
    assert gw.fault_count("cost=0.02;every=2") == 4


def test_cost_fault_server_wide_on_any_profile(client: httpx.Client) -> None:
    with mock.start("openrouter", faults="cost=0.25") as running:
        r = client.get(running.url("models"), headers=KEY)
        assert r.headers["x-litellm-response-cost"] == "0.25"
        r = client.get(running.url("models"))  # no key: 401, no cost
        assert (r.status_code, r.headers.get("x-litellm-response-cost")) == (401, None)


@pytest.mark.parametrize("value", ["abc", "-1", "nan", ""])
def test_cost_fault_needs_a_number(gw: RunningGateway, client: httpx.Client, value: str) -> None:
    r = client.post(
        gw.url("chat"), json=chat_body("echo"), headers={"X-Mock-Fault": f"cost={value}"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_fault_spec"
    assert "cost" in r.json()["error"]["message"]
