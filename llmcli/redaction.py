"""Secrets, and how text is shown to people with every one of them as ``***``.

A secret is the gateway's key, the value of any credential header (given with ``-H`` or
by a gateway: ``Authorization``, ``Cookie``, ``X-Api-Key``, any ``*-Key``, anything with
``token``, ``secret``, ``password`` or ``auth`` in its name) and the password of a URL's
userinfo (``http://u:secret@host/v1``, which httpx sends as ``Basic`` credentials). Every
message that shows a server's words, a header, a URL or a traceback goes through
``redact`` (DESIGN.md, "Limits"). Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

REDACTED = "***"
#: shorter secrets are not replaced inside free text (every "ab" in a message would go);
#: URLs are still redacted by their shape
MIN_SECRET = 4
_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "cookie", "credential")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]*@")


def is_credential_header(name: str) -> bool:
    """Whether a header's value is a credential: never shown, never sent to another
    origin on a redirect."""
    lowered = name.lower()
    return any(word in lowered for word in _WORDS)


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The secret parts of credential headers: the whole value, and the credentials of
    a ``Scheme credentials`` value (``Bearer sk-…`` → ``sk-…``)."""
    found = []
    for name, value in headers.items():
        if is_credential_header(name) and value.strip():
            found.append(value.strip())
            scheme, sep, rest = value.strip().partition(" ")
            if sep and rest.strip() and scheme.isalpha():
                found.append(rest.strip())
    return found


def url_secrets(url: str) -> list[str]:
    """A URL's password, as written and decoded, and the Basic credentials made of it."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return []
    if not password:
        return []
    basic = base64.b64encode(f"{unquote(user or '')}:{unquote(password)}".encode()).decode()
    return [password, unquote(password), basic]


def redact_url(url: str) -> str:
    """The URL with the password of its userinfo shown as ``***``."""
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", url)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and its escaped spellings in JSON or Python reprs) and
    every URL password replaced by ``***``."""
    forms = set()
    for secret in secrets:
        for form in (secret, secret.strip(), repr(secret)[1:-1], _json_escaped(secret)):
            if len(form) >= MIN_SECRET:
                forms.add(form)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return redact_url(text)


def _json_escaped(secret: str) -> str:
    import orjson

    return orjson.dumps(secret).decode()[1:-1]


def redacted_headers(headers: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """Headers as shown by ``-v`` and ``--dry-run``: credentials as ``***`` (keeping the
    scheme of an ``Authorization: Bearer``), secrets removed from the others."""
    secrets = tuple(secrets)
    shown = {}
    for name, value in headers.items():
        if is_credential_header(name):
            scheme, sep, _ = value.partition(" ")
            value = f"{scheme} {REDACTED}" if sep and scheme.lower() in _SCHEMES else REDACTED
        shown[name] = redact(value, secrets)
    return shown


_SCHEMES = frozenset({"bearer", "basic", "token", "digest"})
