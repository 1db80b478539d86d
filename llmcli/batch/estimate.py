"""What a batch may cost, before anything is sent (``batch run --dry-run``): tokens in,
estimated as request bytes ÷ 4; the most tokens out, from each row's max tokens; and the
cost range, from the input alone to the input plus every row at its max tokens, at each
row's model's price. A row whose model has no known price makes the cost unknown (null),
never a guess; the models without one are named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from llmcli.protocol import pricing

if TYPE_CHECKING:
    from llmcli.prices import PriceBook


def measure(body: Mapping[str, Any]) -> tuple[int, int | None, str | None]:
    """What a row's estimate needs of its body: tokens in (bytes ÷ 4), the most tokens
    out, its model."""
    model = body.get("model")
    return (
        pricing.estimated_input(len(orjson.dumps(body))),
        pricing.most_output(body),
        model if isinstance(model, str) else None,
    )


class Estimate:
    """Rows added one by one (their bodies as sent); ``as_json()`` the totals."""

    def __init__(self, book: PriceBook, discount: float = 0.0) -> None:
        self.book = book
        self.discount = discount  # a batch API's (0.5: half price)
        self.tokens_in = 0
        self.most_out = 0
        self.unbounded = 0  # rows without max tokens
        self.low = 0.0
        self.high = 0.0
        self.sources: set[str] = set()
        self.unpriced: set[str] = set()

    def add(self, body: Mapping[str, Any]) -> None:
        self.add_measured(measure(body))

    def add_measured(self, measured: tuple[int, int | None, str | None]) -> None:
        """A row as ``measure`` gave it: (tokens in, most tokens out, model)."""
        tokens_in, most, model = measured
        self.tokens_in += tokens_in
        if most is None:
            self.unbounded += 1
        else:
            self.most_out += most
        price, source = self.book.price(model)
        if price is None:
            self.unpriced.add(str(model))
            return
        self.sources.add(source)
        self.low += pricing.cost(pricing.Tokens(input=tokens_in), price)
        if most is not None:
            self.high += pricing.worst_case(tokens_in, most, price)

    def as_json(self) -> dict[str, Any]:
        priced = not self.unpriced
        bounded = priced and not self.unbounded
        keep = 1.0 - self.discount
        return {
            "tokens_in": self.tokens_in,
            "tokens_in_is": "an estimate: request bytes / 4",
            "tokens_out_most": self.most_out if not self.unbounded else None,
            "rows_without_max_tokens": self.unbounded,
            "cost_usd_min": round(self.low * keep, 6) if priced else None,
            "cost_usd_max": round(self.high * keep, 6) if bounded else None,
            "cost_source": "+".join(sorted(self.sources)) if priced else pricing.UNKNOWN,
            "unpriced_models": sorted(self.unpriced),
            **({"batch_discount": self.discount} if self.discount else {}),
        }
