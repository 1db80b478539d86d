"""Batch output lines, and what an output file already holds (for ``--resume``).

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
import os
from collections.abc import Iterator
from typing import Any

import orjson

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
    """Whether an output row holds a 2xx answer."""
    if not isinstance(row, dict) or not isinstance(row.get("response"), dict):
        return False
    status = row["response"].get("status_code")
    return isinstance(status, int) and 200 <= status < 300


def body_of(raw: bytes) -> Any:
    """An answer's body as the output line holds it: its JSON, or its text."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def done_ids(path: str) -> set[str]:
    """``--resume``: the custom_ids that already have a 2xx answer in ``path``.

    The file is rewritten (atomically: a temporary file, fsync, rename) without what the
    run will send again: a torn last line (the run was killed mid-write) and every row
    that did not succeed. So each row is answered exactly once in the file, however
    often the run was killed.
    """
    if not os.path.exists(path):
        return set()
    done: set[str] = set()
    dropped = False
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".{os.path.basename(path)}.llmcli-resume.tmp")
    with open(path, "rb") as source, open(temporary, "wb") as kept:
        for line in _lines(source):
            try:
                row = orjson.loads(line) if line.endswith(b"\n") else None
            except orjson.JSONDecodeError:
                row = None
            custom_id = row.get("custom_id") if isinstance(row, dict) else None
            if succeeded(row) and isinstance(custom_id, str) and custom_id not in done:
                done.add(custom_id)
                kept.write(line)
            else:
                dropped = True
        if dropped:
            kept.flush()
            os.fsync(kept.fileno())
    if dropped:
        os.replace(temporary, path)
    else:
        os.unlink(temporary)
    return done


def _lines(source: Any) -> Iterator[bytes]:
    while line := source.readline():
        yield line
