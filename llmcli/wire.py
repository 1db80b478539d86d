"""What a request is, and how it is shown to people: with every secret redacted.

No httpx here, so ``--dry-run`` and request building do not pay for importing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
    body: bytes | None = None
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
