"""Cassettes: the JSONL files of ``--record``, ``--replay`` and ``llmcli serve --replay``.

One compact JSON object per line, one line per exchange, appended as each answer ends::

    {"request": {"method": "POST", "path": "/v1/chat/completions",
                 "headers": {"content-type": "application/json", ...},
                 "body": {"model": "echo", "messages": [...]}},
     "response": {"status": 200, "headers": {"content-type": "text/event-stream", ...},
                  "body": "data: {...}\\n\\ndata: [DONE]\\n\\n"}}

- ``path`` is the URL's path and query, never its scheme, host or userinfo, so a
  cassette replays whatever the gateway's address was.
- Request ``headers``: lower-cased names, without ``host``, ``content-length``,
  ``accept-encoding``, ``user-agent`` and ``connection`` (and, left out by the recorder,
  every credential header). ``body``: the JSON when the body is a JSON object or array,
  else its text (``body_base64`` for bytes that are not UTF-8), null when there is none.
- Response ``headers``: only those that change what a client does: ``content-type``,
  ``x-request-id``, ``request-id``, ``retry-after``, ``retry-after-ms``, ``location``,
  ``x-ratelimit-*``, ``anthropic-ratelimit-*``. ``body``: the bytes as they arrived
  after decompression, as text (SSE included, byte for byte) or ``body_base64``.
  ``"cut": true`` marks a body that did not arrive whole (the connection broke); a
  replay then breaks the connection after it too.

A request matches a recording by method, path and body: a JSON body by its value (key
order aside), a multipart body with its random boundary set aside. Pure: no I/O; both
the recorder (``llmcli.http.recording``) and the replaying gateway (``llmcli.mock.replay``)
import it, and it imports nothing else of llmcli, so the gateway still stands alone.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

__all__ = [
    "MISS_HEADER",
    "CassetteError",
    "Recording",
    "encode",
    "make_line",
    "match_key",
    "miss_message",
    "nearest",
    "parse",
    "path_of",
]

#: the header of a replay's answer to a request it has no recording of (value "miss")
MISS_HEADER = "x-llmcli-replay"
KEPT = frozenset(
    {"content-type", "x-request-id", "request-id", "retry-after", "retry-after-ms", "location"}
)
KEPT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
EXCERPT = 24  # characters shown either side of where two bodies differ
_BOUNDARY = re.compile(r'(?i)boundary="?([^";]+)"?')

Key = tuple[str, str, str]


class CassetteError(ValueError):
    """A cassette line that is not an exchange; the message names its line."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded exchange, as a replay needs it."""

    method: str
    path: str
    body: str  # the request body as matched (``_canonical``)
    status: int
    headers: tuple[tuple[str, str], ...]
    answer: bytes
    cut: bool = False

    @property
    def key(self) -> Key:
        return (self.method, self.path, self.body)


_CREDENTIAL_QUERY = re.compile(
    r"(?i)([?&][^=&]*(?:key|token|secret|password|passwd|auth|sig|credential)[^=&]*=)[^&]*"
)
#: request headers a cassette keeps (matching never uses them: they only explain)
REQUEST_HEADERS = frozenset(
    {"content-type", "accept", "anthropic-version", "anthropic-beta", "openai-beta", "x-mock-fault"}
)
#: headers that frame a body: a replay writes its own, never a recorded one
FRAMING = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def path_of(url: str) -> str:
    """A URL's path and query: what a cassette keeps of where a request went, the value
    of any query parameter named like a credential (``?key=…``) as ``***``."""
    parts = urlsplit(url)
    return _normal((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))


def _normal(path: str) -> str:
    """A path as it goes on the wire (non-ASCII percent-encoded, as httpx sends it), its
    credential-like query values as ``***``: the same for a recording and a live request."""
    return _CREDENTIAL_QUERY.sub(r"\1***", quote(path, safe="/%:@!$&'()*+,;=?-._~"))


def _body_field(body: bytes, name: str = "body") -> dict[str, Any]:
    try:
        return {name: body.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(body).decode()}


def make_line(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    status: int,
    answer_headers: Iterable[tuple[str, str]],
    answer: bytes,
    *,
    cut: bool = False,
) -> dict[str, Any]:
    """The cassette line of one exchange (credential headers are the caller's to drop)."""
    request: dict[str, Any] = {
        "method": method.upper(),
        "path": path_of(url),
        "headers": {n.lower(): v for n, v in headers if n.lower() in REQUEST_HEADERS},
    }
    value = _json(body) if body else None
    if isinstance(value, dict | list):
        request["body"] = value
    else:
        request.update(_body_field(body) if body else {"body": None})
    kept = {
        n.lower(): v
        for n, v in answer_headers
        if n.lower() in KEPT or n.lower().startswith(KEPT_PREFIXES)
    }
    response: dict[str, Any] = {"status": status, "headers": kept, **_body_field(answer)}
    if cut:
        response["cut"] = True
    return {"request": request, "response": response}


def encode(line: Mapping[str, Any]) -> str:
    """The line as written: compact JSON and a newline."""
    return orjson.dumps(line).decode() + "\n"


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _canonical(body: bytes | str | None, value: Any, content_type: str) -> str:
    """A request body as it is matched: a JSON object or array with sorted keys, else the
    text with a multipart boundary set aside (it is random per request)."""
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if not body:
        return ""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(body).decode()
    else:
        text = body
    found = _BOUNDARY.search(content_type)
    return text.replace(found.group(1), "BOUNDARY") if found else text


def match_key(method: str, path: str, headers: Mapping[str, str], body: bytes) -> Key:
    """What a live request is matched by: method, path, body (see ``_canonical``)."""
    content_type = next((v for n, v in headers.items() if n.lower() == "content-type"), "")
    value = _json(body) if body else None
    return (method.upper(), _normal(path), _canonical(body, value, content_type))


def parse(lines: Iterable[str], name: str) -> list[Recording]:
    """The recordings of a cassette's lines; ``CassetteError`` names the first bad one."""
    found = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            found.append(_recording(orjson.loads(text)))
        except (orjson.JSONDecodeError, ValueError) as e:
            why = e.msg if isinstance(e, orjson.JSONDecodeError) else str(e)
            raise CassetteError(f"{name}:{number}: not a cassette line: {why}") from None
    return found


def _recording(line: Any) -> Recording:
    request = line.get("request") if isinstance(line, dict) else None
    response = line.get("response") if isinstance(line, dict) else None
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise ValueError('expected {"request": {...}, "response": {...}}')
    method, path, status = request.get("method"), request.get("path"), response.get("status")
    headers, answer_headers = request.get("headers") or {}, response.get("headers") or {}
    if not (isinstance(method, str) and _TOKEN.fullmatch(method)):
        raise ValueError("request needs a method (a token: POST, GET …)")
    if not (isinstance(path, str) and path.startswith("/")) or any(
        c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in path
    ):
        raise ValueError("request needs a path starting with /, without spaces or controls")
    if not (isinstance(status, int) and 200 <= status <= 599):
        raise ValueError("response needs a status from 200 to 599")
    if not (isinstance(headers, dict) and isinstance(answer_headers, dict)) or not all(
        isinstance(v, str) for v in (*headers.values(), *answer_headers.values())
    ):
        raise ValueError("headers must be objects of strings")
    for name, value in answer_headers.items():
        if not _TOKEN.fullmatch(str(name)) or any(c in value for c in "\r\n\x00"):
            raise ValueError(f"response header {str(name)[:40]!r} cannot be sent as it is")
    body: Any = request.get("body")
    raw = _bytes(request, "body") if not isinstance(body, dict | list) else None
    content_type = str(headers.get("content-type", ""))
    canonical = _canonical(raw, body if isinstance(body, dict | list) else None, content_type)
    return Recording(
        method.upper(),
        path,
        canonical,
        status,
        tuple((str(n), v) for n, v in answer_headers.items() if n.lower() not in FRAMING),
        _bytes(response, "body") or b"",
        bool(response.get("cut")),
    )


def _bytes(part: Mapping[str, Any], name: str) -> bytes | None:
    if f"{name}_base64" in part:
        try:
            return base64.b64decode(str(part[f"{name}_base64"]), validate=True)
        except binascii.Error:
            raise ValueError(f"{name}_base64 is not base64") from None
    value = part.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value.encode("utf-8")


def _likeness(a: str, b: str) -> int:
    """How alike two strings are: the length of their common prefix and suffix (cheap,
    linear: a cassette may hold thousands of bodies)."""
    prefix = _common_prefix(a, b)
    suffix = _common_prefix(a[prefix:][::-1], b[prefix:][::-1])
    return prefix + suffix


def _common_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


def nearest(recordings: Sequence[Recording], key: Key) -> Recording | None:
    """The recording most like the request ``key``: of the same method and path, the one
    with the closest body; else the one with the closest method and path."""
    method, path, body = key
    same = [r for r in recordings if r.method == method and r.path == path]
    if same:
        return max(same, key=lambda r: _likeness(r.body, body))
    wanted = f"{method} {path}"
    return max(recordings, key=lambda r: _likeness(f"{r.method} {r.path}", wanted), default=None)


def _excerpt(text: str, at: int) -> str:
    if not text:
        return "(no body)"
    start, end = max(at - EXCERPT, 0), at + EXCERPT
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def miss_message(key: Key, near: Recording | None, cassette: str) -> str:
    """Why a request has no answer: the endpoint, and the nearest recorded request."""
    method, path, body = key
    if near is None:
        return f"no recording of {method} {path} in cassette {cassette}: it has none"
    if near.method == method and near.path == path:
        at = _common_prefix(body, near.body)
        return (
            f"no recording of {method} {path} with this body in cassette {cassette}; the "
            f"nearest recorded body differs at character {at + 1}: sent {_excerpt(body, at)}, "
            f"recorded {_excerpt(near.body, at)}"
        )
    return (
        f"no recording of {method} {path} in cassette {cassette}; nearest recorded request: "
        f"{near.method} {near.path}"
    )
