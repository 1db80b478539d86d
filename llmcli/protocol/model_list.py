"""Model lists as gateways send them: OpenAI's ``{"data": [...]}``, Anthropic's paged list,
and the extras gateways add (seed 004's ``_meta``, OpenRouter's ``architecture`` and
``supported_parameters``). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llmcli.errors import ProtocolError
from llmcli.protocol import pricing
from llmcli.protocol.error_objects import check_error

JSON = dict[str, Any]


def model_list(body: Any, where: str) -> list[JSON]:
    """The model objects of a list answer (``data``, ``models``, or a bare array)."""
    check_error(body, where)
    items = body
    if isinstance(body, dict):
        items = body.get("data", body.get("models"))
    if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
        raise ProtocolError(f"{where}: the models answer is not a list of model objects")
    return items


def next_page(body: Any) -> str | None:
    """Anthropic pages its list: the ``after_id`` to ask for next, if there is more."""
    if isinstance(body, dict) and body.get("has_more") and isinstance(body.get("last_id"), str):
        return str(body["last_id"])
    return None


def model_id(model: Mapping[str, Any]) -> str:
    return str(model.get("id") or model.get("name") or model.get("model") or "")


def tags(model: Mapping[str, Any]) -> set[str]:
    """Capability tags: ``_meta.tags`` (seed 004), else what OpenRouter's fields imply."""
    found: set[str] = set()
    meta = model.get("_meta")
    if isinstance(meta, dict) and isinstance(meta.get("tags"), list):
        found.update(str(t) for t in meta["tags"])
    architecture = model.get("architecture")
    if isinstance(architecture, dict) and "image" in (architecture.get("input_modalities") or []):
        found.add("vision")
    supported = model.get("supported_parameters")
    if isinstance(supported, list):
        found.update(t for t in ("tools", "reasoning") if t in supported)
    return found


def matches(model: Mapping[str, Any], wanted_tags: Iterable[str], text: str | None) -> bool:
    """Has every wanted tag, and ``text`` (case-insensitive) in its id or display name."""
    if not set(wanted_tags) <= tags(model):
        return False
    if text:
        meta = model.get("_meta") if isinstance(model.get("_meta"), dict) else {}
        names = (
            model_id(model),
            model.get("display_name"),
            model.get("name"),
            (meta or {}).get("displayName"),
        )
        return any(text.lower() in str(n).lower() for n in names if n)
    return True


def _number(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}" if isinstance(value, int) else f"{value:g}"
    return str(value) if value not in (None, "") else ""


def row(model: Mapping[str, Any]) -> dict[str, str]:
    """What a terminal table shows of a model: owner, context window, pricing, tags."""
    meta = model.get("_meta") if isinstance(model.get("_meta"), dict) else {}
    meta = meta or {}
    context = meta.get("contextWindow", model.get("context_length", model.get("context_window")))
    price = pricing.from_model(model)  # every source normalised to USD per 1M tokens
    shown = ""
    if price is not None:
        free = price.input == price.output == 0
        shown = "free" if free else f"{price.input:g} / {price.output:g}"
    return {
        "id": model_id(model),
        "owner": str(model.get("owned_by") or ""),
        "context": _number(context),
        "pricing": shown,
        "unit": "USD per 1M tokens" if shown and shown != "free" else "",
        "tags": ",".join(sorted(tags(model))),
    }


def pricing_header(rows: list[dict[str, str]]) -> str:
    """The PRICING column's title, naming the unit (input / output, USD per million
    tokens, ``llmcli.protocol.pricing``) when a row is priced."""
    units = {r["unit"] for r in rows if r["pricing"] and r["pricing"] != "free"}
    return f"PRICING ({units.pop()})" if len(units) == 1 and "" not in units else "PRICING"
