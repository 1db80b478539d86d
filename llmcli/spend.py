"""``--max-cost USD``: a cap on what a request or a run may spend (DESIGN.md, "Cost").

Nothing is sent whose worst case — what was spent, what the requests in flight may still
spend, and this request's input (bytes ÷ 4) plus its most output tokens at the model's
price — would pass the cap; reaching it stops like a 402 does (exit 77). A request needs
a bound on its reply (max tokens) and a known price; without either, nothing is sent.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmcli.errors import NotAllowedError, UsageError
from llmcli.protocol import pricing

if TYPE_CHECKING:
    from llmcli.prices import PriceBook


class OverBudget(NotAllowedError):
    """Sending this would pass --max-cost (exit 77, as a 402)."""


def usd(amount: float) -> str:
    return f"${amount:.6f}".rstrip("0").rstrip(".") if amount else "$0"


class Spend:
    """The spending of one run under a cap, shared by its workers."""

    def __init__(self, cap: float, book: PriceBook) -> None:
        self.cap = cap
        self.book = book
        self.spent = 0.0
        self.reserved = 0.0
        self._lock = threading.Lock()

    def worst(self, body: Mapping[str, Any], body_bytes: int) -> float:
        """A request's worst case; ``UsageError`` when it cannot be bounded."""
        most = pricing.most_output(body)
        if most is None:
            raise UsageError(
                f"--max-cost {usd(self.cap)} needs a bound on the reply: give --max-tokens N "
                "(max_output_tokens for responses)"
            )
        model = body.get("model")
        price = self.price(model if isinstance(model, str) else None)
        return pricing.worst_case(pricing.estimated_input(body_bytes), most, price)

    def price(self, model: str | None) -> pricing.Price:
        """A model's price; ``UsageError`` when none is known (a cap needs one)."""
        price, _ = self.book.price(model)
        if price is None:
            raise UsageError(
                f"--max-cost {usd(self.cap)}: no price is known for model {model!r} on "
                f'{self.book.client.gateway.name} (set [gateways.NAME.prices."MODEL"] in the '
                "config file)"
            )
        return price

    def reserve(self, worst: float) -> None:
        """Hold ``worst`` for a request about to go out, or refuse it (77)."""
        with self._lock:
            if self.spent + self.reserved + worst > self.cap:
                raise OverBudget(
                    f"--max-cost {usd(self.cap)} reached: {usd(self.spent)} spent, "
                    f"{usd(self.reserved)} in flight, and the next request could cost up to "
                    f"{usd(worst)}"
                )
            self.reserved += worst

    def settle(self, worst: float, cost: float | None) -> None:
        """A request came back: what it cost (its worst case when no cost is known)."""
        with self._lock:
            self.reserved -= worst
            self.spent += worst if cost is None else cost
