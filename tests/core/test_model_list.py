"""llmcli.protocol.model_list: what the models table shows, its prices in one unit. Pure."""

from __future__ import annotations

from llmcli.protocol.model_list import pricing_header, row

SEED_004 = {"id": "a", "_meta": {"pricing": {"input": 0.5, "output": 1.5, "free": False}}}
STATED = {
    "id": "b",
    "_meta": {"pricing": {"input": 3, "output": 15, "currency": "USD", "unit": "per 1M tokens"}},
}
OPENROUTER = {"id": "c", "pricing": {"prompt": "0.000003", "completion": "0.000015"}}
FREE = {"id": "d", "_meta": {"pricing": {"input": 0, "output": 0, "free": True}}}


def test_a_stated_unit_names_the_pricing_column() -> None:
    rows = [row(STATED), row(FREE)]
    assert [r["pricing"] for r in rows] == ["3 / 15", "free"]
    assert pricing_header(rows) == "PRICING (USD per 1M tokens)"


def test_openrouter_prices_per_token_are_shown_per_million() -> None:
    assert row(OPENROUTER)["pricing"] == "3 / 15"
    assert pricing_header([row(OPENROUTER)]) == "PRICING (USD per 1M tokens)"


def test_every_source_in_one_unit() -> None:
    assert row(SEED_004)["pricing"] == "0.5 / 1.5"  # seed 004 states none: USD per 1M
    assert pricing_header([row(STATED), row(OPENROUTER), row(SEED_004)]) == (
        "PRICING (USD per 1M tokens)"
    )
    assert pricing_header([row({"id": "e"})]) == "PRICING"
    assert (
        row({"id": "f", "_meta": {"pricing": {"input": 1, "output": 2, "currency": "EUR"}}})[
            "pricing"
        ]
        == ""
    )
