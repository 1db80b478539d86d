"""What a request is, and how it is shown to people: with every secret redacted.

No httpx here, so ``--dry-run`` and request building do not pay for importing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)
AUTH_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})
REDACTED = "***"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | Body | None = None
    gateway: str = ""
    secrets: tuple[str, ...] = ()


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redacted_headers(headers: Mapping[str, str], secrets: tuple[str, ...]) -> dict[str, str]:
    shown = {}
    for name, value in headers.items():
        if name.lower() in SENSITIVE_HEADERS:
            scheme, sep, _ = value.partition(" ")
            value = f"{scheme} {REDACTED}" if sep and scheme.lower() == "bearer" else REDACTED
        shown[name] = redact(value, secrets)
    return shown


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
