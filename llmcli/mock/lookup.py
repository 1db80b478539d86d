"""Model lookup for a profile's requests, and the ``/models`` bodies.

``/models`` comes in four shapes: OpenAI's (``id``, ``object``, ``created``,
``owned_by``), OpenRouter's (OpenAI's, then ``name``, ``context_length`` — null when
unknown — and ``pricing``: decimal strings, USD per token, module ``pricing``), seed
004's (``id``, ``object`` and ``_meta`` with ``displayName``, ``description``,
``contextWindow``, ``supportsStreaming``, ``tags``, ``pricing {input, output, free}``)
and Anthropic's (``type``, ``id``, ``display_name``, ``created_at``; ``has_more``,
``first_id``, ``last_id``). An unknown model is a 404; on ``llmbase`` its
body is exactly seed 003's ``{"error": {"message": "Model not found: X", "type":
"invalid_request_error"}}``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .catalog import ModelInfo, find
from .error_bodies import RequestError

if TYPE_CHECKING:
    from .fake_models import Model
    from .profiles import Profile

__all__ = ["chat_model", "embed_model", "find", "model_list"]


def _not_found(profile: Profile, model: str) -> RequestError:
    if profile.errors == "llmbase":  # seed 003, exactly
        return RequestError(404, f"Model not found: {model}", type_="invalid_request_error")
    return RequestError(
        404, f"model not found: {model}", code="model_not_found", type_="invalid_request_error"
    )


def _pick(profile: Profile, body: dict[str, Any]) -> tuple[str, ModelInfo]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "model: a model id is required", code="missing_model")
    strip = profile.strip_model_prefix
    if strip and model.startswith(strip) and len(model) > len(strip):
        model = model[len(strip) :]
    info = find(profile, model)
    if info is None:
        raise _not_found(profile, model)
    return model, info


def chat_model(profile: Profile, body: dict[str, Any]) -> Model:
    """(the id the reply shows, the deterministic model that answers) for a chat body."""
    model, info = _pick(profile, body)
    if info.behaves == "embed":
        raise RequestError(400, f"model {model} is an embedding model", code="model_not_supported")
    if info.behaves != "glm":
        return model, info.behaves
    kwargs = body.get("chat_template_kwargs")
    thinking = isinstance(kwargs, dict) and kwargs.get("enable_thinking") is True
    return model, "think" if thinking else "echo"


def embed_model(profile: Profile, body: dict[str, Any]) -> tuple[str, int]:
    """(model id, vector size) for an embeddings body."""
    model, info = _pick(profile, body)
    if info.behaves != "embed":  # not an embedding model: none of that name
        raise _not_found(profile, model)
    return model, info.dims


def _meta(info: ModelInfo) -> dict[str, Any]:
    return {
        "displayName": info.display_name,
        "description": info.description,
        "contextWindow": info.context_window,
        "supportsStreaming": "streaming" in info.tags,
        "tags": list(info.tags),
        "pricing": {"input": info.price_in, "output": info.price_out, "free": info.free},
    }


def _created_at(info: ModelInfo) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(info.created))


def model_list(profile: Profile) -> dict[str, Any]:
    """The ``GET /models`` body of ``profile``."""
    models = profile.models
    if profile.models_shape == "anthropic":
        data = [
            {
                "type": "model",
                "id": m.id,
                "display_name": m.display_name or m.id,
                "created_at": _created_at(m),
            }
            for m in models
        ]
        first = data[0]["id"] if data else None
        last = data[-1]["id"] if data else None
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}
    if profile.models_shape == "lumyxai":
        return {
            "object": "list",
            "data": [{"id": m.id, "object": "model", "_meta": _meta(m)} for m in models],
        }
    listed: list[dict[str, Any]] = [
        {"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by}
        for m in models
    ]
    if profile.models_shape == "openrouter":
        from .pricing import openrouter_pricing

        for entry, m in zip(listed, models, strict=True):
            entry["name"] = m.display_name or m.id
            entry["context_length"] = m.context_window or None
            entry["pricing"] = openrouter_pricing(m)
    return {"object": "list", "data": listed}
