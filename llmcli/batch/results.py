"""Batch output lines, and whether one holds a success (``--resume`` keeps those).

Output lines have OpenAI's batch output shape, the same OpenAI's Batch API and vLLM
write, so one downstream reader serves all three::

    {"id": "batch_req_…", "custom_id": "…",
     "response": {"status_code": 200, "request_id": "…", "body": {…}}, "error": null}

A failure with an HTTP answer keeps its status and body; one without (a bad line, a cut
connection, a deadline) has ``"response": null`` and ``"error": {"code", "message"}``.

A row's ``id`` is made from what the row is (custom_id, status and request id, or the
error), not drawn at random, so the same answers give the same bytes: a run replayed
from a cassette (``--replay``) prints what the recorded run printed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from llmcli.http.request import body_json

JSON = dict[str, Any]


def _id(*parts: str) -> str:
    """``outcomes.stable_id``'s recipe (outcomes imports this module, not the reverse)."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=12).hexdigest()
    return "batch_req_" + digest


def answered(custom_id: str, status: int, request_id: str, body: Any) -> JSON:
    """A row with an HTTP answer, success or not."""
    return {
        "id": _id(custom_id, str(status), request_id),
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": request_id, "body": body},
        "error": None,
    }


def failed(custom_id: str, code: str, message: str) -> JSON:
    """A row without an HTTP answer."""
    return {
        "id": _id(custom_id, code, message),
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }


def succeeded(row: Any) -> bool:
    """Whether an output row holds a 2xx answer that is no error sent with a 2xx (as
    ``llmcli chat`` would exit 65 on it, the row is rejected, and ``--resume`` sends it
    again)."""
    if not isinstance(row, dict) or not isinstance(row.get("response"), dict):
        return False
    status = row["response"].get("status_code")
    if not (isinstance(status, int) and 200 <= status < 300):
        return False
    from llmcli.protocol.error_objects import carried_error

    return carried_error(row["response"].get("body")) is None


def body_of(raw: bytes) -> Any:
    """An answer's body as the output line holds it: its JSON, or its text."""
    try:
        return body_json(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")
