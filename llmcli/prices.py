"""What a reply cost (``llmcli.protocol.pricing``), with the prices looked up where they
are: the gateway's own report, the config file, or the gateway's model list — fetched
once (``GET /models``) and cached for 24 hours under ``$XDG_CACHE_HOME/llmcli/prices/``,
one file per gateway. A list that cannot be fetched gives no price (the cost
is then ``null``, source ``unknown``); nothing is guessed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from llmcli.errors import LlmcliError
from llmcli.protocol import pricing
from llmcli.protocol.pricing import Price
from llmcli.state import cache_dir

if TYPE_CHECKING:
    from pathlib import Path

    from llmcli.client import Client

TTL = 24 * 3600  # seconds a fetched price list is used
MAX_FILE = 64 << 20  # a cached list read back is bounded (OpenRouter's ~400 models: ~60 KB)


class PriceBook:
    """The prices of one client's gateway. ``refresh``: fetch the list again; ``fetch``
    False: never fetch it (the cached list, or none)."""

    def __init__(
        self,
        client: Client,
        *,
        refresh: bool = False,
        fetch: bool = True,
        now: Callable[[], float] = time.time,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.refresh = refresh
        self.fetch = fetch  # False: the cached list only (--dry-run sends nothing)
        self.now = now
        self.env = env
        self._listed: dict[str, Price] | None = None

    def price(self, model: str | None) -> tuple[Price | None, str]:
        """A model's price and where it came from (``config``, ``models``, ``unknown``)."""
        if not model:
            return None, pricing.UNKNOWN
        configured = self.client.gateway.prices.get(model)
        if configured is not None:
            return pricing.from_config(configured), pricing.CONFIG
        found = self.listed().get(model)
        return (found, pricing.MODELS) if found is not None else (None, pricing.UNKNOWN)

    def cost(
        self, usage: Any, models: tuple[str | None, ...], header: str | None = None
    ) -> tuple[float | None, str]:
        """What a reply with ``usage`` cost, and its source: the gateway's report, else
        its tokens at the first of ``models`` (the one asked for, the one that answered)
        with a known price."""
        reported = pricing.reported(usage, header)
        if reported is not None:
            return reported, pricing.GATEWAY
        counted = pricing.tokens(usage)
        if counted is None:
            return None, pricing.UNKNOWN
        for model in dict.fromkeys(m for m in models if m):
            price, source = self.price(model)
            if price is not None:
                return round(pricing.cost(counted, price), 10), source
        return None, pricing.UNKNOWN

    # the model list, cached -------------------------------------------------------------

    def _file(self) -> Path:
        """One file per gateway; it names the base URL it was fetched from (another one
        is fetched again, and replaces it)."""
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.client.gateway.name)
        return cache_dir(self.env) / "prices" / f"{name}.json"

    def listed(self) -> dict[str, Price]:
        """The prices the gateway's model list states (fetched, or cached when fresh)."""
        if self._listed is None:
            cached = None if self.refresh else self._read()
            if cached is None and not self.fetch:
                cached = {}
            self._listed = cached if cached is not None else self._fetch()
        return self._listed

    def _read(self) -> dict[str, Price] | None:
        try:
            with self._file().open("rb") as f:
                raw = f.read(MAX_FILE + 1)
            if len(raw) > MAX_FILE:
                return None  # not a price list this writes: fetched again
            saved = orjson.loads(raw)
            fetched = float(saved["fetched_at"])
            if saved["base_url"] != self.client.gateway.base_url:
                return None
            if not 0 <= self.now() - fetched < TTL:
                return None
            return {model: Price(**price) for model, price in saved["prices"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none, unreadable or of another shape: fetched again

    def _fetch(self) -> dict[str, Price]:
        try:
            models = self.client.models()
        except LlmcliError:
            return {}  # no list: no price (the reply is already out)
        prices = {}
        for model in models:
            price = pricing.from_model(model)
            if price is not None and isinstance(model.get("id"), str):
                prices[model["id"]] = price
        self._write(prices)
        return prices

    def _write(self, prices: dict[str, Price]) -> None:
        """Saved whole or not at all (a temporary file renamed), for the next run."""
        path = self._file()
        saved = {
            "base_url": self.client.gateway.base_url,
            "fetched_at": self.now(),
            "prices": {model: price.as_json() for model, price in prices.items()},
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".prices-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(orjson.dumps(saved))
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError:
            pass  # a cache that cannot be written is fetched again next time
