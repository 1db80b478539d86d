"""The mock batch jobs, as pure functions of their stored record and the clock.

A batch runs for ``seconds`` (its creator's ``batch_seconds``) from ``created``, through
its rows in input order at an even pace; its status, counts and times are computed from
the record when asked for. OpenAI: ``validating`` (a tenth), then ``failed`` (bad input
lines: ``errors``) or ``in_progress`` to nine tenths, ``finalizing``, ``completed``; with
metadata ``mock_expire: "true"``, ``in_progress`` to the end and ``expired``, every row
expired. A cancel stops the rows: ``cancelling``, ``cancelled`` a tenth later.
``request_counts.failed`` counts the error file's lines (failed, expired, cancelled).
Anthropic: ``in_progress`` (all ``processing``) to the end, then ``ended``; a cancel gives
``canceling`` and ends it a tenth later, the rows not processed ``canceled``.

A row whose ``custom_id`` starts with ``expire`` expires; any other gets what the live
endpoint answers its body (``run``), so its outcome is known at create (``s``, ``f``,
``x``) and bodies are rendered only for the results, shuffled as the real APIs do not
keep the input order (seeded by the batch id). A ``/v1/responses`` row is answered the
whole ``response`` object, made when the batch was created (``created_at``) and stored
nowhere: a ``previous_response_id`` is a 404 there.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from . import anthropic_wire, openai_wire, responses_wire
from .batch_store import Row, lines_of
from .error_bodies import RequestError
from .fake_models import ask_chat, ask_messages, reply
from .lookup import chat_model, embed_model
from .pricing import cost_fields
from .profiles import ENDPOINT_PATHS

if TYPE_CHECKING:
    from .profiles import Profile

__all__ = [
    "FINISHED",
    "anthropic_results",
    "anthropic_state",
    "anthropic_view",
    "check_input",
    "openai_results",
    "openai_state",
    "openai_view",
    "outcome",
]

Record = dict[str, Any]
DAY = 86_400
MAX_LINES, MAX_BYTES = 50_000, 200 << 20  # an OpenAI input file: requests, bytes
FINISHED = frozenset({"completed", "expired", "cancelled"})  # with result files
#: batch line url -> the endpoint answering it
SERVED = {"/v1" + path: name for name, path in ENDPOINT_PATHS.items() if name != "models"}
TIMES = (  # the Batch object's timestamps, in its order
    *("in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at"),
    *("expired_at", "cancelling_at", "cancelled_at"),
)
EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
CANCELLED = {
    "code": "batch_cancelled",
    "message": "This request was not executed because the batch was cancelled.",
}


def _rfc3339(epoch: float) -> str:
    """Anthropic's timestamps: ``2024-09-24T18:37:24.100435Z``."""
    when = datetime.fromtimestamp(epoch, UTC)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _hex(*key: object) -> str:
    return hashlib.sha256("\0".join(map(str, key)).encode()).hexdigest()[:32]


def _line_error(line: Any, endpoint: str, seen: set[str]) -> tuple[str, str | None] | None:
    """(code, param) of what is wrong with one line of an OpenAI input file, if anything."""
    if not isinstance(line, dict):
        return "invalid_json_line", None
    missing = [name for name in ("custom_id", "method", "url", "body") if name not in line]
    if missing:
        return "missing_required_parameter", missing[0]
    custom_id = line["custom_id"]
    if not isinstance(custom_id, str) or not custom_id or custom_id in seen:
        return ("duplicate_custom_id" if custom_id in seen else "invalid_value"), "custom_id"
    seen.add(custom_id)
    if line["method"] != "POST":
        return "invalid_method", "method"
    return None if line["url"] == endpoint else ("url_mismatch", "url")


MESSAGES = {
    "invalid_json_line": "This line is not parseable as valid JSON.",
    "missing_required_parameter": "Missing required parameter: '{param}'.",
    "invalid_value": "The custom_id for this request must be a non-empty string.",
    "duplicate_custom_id": "The custom_id for this request is a duplicate of another "
    "request. The custom_id parameter must be unique for each request in a batch.",
    "invalid_method": "The method for this request must be POST.",
    "url_mismatch": "The URL provided for this request does not match the batch endpoint.",
    "empty_file": "The input file is empty.",
    "too_many_tasks": "The input file has more than 50000 requests.",
    "file_too_large": "The input file is larger than 200 MB.",
}


def check_input(data: bytes, endpoint: str) -> list[Record]:
    """The ``errors.data`` failing a batch of this input file (none: it is valid), at most
    100: OpenAI's codes ``invalid_json_line``, ``duplicate_custom_id``, ``url_mismatch``,
    ``empty_file``, ``too_many_tasks``; ours ``missing_required_parameter``,
    ``invalid_value``, ``invalid_method``, ``file_too_large``. Lines count from 1."""
    found: list[tuple[str, str | None, int | None]] = []
    if len(data) > MAX_BYTES:
        found.append(("file_too_large", None, None))
    elif not (lines := list(lines_of(data))) or len(lines) > MAX_LINES:
        found.append(("too_many_tasks" if lines else "empty_file", None, None))
    else:
        seen: set[str] = set()
        for number, line in lines:
            if (error := _line_error(line, endpoint, seen)) is not None:
                found.append((*error, number))
    return [
        {"code": c, "message": MESSAGES[c].format(param=p), "param": p, "line": n}
        for c, p, n in found[:100]
    ]


def run(
    profile: Profile, url: str, body: Any, style: str, render: bool, created: float = 0.0
) -> tuple[int, Any]:
    """(status, body) of what the live endpoint at ``url`` answers ``body``: the reply (None
    unless ``render``) or the error body in ``style``. Streaming is ignored; a response
    (``/v1/responses``) is dated ``created``."""
    endpoint = SERVED.get(url)
    try:
        if endpoint is None or endpoint not in profile.endpoints:
            raise RequestError(404, f"no such endpoint: POST {url}", code="not_found")
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object", code="invalid_json")
        if endpoint == "embeddings":
            model, size = embed_model(profile, body)
            return 200, openai_wire.embeddings(body, model, size)
        if endpoint == "messages":
            said = reply(ask_messages(body, chat_model(profile, body)))
            return 200, anthropic_wire.message(said) if render else None
        if endpoint == "responses":
            nowhere = responses_wire.Stored(lambda: created)
            said, when = responses_wire.turn(body, chat_model(profile, body), nowhere)
            cost = cost_fields(profile, said)
            return 200, responses_wire.response(said, body, when, cost) if render else None
        said = reply(ask_chat(body, chat_model(profile, body)))
        return 200, openai_wire.chat_completion(said, profile) if render else None
    except RequestError as e:
        return e.status, orjson.loads(e.body(style))


def outcome(profile: Profile, custom_id: str, url: str, body: Any, style: str) -> str:
    """The row's letter: ``x`` (it will expire), ``s`` (answered 200) or ``f``."""
    if custom_id.startswith("expire"):
        return "x"
    return "s" if run(profile, url, body, style, render=False)[0] == 200 else "f"


def _done(rows: int, clock: float, start: float, stop: float) -> int:
    """How many rows are processed at ``clock``, at an even pace from start to stop."""
    return rows if clock >= stop else max(0, int(rows * (clock - start) / (stop - start)))


# ---- OpenAI -------------------------------------------------------------------------------


def openai_state(rec: Record, now: float) -> tuple[str, int, dict[str, float]]:
    """(status, rows processed, the ``*_at`` times reached) of an OpenAI batch at ``now``."""
    created, seconds, expire = rec["created"], rec["seconds"], rec["expire"]
    start, end = created + seconds / 10, created + seconds
    times = {"expires_at": created + DAY}
    if rec["errors"]:
        return (
            ("failed", 0, times | {"failed_at": start})
            if now >= start
            else ("validating", 0, times)
        )
    stop = end if expire else created + seconds * 0.9
    cancel = rec["cancel"]
    clock = now if cancel is None else min(now, cancel)
    done = _done(len(rec["outcomes"]), clock, start, stop)
    if clock >= start:
        times["in_progress_at"] = start
    if clock >= stop and not expire:
        times["finalizing_at"] = stop
    if cancel is not None:
        times["cancelling_at"] = cancel
        if now < cancel + seconds / 10:
            return "cancelling", done, times
        return "cancelled", done, times | {"cancelled_at": cancel + seconds / 10}
    if now < stop:
        return ("validating" if now < start else "in_progress"), done, times
    if expire:
        return "expired", done, times | {"expired_at": end}
    if now < end:
        return "finalizing", done, times
    return "completed", done, times | {"completed_at": end}


def openai_view(rec: Record, now: float) -> Record:
    """The Batch object (openai-python ``types/batch.py``) at ``now``."""
    status, done, times = openai_state(rec, now)
    outcomes: str = rec["outcomes"]
    total = 0 if status in ("validating", "failed") else len(outcomes)
    completed = outcomes[:done].count("s")
    failed = (total if status in FINISHED else done) - completed if total else 0
    finished = status in FINISHED
    return {
        "id": rec["id"],
        "object": "batch",
        "endpoint": rec["endpoint"],
        "errors": {"object": "list", "data": rec["errors"]} if rec["errors"] else None,
        "input_file_id": rec["input_file_id"],
        "completion_window": rec["completion_window"],
        "status": status,
        "output_file_id": rec["output_file_id"] if finished and completed else None,
        "error_file_id": rec["error_file_id"] if finished and failed else None,
        "created_at": int(rec["created"]),
        **{name: int(times[name]) if name in times else None for name in TIMES},
        "request_counts": {"total": total, "completed": completed, "failed": failed},
        "metadata": rec["metadata"],
        "model": rec["model"],
    }


def openai_results(
    profile: Profile, rec: Record, rows: Iterable[Row], done: int
) -> tuple[list[bytes], list[bytes]]:
    """The lines of the output file (200 answers) and of the error file (the others,
    expired and cancelled rows), each shuffled."""
    files: tuple[list[bytes], list[bytes]] = ([], [])
    outcomes: str = rec["outcomes"]
    for i, (custom_id, url, body) in enumerate(rows):
        line: Record = {"id": "batch_req_" + _hex(rec["id"], i), "custom_id": custom_id}
        fate = outcomes[i] if i < done else "c"
        if fate in ("c", "x"):
            line.update(response=None, error=CANCELLED if fate == "c" else EXPIRED)
            files[1].append(orjson.dumps(line))
            continue
        status, answer = run(profile, url, body, profile.errors, True, rec["created"])
        request_id = "req_" + _hex(rec["id"], i, "request")
        line["response"] = {"status_code": status, "request_id": request_id, "body": answer}
        line["error"] = None
        files[status != 200].append(orjson.dumps(line))
    rng = random.Random(rec["id"])
    for lines in files:
        rng.shuffle(lines)
    return files


# ---- Anthropic ----------------------------------------------------------------------------


def anthropic_state(rec: Record, now: float) -> tuple[bool, int, float]:
    """(ended, rows processed, when it ends) of an Anthropic batch at ``now``."""
    created, seconds, cancel = rec["created"], rec["seconds"], rec["cancel"]
    rows = len(rec["outcomes"])
    if cancel is None:
        return now >= created + seconds, rows, created + seconds
    end = min(created + seconds, cancel + seconds / 10)
    return now >= end, _done(rows, cancel, created, created + seconds), end


def anthropic_view(rec: Record, now: float, base_url: str) -> Record:
    """The MessageBatch object (anthropic-sdk-python ``message_batch.py``) at ``now``;
    ``results_url`` is under ``base_url``."""
    ended, done, end = anthropic_state(rec, now)
    outcomes: str = rec["outcomes"]
    counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
    if ended:
        processed = outcomes[:done]
        counts["succeeded"], counts["errored"] = processed.count("s"), processed.count("f")
        counts["canceled"], counts["expired"] = len(outcomes) - done, processed.count("x")
    else:
        counts["processing"] = len(outcomes)
    cancel = rec["cancel"]
    return {
        "id": rec["id"],
        "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress" if cancel is None else "canceling",
        "request_counts": counts,
        "ended_at": _rfc3339(end) if ended else None,
        "created_at": _rfc3339(rec["created"]),
        "expires_at": _rfc3339(rec["created"] + DAY),
        "archived_at": None,
        "cancel_initiated_at": None if cancel is None else _rfc3339(cancel),
        "results_url": f"{base_url}/messages/batches/{rec['id']}/results" if ended else None,
    }


def anthropic_results(profile: Profile, rec: Record, rows: Iterable[Row], done: int) -> bytes:
    """The results JSONL (``MessageBatchIndividualResponse`` lines), shuffled."""
    lines: list[bytes] = []
    outcomes: str = rec["outcomes"]
    for i, (custom_id, url, params) in enumerate(rows):
        fate = outcomes[i] if i < done else "c"
        result: Record = {"type": "canceled" if fate == "c" else "expired"}
        if fate in ("s", "f"):
            status, answer = run(profile, url, params, "anthropic", render=True)
            result = {"type": "succeeded" if status == 200 else "errored"}
            result["message" if status == 200 else "error"] = answer
        lines.append(orjson.dumps({"custom_id": custom_id, "result": result}))
    random.Random(rec["id"]).shuffle(lines)
    return b"".join(line + b"\n" for line in lines)
