"""``llmcli.protocol.pricing``: prices from every source normalised to USD per million
tokens, tokens from every usage shape, and costs. Pure: no gateway."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcli.protocol import pricing
from llmcli.protocol.pricing import Price, Tokens


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # Chat Completions: cached within prompt, reasoning within completion
        ({"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
          "prompt_tokens_details": {"cached_tokens": 40},
          "completion_tokens_details": {"reasoning_tokens": 30}}, Tokens(100, 50, 40, 30)),
        # embeddings
        ({"prompt_tokens": 8, "total_tokens": 8}, Tokens(8, 0, 0, 0)),
        # Responses
        ({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4},
          "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 15},
          "total_tokens": 30}, Tokens(10, 20, 4, 15)),
        # Messages: cache reads and writes beside input_tokens
        ({"input_tokens": 10, "cache_read_input_tokens": 100,
          "cache_creation_input_tokens": 50, "output_tokens": 7}, Tokens(160, 7, 100, 0)),
        ({"input_tokens": 3, "output_tokens": 9}, Tokens(3, 9, 0, 0)),
        # nonsense counts are zero, a cached count over the input is the input
        ({"prompt_tokens": -1, "completion_tokens": "5", "prompt_tokens_details":
          {"cached_tokens": 9}}, Tokens(0, 0, 0, 0)),
        ({"prompt_tokens": 5, "completion_tokens": 1,
          "prompt_tokens_details": {"cached_tokens": 9}}, Tokens(5, 1, 5, 0)),
    ],
)  # fmt: skip
def test_tokens_of_every_usage_shape(usage: dict[str, Any], expected: Tokens) -> None:
    assert pricing.tokens(usage) == expected


def test_no_usage_no_tokens() -> None:
    assert pricing.tokens(None) is None
    assert pricing.tokens({"other": 1}) is None
    assert pricing.tokens([1]) is None


def test_cost_prices_cached_and_reasoning_at_their_own_rates() -> None:
    counted = Tokens(input=1_000_000, output=1_000_000, cached=400_000, reasoning=250_000)
    assert pricing.cost(counted, Price(2.0, 8.0)) == pytest.approx(10.0)
    own = Price(2.0, 8.0, cached=0.5, reasoning=10.0)
    assert pricing.cost(counted, own) == pytest.approx(0.6 * 2 + 0.4 * 0.5 + 0.75 * 8 + 0.25 * 10)


@given(
    st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**7),
    st.floats(0, 100), st.floats(0, 100),
)  # fmt: skip
def test_a_cost_is_never_negative_and_grows_with_tokens(
    given_in: int, given_out: int, cached: int, reasoning: int, rate_in: float, rate_out: float
) -> None:
    price = Price(rate_in, rate_out)
    counted = Tokens(given_in, given_out, cached, reasoning)
    spent = pricing.cost(counted, price)
    assert spent >= 0
    assert pricing.cost(counted + Tokens(1, 1), price) >= spent
    assert spent == pytest.approx((given_in * rate_in + given_out * rate_out) / 1e6)


def test_the_cost_a_gateway_reports() -> None:
    assert pricing.reported({"cost": 0.00123, "prompt_tokens": 1}) == 0.00123
    assert pricing.reported({"cost": 0}) == 0.0
    assert pricing.reported({"prompt_tokens": 1}, "0.0042") == 0.0042
    assert pricing.reported({"cost": "x"}, None) is None
    assert pricing.reported({"cost": -1}, "nan") is None
    assert pricing.reported(None, "0.5") == 0.5
    assert pricing.reported({"cost": True}) is None


@pytest.mark.parametrize(
    ("entry", "price"),
    [
        # seed 004: no unit stated, read as USD per million tokens
        ({"id": "m", "_meta": {"pricing": {"input": 0.5, "output": 1.5, "free": False}}},
         Price(0.5, 1.5)),
        ({"id": "m", "_meta": {"pricing": {"input": 0, "output": 0, "free": True}}},
         Price(0.0, 0.0)),
        ({"id": "m", "_meta": {"pricing": {"input": 0.002, "output": 0.004, "unit": "1K",
                                           "currency": "usd"}}}, Price(2.0, 4.0)),
        ({"id": "m", "_meta": {"pricing": {"input": 1, "output": 2, "currency": "EUR"}}}, None),
        ({"id": "m", "_meta": {"pricing": {"input": 1, "output": 2, "unit": "per image"}}}, None),
        ({"id": "m", "_meta": {"pricing": {"input": "?", "output": 2}}}, None),
        # OpenRouter: decimal strings, USD per token
        ({"id": "m", "pricing": {"prompt": "0.0000003", "completion": "0.0000012",
                                 "input_cache_read": "0.00000003", "internal_reasoning":
                                 "0.0000012", "request": "0", "image": "0"}},
         Price(0.3, 1.2, 0.03, 1.2)),
        ({"id": "m", "pricing": {"prompt": "0", "completion": "0"}}, Price(0.0, 0.0)),
        ({"id": "m", "pricing": {"prompt": "-1", "completion": "0"}}, None),
        ({"id": "m"}, None),
    ],
)  # fmt: skip
def test_prices_of_model_list_entries(entry: dict[str, Any], price: Price | None) -> None:
    found = pricing.from_model(entry)
    if price is None:
        assert found is None
    else:
        assert found is not None
        for name in ("input", "output", "cached", "reasoning"):
            assert getattr(found, name) == pytest.approx(getattr(price, name))


def test_config_prices() -> None:
    assert pricing.from_config({"input": 1, "output": 3.5}) == Price(1.0, 3.5)
    assert pricing.from_config({"input": 1, "output": 2, "cached": 0.1, "reasoning": 4}) == (
        Price(1.0, 2.0, 0.1, 4.0)
    )
