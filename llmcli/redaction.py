"""Secrets, and how text is shown to people with every one of them as ``***``.

A secret is the gateway's key, the value of any credential header (given with ``-H`` or
by a gateway: ``Authorization``, ``Cookie``, ``X-Api-Key``, any ``*-Key``, anything with
``token``, ``secret``, ``password`` or ``auth`` in its name) and the password of a URL's
userinfo (``http://u:secret@host/v1``, which httpx sends as ``Basic`` credentials). Every
message that shows a server's words, a header, a URL or a traceback goes through
``redact`` (DESIGN.md, "Limits"); every body that comes back goes through a ``Scrubber``
before anything reads it. Pure functions, no I/O.

What is hidden (DESIGN.md: what llmcli prints or writes never contains the key or a
prefix long enough to identify it): a secret however JSON spells it (any character as
``\\uXXXX`` in either case, ``\\/``, ``\\"``), however the network cut it (a
``Scrubber`` holds back a tail that could begin one until the next read), and a piece of
its start long enough to identify it (``FRAGMENT``: 12 characters — what is left when a
server shortens a message).
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
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


def redact(text: str, secrets: Iterable[str], *, fold_case: bool = False) -> str:
    """``text`` with every secret (its JSON and Python spellings, and any piece of it
    long enough to identify it) and every URL password replaced by ``***``;
    ``fold_case``: in any letter case too (a header name)."""
    forms = set()
    for secret in secrets:
        for form in (secret.strip(), repr(secret)[1:-1]):
            if len(form) >= MIN_SECRET:
                forms.add(form)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
        text = _pattern(form, fold_case).sub(REDACTED, text)
    return redact_url(text)


def scrub_json(value: Any, secrets: tuple[str, ...]) -> Any:
    """A parsed JSON value with every secret (and its start) hidden in every string, keys
    too: what a stream's pieces assembled may hold (a secret sent in two deltas), which
    no single event did. Only secrets: a URL in the model's words stays as it is."""
    if isinstance(value, str):
        return _hide(value, secrets) if _could_hold(value, secrets) else value
    if isinstance(value, list):
        return [scrub_json(item, secrets) for item in value]
    if isinstance(value, dict):
        return {scrub_json(k, secrets): scrub_json(v, secrets) for k, v in value.items()}
    return value


def _hide(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if len(secret) >= MIN_SECRET:
            text = _pattern(secret).sub(REDACTED, text)
    return text


def _could_hold(text: str, secrets: tuple[str, ...]) -> bool:
    return any(s[:1] in text or s[-1:] in text for s in secrets if len(s) >= MIN_SECRET)


#: the start of a secret this long is hidden as the secret is (what identifies a key)
FRAGMENT = 12
_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/"}  # JSON's two-character escapes


def _spellings(char: str) -> list[str]:
    """Regular expressions for each way JSON may spell ``char``."""
    found = [re.escape(char)]
    if char.isascii():
        digits = "".join(
            f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{ord(char):04x}"
        )
        found.append(r"\\u" + digits)
    if char in _SHORT:
        found.append(re.escape(_SHORT[char]))
    return found


def _atom(char: str, fold_case: bool) -> str:
    chars = {char, char.lower(), char.upper()} if fold_case else {char}
    return "(?:" + "|".join(sorted({p for c in chars for p in _spellings(c)})) + ")"


@functools.lru_cache(maxsize=64)
def _pattern(secret: str, fold_case: bool = False, pieces: bool = True) -> re.Pattern[str]:
    """The secret, or (``pieces``) its first ``FRAGMENT`` characters extended as far as
    they match, in any of JSON's spellings; matched longest first."""
    atoms = [_atom(c, fold_case) for c in secret]
    n = len(atoms)
    least = n if n <= FRAGMENT or not pieces else FRAGMENT
    return re.compile("".join(atoms[:least]) + _optional_chain(atoms[least:]))


def _optional_chain(atoms: list[str]) -> str:
    """``a(?:b(?:c)?)?``: as many of ``atoms``, in order, as follow."""
    out = ""
    for atom in reversed(atoms):
        out = f"(?:{atom}{out})?"
    return out


@functools.lru_cache(maxsize=64)
def _bytes_pattern(secret: str, pieces: bool = True) -> re.Pattern[bytes]:
    return re.compile(_pattern(secret, pieces=pieces).pattern.encode("utf-8"))


def scrub(data: bytes, secrets: Iterable[str], *, pieces: bool = True) -> bytes:
    """A whole body with every secret, and (``pieces``) every piece of one ``redact``
    hides, as ``***``."""
    for secret in secrets:
        if len(secret) < MIN_SECRET:
            continue
        # every spelling but the plain one has a backslash; the plain one, its start
        if b"\\" in data or secret[:MIN_SECRET].encode("utf-8") in data:
            data = _bytes_pattern(secret, pieces).sub(REDACTED.encode(), data)
    return data


class Scrubber:
    """A body's bytes as they arrive, scrubbed (``scrub``) across reads: a tail that
    could begin a secret (in any JSON spelling) is held back until the next read shows
    whether it does; ``close()`` gives what is held at the end, scrubbed."""

    __slots__ = ("_held", "_secrets")

    def __init__(self, secrets: Iterable[str]) -> None:
        kept = [s for s in secrets if len(s) >= MIN_SECRET]
        # "Bearer sk-…" holds "sk-…": hiding the one inside hides both
        self._secrets = tuple(s for s in kept if not any(o != s and o in s for o in kept))
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        # whole secrets first; then what could begin one is held back; and only what
        # goes out is searched for pieces (a piece at the end may be the start of more)
        data = scrub(self._held + chunk, self._secrets, pieces=False)
        cut = min((_start_of_partial(data, s) for s in self._secrets), default=len(data))
        self._held = data[cut:]
        return scrub(data[:cut], self._secrets)

    @property
    def holding(self) -> bool:
        """Whether a tail is held back (it could begin a secret)."""
        return bool(self._held)

    def close(self) -> bytes:
        held, self._held = self._held, b""
        return scrub(held, self._secrets)


def _start_of_partial(data: bytes, secret: str) -> int:
    """Where a tail of ``data`` that could be the start of ``secret`` (in any spelling)
    begins; ``len(data)`` when none could."""
    end = len(data)
    literal = secret.encode("utf-8")
    found = end
    at = data.find(literal[:1], max(end - len(literal) + 1, 0))
    while at != -1:  # spelled as it is: the common case, in C
        if literal.startswith(data[at:]):
            found = at
            break
        at = data.find(literal[:1], at + 1)
    window = max(end - 6 * len(secret), 0)
    if data.find(b"\\", window) == -1:  # no escape near the end: no other spelling
        return found
    for byte, after in ((literal[:1], (literal[1:2], b"\\")), (b"\\", (b"u", b"/", b'"', b"\\"))):
        at = data.find(byte, window)  # where a spelling can begin, and what can follow
        while at != -1 and at < found:
            if data[at + 1 : at + 2] in (b"", *after) and _partial(data, at, secret):
                found = at
                break
            at = data.find(byte, at + 1)
    return found


def _partial(data: bytes, at: int, secret: str) -> bool:
    """Whether ``data[at:]`` runs out inside a spelling of ``secret``."""
    for char in secret:
        if at == len(data):
            return True
        for spelling in _byte_spellings(char):
            piece = data[at : at + len(spelling)]
            if _begins(spelling, piece):
                if len(piece) < len(spelling):
                    return True
                at += len(spelling)
                break
        else:
            return False
    return False  # the whole secret: scrub() has replaced it already


def _begins(spelling: bytes, piece: bytes) -> bool:
    start = spelling[: len(piece)]
    return piece.lower() == start.lower() if spelling[:2] == b"\\u" else piece == start


@functools.lru_cache(maxsize=256)
def _byte_spellings(char: str) -> tuple[bytes, ...]:
    found = [char.encode("utf-8")]
    if char.isascii():
        found.append(b"\\u%04x" % ord(char))
    if char in _SHORT:
        found.append(_SHORT[char].replace("\\\\", "\\").encode())
    return tuple(found)


def redacted_headers(headers: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """Headers as shown by ``-v`` and ``--dry-run``: credentials as ``***`` (keeping the
    scheme of an ``Authorization: Bearer``), secrets removed from the others."""
    secrets = tuple(secrets)
    shown = {}
    for name, value in headers.items():
        if is_credential_header(name):
            scheme, sep, _ = value.partition(" ")
            value = f"{scheme} {REDACTED}" if sep and scheme.lower() in _SCHEMES else REDACTED
        shown[redact(name, secrets, fold_case=True)] = redact(value, secrets)
    return shown


_SCHEMES = frozenset({"bearer", "basic", "token", "digest"})
