"""OpenRouter's prices and usage accounting, for the profiles that imitate it.

``/models`` (``models_shape="openrouter"``) gives each model OpenRouter's ``pricing``
object: decimal strings, USD per token, never in exponent form (``"0.00000015"``), made
from the catalog's price per million tokens; ``input_cache_read`` is a tenth of
``prompt``, ``internal_reasoning`` the same as ``completion``, ``request`` and ``image``
``"0"``; a model without a price is ``"0"`` throughout.

Every answer of a profile with ``usage_cost`` carries OpenRouter's usage accounting:
``cost`` (a JSON number, USD: prompt tokens at the prompt price plus completion tokens,
reasoning included, at the completion price, exactly, rounded to 12 decimal places),
``is_byok: false`` and ``cost_details: {"upstream_inference_cost": null}``; chat usage
also ``prompt_tokens_details: {"cached_tokens": 0}`` and ``completion_tokens_details:
{"reasoning_tokens": N}`` (``chat_usage``), a Responses usage only the three
(``cost_fields``: it has its own details).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .catalog import find

if TYPE_CHECKING:
    from .catalog import ModelInfo
    from .fake_models import Reply
    from .profiles import Profile

__all__ = ["chat_usage", "cost_fields", "openrouter_pricing", "per_token"]

_MILLION = Decimal(1_000_000)
_PLACES = Decimal(1).scaleb(-12)  # cost is rounded to 12 decimal places


def per_token(per_million: float) -> Decimal:
    """A price per million tokens as the exact decimal price per token."""
    return Decimal(repr(per_million)) / _MILLION


def _text(price: Decimal) -> str:
    """A price as OpenRouter writes it: ``"0.0000003"``, ``"0"`` (no exponent, no trailing
    zeros)."""
    return format(price.normalize(), "f") if price else "0"


def openrouter_pricing(info: ModelInfo) -> dict[str, str]:
    """The ``pricing`` object of ``info`` in OpenRouter's ``/models``."""
    prompt, completion = per_token(info.price_in), per_token(info.price_out)
    return {
        "prompt": _text(prompt),
        "completion": _text(completion),
        "request": "0",
        "image": "0",
        "input_cache_read": _text(prompt / 10),
        "internal_reasoning": _text(completion),
    }


def _cost(profile: Profile, said: Reply) -> float | int:
    info = find(profile, said.ask.model)
    if info is None:  # an id chat_model accepted is always found; free if it were not
        return 0
    exact = said.prompt_tokens * per_token(info.price_in)
    exact += said.completion_tokens * per_token(info.price_out)
    rounded = exact.quantize(_PLACES)
    return float(rounded) if rounded else 0  # a free model costs 0, as OpenRouter says


def cost_fields(profile: Profile, said: Reply) -> dict[str, Any]:
    """``cost``, ``is_byok`` and ``cost_details`` of ``said`` (nothing without
    ``profile.usage_cost``)."""
    if not profile.usage_cost:
        return {}
    return {
        "cost": _cost(profile, said),
        "is_byok": False,
        "cost_details": {"upstream_inference_cost": None},
    }


def chat_usage(profile: Profile, said: Reply, usage: dict[str, Any]) -> dict[str, Any]:
    """A Chat Completions ``usage`` with the profile's accounting added, in OpenRouter's
    order (``usage`` itself without ``profile.usage_cost``)."""
    fields = cost_fields(profile, said)
    if not fields:
        return usage
    return {
        **usage,
        "cost": fields["cost"],
        "is_byok": fields["is_byok"],
        "prompt_tokens_details": {"cached_tokens": 0},
        "cost_details": fields["cost_details"],
        "completion_tokens_details": {"reasoning_tokens": said.reasoning_tokens},
    }
