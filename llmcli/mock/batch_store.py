"""Where the mock batch objects live: their routes, their ids, their files.

``Store`` is one directory (``batch_dir``) shared by every gateway given it, so a batch
made by one ``llmcli … -g mock`` process is polled and fetched by the next: per object a
JSON record named by its id, next to its bytes (``.data``: a file; ``.rows``: a batch's
requests; ``.results``). Each write goes to a temporary file renamed over the target
(``os.replace``), so a reader in another process sees a whole object, old or new. With no
directory, the store makes a temporary one when first used and removes it on ``close``.
Ids are random-looking, in each API's format, and checked before naming a file. Also:
``route``, ``multipart/form-data`` (RFC 7578), the rows of a batch and cursor paging.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import string
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .error_bodies import RequestError

if TYPE_CHECKING:
    from .profiles import Profile

__all__ = [
    "Route",
    "Store",
    "check_requests",
    "form_fields",
    "invalid",
    "lines_of",
    "new_id",
    "page",
    "route",
    "rows_of",
]

Record = dict[str, Any]
Row = tuple[str, str, Any]  # custom_id, url, body
MAX_REQUESTS = 100_000  # Anthropic: requests in a message batch
CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
FILE_DAYS = 30 * 86_400  # batch files expire after 30 days
_ALNUM = string.ascii_letters + string.digits
#: kind -> the ids the gateway hands out (anything else is not found), and its name
KINDS = {
    "file": (re.compile(r"file-[0-9a-f]{24}"), "file"),
    "batch": (re.compile(r"batch_[0-9a-f]{32}"), "batch"),
    "msgbatch": (re.compile(r"msgbatch_[0-9A-Za-z]{24}"), "message batch"),
}


# (api, path under the prefix, its id in a group, method -> action)
_ROUTES: tuple[tuple[str, re.Pattern[str], dict[str, str]], ...] = (
    ("openai", re.compile("/files"), {"POST": "upload"}),
    ("openai", re.compile("/files/([^/]+)"), {"GET": "file", "DELETE": "delete_file"}),
    ("openai", re.compile("/files/([^/]+)/content"), {"GET": "content"}),
    ("openai", re.compile("/batches"), {"GET": "list", "POST": "create"}),
    ("openai", re.compile("/batches/([^/]+)"), {"GET": "get"}),
    ("openai", re.compile("/batches/([^/]+)/cancel"), {"POST": "cancel"}),
    ("anthropic", re.compile("/messages/batches"), {"GET": "list", "POST": "create"}),
    ("anthropic", re.compile("/messages/batches/([^/]+)"), {"GET": "get", "DELETE": "delete"}),
    ("anthropic", re.compile("/messages/batches/([^/]+)/cancel"), {"POST": "cancel"}),
    ("anthropic", re.compile("/messages/batches/([^/]+)/results"), {"GET": "results"}),
)


@dataclass(frozen=True, slots=True)
class Route:
    """A batch route; ``action`` is "" when the method is not one of ``allow``."""

    api: str  # "openai" | "anthropic"
    action: str
    ident: str
    allow: tuple[str, ...]
    style: str  # of its error bodies

    @property
    def endpoint(self) -> str:
        """The endpoint whose auth rules apply."""
        return "messages" if self.api == "anthropic" else "chat"


def route(profile: Profile, method: str, path: str) -> Route | None:
    """The batch route of ``path`` (no query string) on ``profile``, if it serves one."""
    prefix = profile.prefix.rstrip("/")
    rest = path[len(prefix) :] if path.startswith(prefix + "/") else ""
    for api, pattern, actions in _ROUTES:
        if api in profile.batches and (found := pattern.fullmatch(rest)):
            style = "anthropic" if api == "anthropic" else profile.errors
            ident = found.group(1) if pattern.groups else ""
            return Route(api, actions.get(method, ""), ident, tuple(actions), style)
    return None


def new_id(kind: str) -> str:
    """A fresh id: ``file-<24 hex>``, ``batch_<32 hex>`` or ``msgbatch_<24 alnum>``."""
    if kind == "msgbatch":
        return "msgbatch_" + "".join(secrets.choice(_ALNUM) for _ in range(24))
    return "file-" + secrets.token_hex(12) if kind == "file" else "batch_" + secrets.token_hex(16)


def invalid(message: str, code: str = "invalid_request") -> RequestError:
    """A 400 ``invalid_request_error``."""
    return RequestError(400, message, code=code, type_="invalid_request_error")


class Store:
    """The batch directory: records (JSON) and bytes, written atomically."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self._given = None if root is None else Path(root)
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self._made = False
        #: serialises read-modify-write in this process; other processes race harmlessly,
        #: since what they write is computed from the same record
        self.lock = threading.RLock()

    @property
    def root(self) -> Path:
        with self.lock:
            if self._given is None:
                if self._temp is None:
                    self._temp = tempfile.TemporaryDirectory(prefix="llmcli-mock-batches-")
                return Path(self._temp.name)
            if not self._made:
                self._given.mkdir(parents=True, exist_ok=True)
                self._made = True
            return self._given

    def read(self, ident: str, suffix: str) -> bytes | None:
        try:
            return (self.root / f"{ident}.{suffix}").read_bytes()
        except FileNotFoundError:
            return None

    def write(self, ident: str, suffix: str, data: bytes) -> None:
        path = self.root / f"{ident}.{suffix}"
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def load(self, ident: str) -> Record | None:
        data = self.read(ident, "json")
        return None if data is None else dict(orjson.loads(data))

    def save(self, record: Record) -> None:
        self.write(record["id"], "json", orjson.dumps(record))

    def get(self, kind: str, ident: Any) -> Record | None:
        """The record ``ident`` of ``kind``, if there is one."""
        valid = isinstance(ident, str) and KINDS[kind][0].fullmatch(ident)
        return self.load(ident) if valid else None

    def find(self, kind: str, ident: str) -> Record:
        """The record ``ident`` of ``kind``; 404 when there is none."""
        if (found := self.get(kind, ident)) is None:
            message = f"no such {KINDS[kind][1]}: {ident}"
            raise RequestError(404, message, code="not_found", type_="invalid_request_error")
        return found

    def add_file(self, ident: str, name: str, data: bytes, purpose: str, when: float) -> Record:
        """Keep a file: its bytes, then its FileObject (openai-python ``file_object.py``)."""
        self.write(ident, "data", data)
        record = {
            "id": ident,
            "object": "file",
            "bytes": len(data),
            "created_at": int(when),
            "filename": name,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": int(when) + FILE_DAYS,
        }
        self.save(record)
        return record

    def remove(self, ident: str) -> None:
        """Forget ``ident``, its record first: no reader finds a record without its bytes."""
        for suffix in ("json", "data", "rows", "results"):
            with contextlib.suppress(FileNotFoundError):
                (self.root / f"{ident}.{suffix}").unlink()

    def batches(self, prefix: str) -> list[Record]:
        """Every batch record whose id starts with ``prefix``, newest first."""
        found: list[Record] = []
        for path in self.root.glob(f"{prefix}*.json"):
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                found.append(orjson.loads(path.read_bytes()))
        found.sort(key=lambda r: (r["created"], r["id"]), reverse=True)
        return found

    def close(self) -> None:
        """Remove the temporary directory, if the store made one."""
        with self.lock:
            if self._temp is not None:
                self._temp.cleanup()
                self._temp = None


def _param(value: str, name: str) -> str | None:
    header = Message()
    header["content-disposition"] = value
    found = header.get_param(name, header="content-disposition")
    return None if found is None else collapse_rfc2231_value(found)


def form_fields(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (filename, bytes).

    Parts are found by their delimiter lines (RFC 2046 5.1.1: ``--boundary`` after a
    CRLF, ``--boundary--`` at the end); a part's headers end at its first blank line.
    ``ValueError`` when the body is not such a form.
    """
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise ValueError("expected a multipart/form-data body with a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    fields: dict[str, tuple[str | None, bytes]] = {}
    at = body.find(delimiter)
    while at >= 0 and not body.startswith(b"--", at + len(delimiter)):
        line_end = body.find(b"\r\n", at)
        head_end = body.find(b"\r\n\r\n", line_end)
        end = body.find(b"\r\n" + delimiter, head_end + 4)
        if min(line_end, head_end, end) < 0:
            raise ValueError("the multipart/form-data body ends inside a part")
        name = filename = None
        for raw in body[line_end + 2 : head_end].split(b"\r\n"):
            key, _, value = raw.decode("utf-8", "replace").partition(":")
            if key.strip().lower() == "content-disposition":
                name, filename = _param(value.strip(), "name"), _param(value.strip(), "filename")
        if name is not None:
            fields.setdefault(name, (filename, body[head_end + 4 : end]))
        at = end + 2
    if at < 0:
        raise ValueError("the multipart/form-data body has no delimiter line")
    return fields


def lines_of(data: bytes) -> Iterator[tuple[int, Any]]:
    """(line number from 1, the JSON value or None) of a JSONL file; blank lines skipped."""
    for number, raw in enumerate(data.split(b"\n"), 1):
        if raw.strip():
            try:
                yield number, orjson.loads(raw)
            except orjson.JSONDecodeError:
                yield number, None


def rows_of(data: bytes) -> list[Row]:
    """The rows of a stored batch: OpenAI input lines, or Anthropic's requests."""
    return [
        (r["custom_id"], r.get("url", "/v1/messages"), r["body"] if "body" in r else r["params"])
        for _, r in lines_of(data)
    ]


def check_requests(body: Record) -> list[Record]:
    """The ``requests`` of a message batch; 400 for what Anthropic refuses at once: none or
    more than 100,000, a ``custom_id`` not matching ``^[a-zA-Z0-9_-]{1,64}$`` or used
    twice, ``params`` that are not an object."""
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise invalid("requests: expected an array of 1 to 100000 requests")
    if len(requests) > MAX_REQUESTS:
        raise invalid(f"requests: a batch takes at most 100000 requests, got {len(requests)}")
    seen: set[str] = set()
    for i, item in enumerate(requests):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not CUSTOM_ID.fullmatch(custom_id):
            pattern = "^[a-zA-Z0-9_-]{1,64}$"
            raise invalid(f"requests.{i}.custom_id: String should match pattern '{pattern}'")
        if custom_id in seen:
            raise invalid(f"requests.{i}.custom_id: {custom_id!r} is not unique in the batch")
        seen.add(custom_id)
        if not isinstance(item.get("params"), dict):
            raise invalid(f"requests.{i}.params: expected an object")
    return requests


def page(
    records: list[Record], limit: int, after: str | None, before: str | None = None
) -> tuple[list[Record], bool]:
    """A page of ``records`` (newest first) and whether more lie that way: the ``limit``
    after the id ``after``, or the ``limit`` just before the id ``before``; an id not
    among them gives an empty page."""
    ids = [r["id"] for r in records]
    cursor = before if before is not None else after
    if cursor is not None and cursor not in ids:
        return [], False
    if before is not None:
        end = ids.index(before)
        return records[max(0, end - limit) : end], end > limit
    start = 0 if after is None else ids.index(after) + 1
    return records[start : start + limit], start + limit < len(records)
