"""What ``llmcli batch submit`` sends: which rows go in which provider batch, as the bytes
each batch API takes (DESIGN.md, "Batch runs", last item). No I/O of its own: payloads
go to the files the caller gives.

- OpenAI (Files + Batches): one JSONL file per batch, each line ``{"custom_id", "method":
  "POST", "url", "body"}``; one batch per endpoint (``/v1/chat/completions``,
  ``/v1/embeddings``) and model (a batch file holds one), split at 50,000 lines or 200 MB
  (and, for embeddings, 50,000 inputs in all).
- Anthropic (Message Batches): one ``{"requests": [{"custom_id", "params"}, …]}`` body per
  batch, split at 100,000 requests or 256 MB; ``custom_id`` must match
  ``^[a-zA-Z0-9_-]{1,64}$``.

Every ``custom_id`` must be unique in the file (the providers require it in a batch, and
``fetch`` puts results back in input order by it). A line that cannot be sent is not put
in any batch: it is kept as ``invalid`` and answered with an error row by ``fetch``, as
``batch run`` answers it. Anything that would make a provider refuse a whole batch is a
``DataError`` naming the file and line, before anything is sent.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

import orjson

from llmcli.batch.lines import Row
from llmcli.errors import DataError

OPENAI_URLS = {
    "chat": "/v1/chat/completions",
    "embeddings": "/v1/embeddings",
    "responses": "/v1/responses",  # the OpenAI Batch API takes it
}
MESSAGES_URL = "/v1/messages"
#: (most rows, most bytes) of one batch; sizes in bytes as the providers count them (MB)
LIMITS = {"openai": (50_000, 200_000_000), "anthropic": (100_000, 256_000_000)}
#: most embedding inputs in one OpenAI batch, all its requests together
EMBEDDING_INPUTS = 50_000
ANTHROPIC_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_OPEN, _CLOSE = b'{"requests":[', b"]}"


@dataclass(slots=True)
class Part:
    """One batch to create: its API, endpoint, rows (line, custom_id) and payload, kept
    in ``store`` (a file, so that only the batch being sent is ever in memory)."""

    api: str
    endpoint: str
    store: IO[bytes]
    rows: list[tuple[int, str]] = field(default_factory=list)
    size: int = 0  # bytes of the payload as sent
    inputs: int = 0  # embedding inputs, all requests together

    def add(self, data: bytes) -> None:
        if self.api == "anthropic" and self.rows:
            self.store.write(b",")
        self.store.write(data)

    def payload(self) -> bytes:
        """The upload (OpenAI: the JSONL file) or the request body (Anthropic)."""
        self.store.seek(0)
        items = self.store.read()
        self.store.seek(0, 2)
        return items if self.api == "openai" else _OPEN + items + _CLOSE


@dataclass(slots=True)
class Plan:
    """The batches to create, in input order, and the lines that will not be sent."""

    parts: list[Part] = field(default_factory=list)
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # line, id, problem


def api_of(row: Row, apis: frozenset[str]) -> str | None:
    """The batch API a row goes to on a gateway offering ``apis`` (None: none takes it)."""
    if row.endpoint == "messages":
        return "anthropic" if "anthropic" in apis else None
    return "openai" if "openai" in apis else None


def item(row: Row, api: str) -> bytes:
    """One row as its batch API takes it."""
    if api == "anthropic":
        return orjson.dumps({"custom_id": row.custom_id, "params": row.body})
    line = {"custom_id": row.custom_id, "method": "POST", "url": OPENAI_URLS[row.endpoint]}
    return orjson.dumps({**line, "body": row.body}) + b"\n"


def plan(
    rows: Iterable[Row],
    apis: frozenset[str],
    gateway: str,
    source: str,
    store: Callable[[], IO[bytes]] = io.BytesIO,
) -> Plan:
    """Every row checked and placed; a ``DataError`` (``source:line: …``) for a row that
    would make its batch fail, before anything is sent. ``store`` makes the file each
    batch's payload is written to (the command gives temporary files)."""
    result = Plan()
    open_parts: dict[tuple[str, str, str], Part] = {}
    seen: dict[str, int] = {}
    for row in rows:
        if row.problem is not None:
            result.invalid.append((row.line, row.custom_id, row.problem))
            continue
        where = f"{source}:{row.line}"
        if (first := seen.setdefault(row.custom_id, row.line)) != row.line:
            raise DataError(f"{where}: custom_id {row.custom_id!r} repeats line {first}")
        api = api_of(row, apis)
        if api is None:
            url = MESSAGES_URL if row.endpoint == "messages" else OPENAI_URLS[row.endpoint]
            offered = " and ".join(sorted(apis))
            raise DataError(f"{where}: the {offered} batch API of {gateway} takes no {url} rows")
        if api == "anthropic" and not ANTHROPIC_ID.fullmatch(row.custom_id):
            raise DataError(
                f"{where}: custom_id {row.custom_id!r} is not 1-64 letters, digits, _ or - "
                "(Anthropic's rule)"
            )
        endpoint = MESSAGES_URL if api == "anthropic" else OPENAI_URLS[row.endpoint]
        data = item(row, api)
        most_rows, most_bytes = LIMITS[api]
        cost = len(data) + (1 if api == "anthropic" else 0)
        frame = len(_OPEN) + len(_CLOSE) if api == "anthropic" else 0
        if cost + frame > most_bytes:
            raise DataError(
                f"{where}: a request of {len(data):,} bytes, more than one batch takes "
                f"({most_bytes:,})"
            )
        # OpenAI takes one model per batch file; Anthropic, any mix
        key = (api, endpoint, str(row.body.get("model")) if api == "openai" else "")
        given = row.body.get("input") if row.endpoint == "embeddings" else None
        inputs = len(given) if isinstance(given, list) else int(given is not None)
        part = open_parts.get(key)
        if (
            part is None
            or len(part.rows) >= most_rows
            or part.size + cost > most_bytes
            or part.inputs + inputs > EMBEDDING_INPUTS
        ):
            part = open_parts[key] = Part(api, endpoint, store(), size=frame)
            result.parts.append(part)
        part.add(data)
        part.rows.append((row.line, row.custom_id))
        part.size += cost
        part.inputs += inputs
    for part in result.parts:  # the last comma of an Anthropic body is not sent
        if part.api == "anthropic":
            part.size -= 1
    return result


def multipart(
    boundary: str, fields: Iterable[tuple[str, str]], filename: str, data: bytes
) -> bytes:
    """A ``multipart/form-data`` body (RFC 7578): text fields, then the ``file`` field."""
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="{filename}"\r\nContent-Type: application/jsonl\r\n\r\n'
    )
    out += head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out)
