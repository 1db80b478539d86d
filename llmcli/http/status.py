"""What to say about a failed response: its status, the server's own words, what to do.

Pure functions of status, headers and body (no I/O): one line of the server's words
from any error-body shape the gateways use, plus a few words of advice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

_TAG = re.compile(rb"<[^>]*>")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def ratelimit_summary(headers: Mapping[str, str]) -> str:
    """``x-ratelimit-*`` headers in words, for a 429 that outlasted the retries."""
    parts = []
    for kind in ("requests", "tokens"):
        limit = headers.get(f"x-ratelimit-limit-{kind}")
        remaining = headers.get(f"x-ratelimit-remaining-{kind}")
        reset = headers.get(f"x-ratelimit-reset-{kind}")
        if limit or remaining or reset:
            text = f"{remaining or '?'} of {limit or '?'} {kind} left"
            parts.append(f"{text}, resets in {reset}" if reset else text)
    return "; ".join(parts)


def advice(
    status: int, detail: str, gateway: str, headers: Mapping[str, str], no_key: str | None = None
) -> str:
    """What to do about an error status, in a few words; ``no_key``: no key was sent, and
    where one would come from."""
    said = detail.lower()
    if status == 401 and no_key is not None:
        return f"no key was sent: set {no_key} (`llmcli gateways` shows each gateway's)"
    if status == 402 and not any(w in said for w in ("balance", "credit", "quota", "fund")):
        return "insufficient balance: add credit to the account"
    if status in (401, 403):
        return f"check the key: `llmcli gateways` shows where {gateway}'s comes from"
    if status == 404 and "model" in said:
        return f"`llmcli models -g {gateway}` lists the models"
    if status == 429:
        return ratelimit_summary(headers)
    return ""


def error_text(body: bytes, content_type: str) -> str:
    """The server's own words from an error body, in any shape the gateways use.

    JSON: ``{"error": {"message", "type", "code"}}`` (OpenAI, seeds 002-004),
    ``{"type": "error", "error": {...}}`` (Anthropic), ``{"error": "text"}``,
    ``{"message", "type"}``, ``{"detail": ...}``; an event stream (a Responses server
    answering an error with ``event: error`` and a 500): its first ``data:`` line of JSON;
    otherwise HTML (its title) or text.
    """
    import orjson

    from llmcli.http.request import body_json

    try:
        data = body_json(body)
    except orjson.JSONDecodeError:
        data = _event_data(body) if "event-stream" in content_type else None
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, str):
            return inner
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("detail") or data.get("message")
            extras = [str(inner[k]) for k in ("type", "code") if inner.get(k)]
            extras = [e for e in extras if e not in ("error", message)]
            text = str(message) if message else ""
            if extras:
                text = f"{text} [{', '.join(dict.fromkeys(extras))}]".strip()
            if text:
                return text
        return orjson.dumps(data).decode()[:300]
    if "html" in content_type or body.lstrip()[:1] == b"<":
        title = _TITLE.search(body)
        raw = title.group(1) if title else _TAG.sub(b" ", body)
        return " ".join(raw.decode("utf-8", "replace").split())[:300] or "(HTML error page)"
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:300] if text else "(empty body)"


def _event_data(body: bytes) -> Any:
    """The error an event stream carries: the data of its ``error`` (or
    ``response.failed``) event, else of the first event that holds an error or a message,
    else of its first JSON event."""
    import orjson

    found: list[dict[str, Any]] = []
    for line in body.splitlines():
        if line.startswith(b"data:"):
            try:
                data = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue
            if isinstance(data, dict):
                found.append(data)
    for data in found:
        if data.get("type") in ("error", "response.failed"):
            failed = data.get("response")
            if isinstance(failed, dict) and isinstance(failed.get("error"), dict):
                return failed
            return data
    return next((d for d in found if "error" in d or "message" in d), found[0] if found else None)


def status_line(status: int, reason: str = "") -> str:
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = {529: "Overloaded"}.get(status, "")
    return f"{status} {reason}".strip()
