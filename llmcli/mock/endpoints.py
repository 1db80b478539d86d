"""What a profile checks and answers on each endpoint, once the route is known.

``authorize``: the profile's auth (none; ``Authorization: Bearer``; ``x-api-key``;
either — seed 004 takes Bearer everywhere and, for the Anthropic SDK, ``x-api-key`` on
``/messages``), Anthropic's required ``anthropic-version`` header, and seed 002's ``402
Payment Required`` for a key with no balance (``{"error": {"message": "Insufficient
balance", "type": "insufficient_balance", "code": "insufficient_balance"}}``).

``answer``: ``/models`` in the profile's shape, ``/embeddings``, ``/messages``,
``/responses`` (``responses_wire``: the gateway's ``Stored`` responses, and the
``failed`` fault) and chat, streaming or not. Unknown body parameters are ignored (they
stay in the request record).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from . import anthropic_wire, openai_wire, responses_wire
from .error_bodies import RequestError
from .fake_models import ask_chat, ask_messages, reply
from .lookup import chat_model, embed_model, model_list
from .pricing import cost_fields
from .writer import MALFORMED

if TYPE_CHECKING:
    from email.message import Message

    from .faults import Faults
    from .profiles import Profile
    from .responses_wire import Stored
    from .writer import Writer

__all__ = ["METHODS", "answer", "authorize"]

# endpoint -> allowed method
METHODS = {
    "chat": "POST",
    "models": "GET",
    "embeddings": "POST",
    "messages": "POST",
    "responses": "POST",
}

_MISSING = {
    "bearer": "missing or malformed Authorization: Bearer header",
    "x-api-key": "missing x-api-key header",
    "either": "missing API key: send Authorization: Bearer or x-api-key",
}


def authorize(profile: Profile, endpoint: str, headers: Message) -> None:
    """Raise the ``RequestError`` the profile answers these request headers with, if any."""
    auth = profile.auth
    if endpoint == "messages" and profile.messages_auth is not None:
        auth = profile.messages_auth
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else ""
    key = (headers.get("x-api-key") or "").strip()
    ok = {"bearer": bool(bearer), "x-api-key": bool(key), "either": bool(bearer or key)}
    if not ok.get(auth, True):
        raise RequestError(401, _MISSING[auth], code="invalid_api_key")
    version = profile.version_header
    if version is not None and not (headers.get(version) or "").strip():
        raise RequestError(400, f"{version}: header is required", type_="invalid_request_error")
    empty = profile.empty_balance_key
    if empty is not None and empty in (bearer, key):
        raise RequestError(
            402, "Insufficient balance", code="insufficient_balance", type_="insufficient_balance"
        )


def _ok(writer: Writer, faults: Faults, obj: dict[str, Any]) -> None:
    writer.send(200, MALFORMED if faults.malformed else orjson.dumps(obj))


def answer(
    profile: Profile, endpoint: str, raw: bytes, writer: Writer, faults: Faults, stored: Stored
) -> None:
    """Answer a request that passed the checks (``RequestError`` for a bad body);
    ``stored``: the gateway's stored responses."""
    if endpoint == "models":
        _ok(writer, faults, model_list(profile))
        return
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise RequestError(400, f"invalid JSON body: {e}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object", code="invalid_json")
    if endpoint == "embeddings":
        model, size = embed_model(profile, body)
        _ok(writer, faults, openai_wire.embeddings(body, model, size))
        return
    stream = body.get("stream") is True
    if endpoint == "messages":
        said = reply(ask_messages(body, chat_model(profile, body)))
        if stream:
            writer.send_stream(anthropic_wire.message_events(said), anthropic_wire.ERROR)
        else:
            _ok(writer, faults, anthropic_wire.message(said))
        return
    if endpoint == "responses":
        said, created = responses_wire.turn(body, chat_model(profile, body), stored)
        cost = cost_fields(profile, said)
        if stream:
            events = responses_wire.response_events(said, body, created, faults.failed, cost)
            writer.send_stream(events, responses_wire.error_event(faults.error_after or 0))
        else:
            _ok(writer, faults, responses_wire.response(said, body, created, cost))
        return
    said = reply(ask_chat(body, chat_model(profile, body)))
    if stream:
        options = body.get("stream_options")
        usage = isinstance(options, dict) and options.get("include_usage") is True
        writer.send_stream(openai_wire.chat_chunks(said, usage, profile), openai_wire.ERROR)
    else:
        _ok(writer, faults, openai_wire.chat_completion(said, profile))
