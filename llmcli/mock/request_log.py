"""The line ``llmcli serve`` logs per request: ``POST /v1/chat/completions 200 3 ms
model=echo``. Pure: the server times the request and hands the line to its ``log``.

The query string is left out (a key can ride in it); the model comes from a JSON body's
``model``, quoted as JSON when it has spaces or control characters, cut at 100.
"""

from __future__ import annotations

import orjson

__all__ = ["log_line"]

MODEL_CHARS = 100


def _model(body: bytes) -> str | None:
    if b'"model"' not in body:
        return None
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    model = obj.get("model") if isinstance(obj, dict) else None
    if not isinstance(model, str) or not model:
        return None
    model = model[:MODEL_CHARS]
    plain = model.isprintable() and not any(c.isspace() for c in model) and '"' not in model
    return model if plain else orjson.dumps(model).decode()


def log_line(method: str, path: str, status: int | None, seconds: float, body: bytes) -> str:
    """One request: method, path without its query, status (``-`` when none was sent),
    whole milliseconds, and the model of the body, if any."""
    shown = path.split("?", 1)[0]
    line = f"{method} {shown} {status or '-'} {round(seconds * 1000)} ms"
    model = _model(body)
    return line if model is None else f"{line} model={model}"
