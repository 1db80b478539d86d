"""The batch APIs of the offline gateway, in the wire shapes of the providers' SDK types
and API reference: OpenAI's Files + Batches and Anthropic's Message Batches, under the
profile's prefix (``batch_store.route``); the server checks method, faults and auth first.

Errors are ``RequestError`` in the route's style; an unknown id is a 404. OpenAI refuses
a bad create body (400) and fails a batch with bad input lines (``status: failed``);
Anthropic refuses a bad ``custom_id`` or too many requests (400) and reports bad
``params`` as ``errored`` results. A message batch's results before it ends, a cancel
after the end and a delete before it are 400 ``invalid_request_error``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from . import batch_jobs as jobs
from .batch_store import (
    Route,
    Store,
    check_requests,
    form_fields,
    invalid,
    new_id,
    page,
    rows_of,
)
from .error_bodies import RequestError

if TYPE_CHECKING:
    import os
    from email.message import Message

    from .profiles import Profile
    from .writer import Writer

__all__ = ["Batches"]

Record = dict[str, Any]
Reply = tuple[bytes, str]  # body, content type
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/responses")
MAX_MESSAGE_BATCH = 256 << 20  # bytes


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets of the request."""

    ident: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Record:
        try:
            body = orjson.loads(self.body)
        except orjson.JSONDecodeError as e:
            raise invalid(f"invalid JSON body: {e}", "invalid_json") from None
        if not isinstance(body, dict):
            raise invalid("the request body must be a JSON object", "invalid_json")
        return body

    def limit(self, most: int) -> int:
        text = self.arg("limit") or "20"
        if not text.isdigit() or not 1 <= int(text) <= most:
            raise invalid(f"limit: expected an integer from 1 to {most}, got {text!r}")
        return int(text)


def _json(obj: Any) -> Reply:
    return orjson.dumps(obj), "application/json"


def _listing(records: list[Record], more: bool, **extra: Any) -> Reply:
    first, last = (records[0]["id"], records[-1]["id"]) if records else (None, None)
    return _json({**extra, "data": records, "first_id": first, "last_id": last, "has_more": more})


def _metadata(value: Any) -> dict[str, str] | None:
    """OpenAI's ``metadata``: at most 16 pairs, keys to 64 and values to 512 characters."""
    fits = isinstance(value, dict) and len(value) <= 16
    fits = fits and all(
        isinstance(v, str) and len(k) <= 64 and len(v) <= 512 for k, v in value.items()
    )
    if value is not None and not fits:
        raise invalid("metadata: expected up to 16 string pairs (keys 64, values 512 chars)")
    return None if value is None else dict(value)


def _required(body: Record, *fields: str) -> None:
    if missing := [name for name in fields if name not in body]:
        raise invalid(f"Missing required parameter: '{missing[0]}'.", "missing_required_parameter")


class Batches:
    """The batch objects of one gateway, kept in ``root`` (a temporary directory when
    None); the batches created here run for ``seconds`` of ``clock`` (Unix time: the
    gateway's ``Clock.wall``, which a test may move on)."""

    def __init__(
        self,
        profile: Profile,
        root: str | os.PathLike[str] | None = None,
        seconds: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.profile = profile
        self.seconds = seconds
        self.store = Store(root)
        self.clock = clock

    def close(self) -> None:
        """Remove the temporary directory, if there is one."""
        self.store.close()

    def answer(
        self, route: Route, target: str, headers: Message, body: bytes, writer: Writer
    ) -> None:
        """Answer a batch request that passed the server's checks (``RequestError`` for a
        request the API refuses, 500 when the store fails)."""
        call = Call(route.ident, parse_qs(urlsplit(target).query), headers, body)
        handler: Callable[[Call], Reply] = getattr(self, f"_{route.api}_{route.action}")
        try:
            data, kind = handler(call)
        except OSError as e:
            raise RequestError(500, f"batch store: {e.strerror or e}") from None
        writer.send(200, data, kind)

    def _cancel(self, kind: str, ident: str, ended: Callable[[Record], str | None]) -> Record:
        """Mark the batch cancelled now (once); 400 when ``ended`` says it is over."""
        with self.store.lock:
            record = self.store.find(kind, ident)
            if (over := ended(record)) is not None:
                raise invalid(f"cannot cancel {ident}: it {over}")
            if record["cancel"] is None:
                record["cancel"] = self.clock()
                self.store.save(record)
        return record

    # ---- OpenAI -------------------------------------------------------------------------

    def _openai_upload(self, call: Call) -> Reply:
        try:
            fields = form_fields(call.headers.get("Content-Type") or "", call.body)
        except ValueError as e:
            raise invalid(str(e)) from None
        _required(fields, "purpose", "file")
        purpose = fields["purpose"][1].decode("utf-8", "replace")
        if purpose != "batch":
            raise invalid(f"purpose: this gateway takes only 'batch', got {purpose!r}")
        (name, data), ident = fields["file"], new_id("file")
        return _json(self.store.add_file(ident, name or "file", data, purpose, self.clock()))

    def _openai_file(self, call: Call) -> Reply:
        return _json(self.store.find("file", call.ident))

    def _openai_content(self, call: Call) -> Reply:
        data = self.store.read(self.store.find("file", call.ident)["id"], "data")
        return data or b"", "application/octet-stream"

    def _openai_delete_file(self, call: Call) -> Reply:
        self.store.remove(self.store.find("file", call.ident)["id"])
        return _json({"id": call.ident, "object": "file", "deleted": True})

    def _openai_create(self, call: Call) -> Reply:
        body = call.json()
        _required(body, "input_file_id", "endpoint", "completion_window")
        endpoint, window, file_id = (
            body[k] for k in ("endpoint", "completion_window", "input_file_id")
        )
        if endpoint not in ENDPOINTS:
            raise invalid(f"endpoint: expected one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
        if window != "24h":
            raise invalid(f"completion_window: expected '24h', got {window!r}")
        metadata = _metadata(body.get("metadata"))
        source = self.store.get("file", file_id)
        if source is None or source["purpose"] != "batch":
            raise invalid(f"input_file_id: no file of purpose 'batch': {file_id}")
        data = self.store.read(file_id, "data") or b""
        errors = jobs.check_input(data, endpoint)
        rows = [] if errors else rows_of(data)
        expire = (metadata or {}).get("mock_expire") == "true"
        style = self.profile.errors
        outcomes = "".join("x" if expire else jobs.outcome(self.profile, *r, style) for r in rows)
        model = next((r[2].get("model") for r in rows if isinstance(r[2], dict)), None)
        record: Record = {
            "id": new_id("batch"),
            "created": self.clock(),
            "seconds": self.seconds,
            "endpoint": endpoint,
            "input_file_id": file_id,
            "completion_window": window,
            "metadata": metadata,
            "model": model if isinstance(model, str) else None,
            "errors": errors or None,
            "expire": expire,
            "cancel": None,
            "outcomes": outcomes,
            "output_file_id": new_id("file"),
            "error_file_id": new_id("file"),
            "ready": False,
        }
        if rows:
            self.store.write(record["id"], "rows", data)
        self.store.save(record)
        return _json(jobs.openai_view(record, record["created"]))

    def _view(self, record: Record) -> Record:
        """The Batch object now; its result files are written when it first has them."""
        now = self.clock()
        status, done, times = jobs.openai_state(record, now)
        if status in jobs.FINISHED and not record["ready"]:
            times.pop("expires_at")
            self._results(record["id"], done, max(times.values()))
        return jobs.openai_view(record, now)

    def _results(self, ident: str, done: int, when: float) -> None:
        with self.store.lock:
            record = self.store.load(ident)
            if record is None or record["ready"]:
                return
            rows = rows_of(self.store.read(ident, "rows") or b"")
            files = jobs.openai_results(self.profile, record, rows, done)
            for kind, lines in zip(("output", "error"), files, strict=True):
                if lines:
                    data = b"".join(line + b"\n" for line in lines)
                    file_id, name = record[f"{kind}_file_id"], f"{ident}_{kind}.jsonl"
                    self.store.add_file(file_id, name, data, "batch_output", when)
            self.store.save({**record, "ready": True})

    def _openai_get(self, call: Call) -> Reply:
        return _json(self._view(self.store.find("batch", call.ident)))

    def _openai_cancel(self, call: Call) -> Reply:
        def ended(record: Record) -> str | None:
            status = jobs.openai_state(record, self.clock())[0]
            return f"is {status}" if status in ("completed", "failed", "expired") else None

        return _json(self._view(self._cancel("batch", call.ident, ended)))

    def _openai_list(self, call: Call) -> Reply:
        found = self.store.batches("batch_")
        shown, more = page(found, call.limit(100), call.arg("after"))
        return _listing([self._view(r) for r in shown], more, object="list")

    # ---- Anthropic ----------------------------------------------------------------------

    def _message_view(self, call: Call, record: Record) -> Record:
        host = call.headers.get("Host") or "localhost"
        base_url = f"http://{host}{self.profile.prefix.rstrip('/')}"
        return jobs.anthropic_view(record, self.clock(), base_url)

    def _ended(self, record: Record) -> bool:
        return jobs.anthropic_state(record, self.clock())[0]

    def _anthropic_create(self, call: Call) -> Reply:
        if len(call.body) > MAX_MESSAGE_BATCH:
            raise RequestError(413, "a message batch is limited to 256 MB")
        requests = check_requests(call.json())
        rows = [(r["custom_id"], "/v1/messages", r["params"]) for r in requests]
        record: Record = {
            "id": new_id("msgbatch"),
            "created": self.clock(),
            "seconds": self.seconds,
            "cancel": None,
            "outcomes": "".join(jobs.outcome(self.profile, *row, "anthropic") for row in rows),
        }
        kept = (
            orjson.dumps({"custom_id": r["custom_id"], "params": r["params"]}) for r in requests
        )
        self.store.write(record["id"], "rows", b"".join(line + b"\n" for line in kept))
        self.store.save(record)
        return _json(self._message_view(call, record))

    def _anthropic_get(self, call: Call) -> Reply:
        return _json(self._message_view(call, self.store.find("msgbatch", call.ident)))

    def _anthropic_list(self, call: Call) -> Reply:
        after, before = call.arg("after_id"), call.arg("before_id")
        if after is not None and before is not None:
            raise invalid("after_id, before_id: give one of them, not both")
        found = self.store.batches("msgbatch_")
        shown, more = page(found, call.limit(1000), after, before)
        return _listing([self._message_view(call, r) for r in shown], more)

    def _anthropic_cancel(self, call: Call) -> Reply:
        record = self._cancel(
            "msgbatch", call.ident, lambda r: "has ended" if self._ended(r) else None
        )
        return _json(self._message_view(call, record))

    def _anthropic_results(self, call: Call) -> Reply:
        record = self.store.find("msgbatch", call.ident)
        ended, done, _ = jobs.anthropic_state(record, self.clock())
        if not ended:
            status = "in_progress" if record["cancel"] is None else "canceling"
            raise invalid(f"message batch {call.ident} has not ended yet: it is {status}")
        data = self.store.read(record["id"], "results")
        if data is None:
            rows = rows_of(self.store.read(record["id"], "rows") or b"")
            data = jobs.anthropic_results(self.profile, record, rows, done)
            self.store.write(record["id"], "results", data)
        return data, "application/x-jsonl"

    def _anthropic_delete(self, call: Call) -> Reply:
        record = self.store.find("msgbatch", call.ident)
        if not self._ended(record):
            raise invalid(f"message batch {call.ident} has not ended: cancel it first")
        self.store.remove(record["id"])
        return _json({"id": record["id"], "type": "message_batch_deleted"})
