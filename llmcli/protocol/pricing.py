"""Prices and costs, no I/O: what a request cost, from the most exact source available.

Prices are USD per million tokens (``Price``). The sources, most exact first:

- the cost the gateway reports for the request: ``usage.cost`` (OpenRouter, and gateways
  behind it: USD) or LiteLLM proxy's ``x-litellm-response-cost`` header (USD);
- prices in the config file: ``[gateways.NAME.prices."MODEL"]`` with ``input``,
  ``output``, ``cached``, ``reasoning`` (USD per million tokens);
- the gateway's model list: seed 004's ``_meta.pricing {input, output, free}``, which
  states no unit (read as USD per million tokens, the unit of its own pricing page), and
  OpenRouter's ``pricing {prompt, completion, input_cache_read, internal_reasoning}``
  (decimal strings, USD per token: times 10^6). A ``_meta.pricing`` that states a currency
  other than USD, or a unit not known here, gives no price: never a guess.

Token counts come from any of the usage shapes (Chat Completions, Messages, Responses,
embeddings). Cached input and reasoning tokens are counted inside the input and output
tokens, as OpenAI's usage objects report them, and priced at their own rate where one is
known (else at the input or output rate); Anthropic reports cache reads and writes beside
``input_tokens``, so they are added to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: cost_source values, most exact first
GATEWAY, CONFIG, MODELS, UNKNOWN = "gateway", "config", "models", "unknown"
#: the LiteLLM proxy's header with the cost of the request (USD)
COST_HEADER = "x-litellm-response-cost"
_PER_MILLION = 1_000_000
#: a stated unit -> the factor to USD per million tokens
_UNITS = {
    "1m": 1.0, "m": 1.0, "million": 1.0, "1m tokens": 1.0, "per 1m tokens": 1.0,
    "per million tokens": 1.0, "1k": 1000.0, "k": 1000.0, "1k tokens": 1000.0,
    "per 1k tokens": 1000.0, "token": 1e6, "per token": 1e6,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens; ``cached`` and ``reasoning`` None: at the input and output
    rates."""

    input: float
    output: float
    cached: float | None = None
    reasoning: float | None = None

    def as_json(self) -> dict[str, float | None]:
        return {
            "input": self.input,
            "output": self.output,
            "cached": self.cached,
            "reasoning": self.reasoning,
        }


@dataclass(frozen=True, slots=True)
class Tokens:
    """A request's tokens: ``cached`` within ``input``, ``reasoning`` within ``output``."""

    input: int = 0
    output: int = 0
    cached: int = 0
    reasoning: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input + other.input,
            self.output + other.output,
            self.cached + other.cached,
            self.reasoning + other.reasoning,
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _number(value: Any) -> float | None:
    """A finite, non-negative number, or a decimal string of one (OpenRouter's prices)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def tokens(usage: Any) -> Tokens | None:
    """The tokens of any usage object (None when it is no usage object)."""
    if not isinstance(usage, Mapping):
        return None
    details_in = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    details_out = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    cached = _count(details_in.get("cached_tokens")) if isinstance(details_in, Mapping) else 0
    reasoning = (
        _count(details_out.get("reasoning_tokens")) if isinstance(details_out, Mapping) else 0
    )
    if "prompt_tokens" in usage or "completion_tokens" in usage:  # chat, embeddings
        given_in, given_out = _count(usage.get("prompt_tokens")), usage.get("completion_tokens")
        return Tokens(given_in, _count(given_out), min(cached, given_in), reasoning)
    if "input_tokens" in usage or "output_tokens" in usage:  # messages, responses
        given_in = _count(usage.get("input_tokens"))
        read = _count(usage.get("cache_read_input_tokens"))
        written = _count(usage.get("cache_creation_input_tokens"))
        if read or written:  # Anthropic: cache tokens beside input_tokens
            return Tokens(given_in + read + written, _count(usage.get("output_tokens")), read)
        return Tokens(given_in, _count(usage.get("output_tokens")), min(cached, given_in),
                      reasoning)  # fmt: skip
    return None


def cost(counted: Tokens, price: Price) -> float:
    """USD for ``counted`` tokens at ``price``."""
    cached = min(counted.cached, counted.input)
    reasoning = min(counted.reasoning, counted.output)
    total = (
        (counted.input - cached) * price.input
        + cached * (price.cached if price.cached is not None else price.input)
        + (counted.output - reasoning) * price.output
        + reasoning * (price.reasoning if price.reasoning is not None else price.output)
    )
    return total / _PER_MILLION


def reported(usage: Any, header: str | None = None) -> float | None:
    """The cost the gateway reported for the request (USD): ``usage.cost``, else the
    response-cost header; None when it reported none."""
    if isinstance(usage, Mapping):
        found = _number(usage.get("cost"))
        if found is not None:
            return found
    return _number(header) if header is not None else None


def from_model(model: Mapping[str, Any]) -> Price | None:
    """The price a model-list entry states, normalised to USD per million tokens."""
    meta = model.get("_meta")
    stated = meta.get("pricing") if isinstance(meta, Mapping) else None
    if isinstance(stated, Mapping):
        return _meta_price(stated)
    openrouter = model.get("pricing")
    if isinstance(openrouter, Mapping):
        prompt, completion = (
            _number(openrouter.get("prompt")),
            _number(openrouter.get("completion")),
        )
        if prompt is None or completion is None:
            return None
        cached = _number(openrouter.get("input_cache_read"))
        reasoning = _number(openrouter.get("internal_reasoning"))
        return Price(
            prompt * _PER_MILLION,
            completion * _PER_MILLION,
            None if cached is None else cached * _PER_MILLION,
            None if reasoning is None else reasoning * _PER_MILLION,
        )
    return None


def _meta_price(stated: Mapping[str, Any]) -> Price | None:
    if stated.get("free") is True:
        return Price(0.0, 0.0)
    currency = stated.get("currency")
    if currency is not None and str(currency).upper() != "USD":
        return None
    unit = stated.get("unit")
    factor = 1.0 if unit is None else _UNITS.get(str(unit).strip().lower().replace("/", " "))
    given_in, given_out = _number(stated.get("input")), _number(stated.get("output"))
    if factor is None or given_in is None or given_out is None:
        return None
    cached, reasoning = _number(stated.get("cached")), _number(stated.get("reasoning"))
    return Price(
        given_in * factor,
        given_out * factor,
        None if cached is None else cached * factor,
        None if reasoning is None else reasoning * factor,
    )


def from_config(table: Mapping[str, Any]) -> Price:
    """A ``[gateways.NAME.prices."MODEL"]`` table (checked by the config schema)."""
    return Price(
        float(table["input"]),
        float(table["output"]),
        None if table.get("cached") is None else float(table["cached"]),
        None if table.get("reasoning") is None else float(table["reasoning"]),
    )


# before anything is sent ---------------------------------------------------------------

#: the body fields that bound a reply's length, in every dialect
_MOST_OUT = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def estimated_input(body_bytes: int) -> int:
    """Input tokens of a request, estimated as its body's bytes ÷ 4 (rounded up)."""
    return -(-body_bytes // 4)


def most_output(body: Mapping[str, Any]) -> int | None:
    """The most tokens a request's reply may take (None: its body sets no bound)."""
    for key in _MOST_OUT:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def worst_case(tokens_in: int, most_out: int, price: Price) -> float:
    """The most a request may cost: its input, then every token it may generate at the
    higher of the output and reasoning rates."""
    rate_out = max(price.output, price.reasoning if price.reasoning is not None else 0.0)
    return (tokens_in * price.input + most_out * rate_out) / _PER_MILLION
