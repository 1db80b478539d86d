"""What a request is, and how it is shown to people: with every secret redacted.

No httpx here, so ``--dry-run`` and request building do not pay for importing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from llmcli.redaction import redact


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | Body | None = None
    gateway: str = ""
    secrets: tuple[str, ...] = ()
    #: when no key was sent: where one would come from ("$OPENAI_API_KEY or …"), for a 401
    no_key: str | None = None
    #: creates something (a provider batch): tried again only when the server surely did
    #: not act on it (no connection, 429, 503), never after a cut answer or a 5xx
    once: bool = False
    #: --timeout bounds the whole request; False: each read only (a batch file's upload or
    #: download may take longer than any one answer)
    bounded: bool = True
    #: a question to a model (chat, messages, responses, embeddings): --cache may answer
    #: it from an earlier identical one (``llmcli.http.cache``); never a batch API's
    cacheable: bool = False


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field-name


def header_problem(name: str, value: str) -> str | None:
    """Why a header cannot be sent as it is (RFC 9110 field syntax), or None."""
    if not _TOKEN.fullmatch(name):
        return f"{name!r} is not a valid header name"
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        return f"the value of {name} has a line break or control character"
    if not value.isascii():  # httpx sends header values as ASCII
        return f"the value of {name} is not ASCII text"
    return None


@dataclass(frozen=True, slots=True)
class Blob:
    """Bytes spliced into a JSON body where its ``token`` stands (a base64 attachment)."""

    token: str
    prefix: bytes
    length: int  # of prefix and chunks together
    chunks: Callable[[], Iterator[bytes]]


@dataclass(frozen=True, slots=True)
class Body:
    """A request body sent piece by piece, its length known up front (Content-Length)."""

    parts: tuple[bytes | Blob, ...]

    def __len__(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else p.length for p in self.parts)

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if isinstance(part, bytes):
                yield part
            else:
                yield part.prefix
                yield from part.chunks()

    def to_bytes(self) -> bytes:
        return b"".join(self)


def serialize(value: Any, blobs: Sequence[Blob] = ()) -> bytes | Body:
    """JSON bytes, or a ``Body`` with each blob spliced in where its token stands."""
    data = orjson.dumps(value)
    if not blobs:
        return data
    tokens = {b.token.encode(): b for b in blobs}
    pattern = re.compile(b"|".join(re.escape(t) for t in tokens))
    parts: list[bytes | Blob] = []
    position = 0
    for match in pattern.finditer(data):
        parts.extend((data[position : match.start()], tokens[match.group()]))
        position = match.end()
    parts.append(data[position:])
    return Body(tuple(parts))


BOM = b"\xef\xbb\xbf"


def body_json(body: bytes) -> Any:
    """A response body's JSON. A UTF-8 byte order mark before it is ignored (RFC 8259,
    8.1 lets a parser do so; the openai SDK's does); ``orjson.JSONDecodeError`` else."""
    return orjson.loads(body[3:] if body[:3] == BOM else body)


def parse_reply(body: bytes, request: Request) -> Any:
    """An answer's JSON; malformed JSON is a protocol error naming where it came from."""
    from llmcli.errors import ProtocolError

    try:
        return body_json(body)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(
            redact(
                f"malformed JSON from {request.gateway} at line {e.lineno} column {e.colno}: "
                f"{e.msg} ({request.method} {request.url})",
                request.secrets,
            )
        ) from None


#: a redirect is followed at most this many times (httpx's default)
MAX_REDIRECTS = 20
#: the statuses whose Location is followed (httpx follows these)
REDIRECTS = (301, 302, 303, 307, 308)


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL, as a redirect's credentials are judged by."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.rsplit('@', 1)[-1].lower()}"


def redirected(request: Request, status: int, location: str, first: str) -> Request:
    """The request a redirect asks for, as httpx builds it: the Location resolved against
    the URL; a 303 (not HEAD), or a 301/302 of a POST, becomes a GET without a body; to an
    origin other than ``first`` (the first request's) no credential header goes. Raises
    ``ValueError`` (the URL) for a scheme other than http and https."""
    from dataclasses import replace
    from urllib.parse import urljoin, urlsplit

    from llmcli.redaction import is_credential_header

    url = urljoin(request.url, location.strip())
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValueError(url)
    method = request.method
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
    headers = dict(request.headers)
    if method != request.method:
        for name in [n for n in headers if n.lower() in ("content-length", "transfer-encoding")]:
            del headers[name]
    if origin_of(url) != first:
        for name in [n for n in headers if is_credential_header(n)]:
            del headers[name]
    body = request.body if method == request.method else None
    return replace(request, method=method, url=url, headers=headers, body=body)


def followed(request: Request, status: int, location: str, first: str, hops: int) -> Request:
    """The request a redirect asks for (``request.redirected``), or the session's error
    for one llmcli does not follow."""
    from llmcli.errors import ProtocolError

    where = f"({request.method} {request.url})"
    if hops > MAX_REDIRECTS:
        raise ProtocolError(
            redact(f"too many redirects from {request.gateway} {where}", request.secrets)
        )
    try:
        return redirected(request, status, location, first)
    except ValueError as e:
        raise ProtocolError(
            redact(
                f"{request.gateway} redirected to a URL llmcli does not follow ({e}; only "
                f"http and https) {where}",
                request.secrets,
            )
        ) from None
