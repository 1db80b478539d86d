"""HTTP/1.1 framing without I/O: a request's head as bytes, a response's head parsed.

Both of llmcli's own HTTP/1.1 clients write a request head here (``request_head``: the
thread path's transport, the event loop's ``aio``); ``aio`` also reads an answer's head
here (``parse_head``, the thread path reads it with http.client, ``response_head``). Checked
as h11 checks them, and as strict where a hostile server could exploit a lenient reader:

- a header name is an RFC 9110 token, a value has no CR, LF or NUL;
- an answer's head is at most ``MAX_HEAD`` bytes; lines end in CRLF or LF; a folded line
  (obs-fold) continues the header before it;
- the body's framing: ``Transfer-Encoding: chunked`` alone, or one ``Content-Length`` (its
  values, repeated or comma-separated, one number of at most 20 digits), or the
  connection's end; both framings given: chunked, and the connection is not reused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["MAX_HEAD", "Head", "WireError", "head_end", "parse_head", "request_head"]

MAX_HEAD = 64 << 10  # an answer's status line and headers, together

_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_BAD_VALUE = re.compile(rb"[\r\n\x00]")
_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: ([^\r\n]*))?")
_DIGITS = re.compile(rb"[0-9]{1,20}")
_END = re.compile(rb"\r?\n\r?\n")


class WireError(ValueError):
    """Bytes that are not an HTTP/1.1 head (the message says what is wrong)."""


def request_head(method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The request line and header lines, ending in the blank line."""
    lines = [b"%s %s HTTP/1.1\r\n" % (method, target)]
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            raise WireError(f"Illegal header name {name!r}")
        if _BAD_VALUE.search(value):
            raise WireError(f"Illegal header value {value!r}")
        lines.append(b"%s: %s\r\n" % (name, value))
    lines.append(b"\r\n")
    return b"".join(lines)


@dataclass(frozen=True, slots=True)
class Head:
    """An answer's status line and headers (names lowercased, in the order sent)."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    #: the body's length (Content-Length); None: chunked, or to the connection's end
    length: int | None
    chunked: bool
    #: HTTP/1.1 and no ``Connection: close`` (nor both framings): the connection may serve
    #: another request once the body is read
    keep_alive: bool


def head_end(data: bytes | bytearray, start: int = 0) -> tuple[int, int]:
    """Where the head in ``data`` ends: (the end of its last line, the start of the body),
    or (-1, -1) while the blank line has not come. ``start``: where to look from."""
    found = _END.search(data, max(start - 3, 0))
    return (found.start(), found.end()) if found is not None else (-1, -1)


def parse_head(block: bytes) -> Head:
    """The head of an answer: ``block`` from the status line to the end of the last header
    line (``head_end``). Raises ``WireError``."""
    if len(block) > MAX_HEAD:
        raise WireError(f"an answer's head over {MAX_HEAD >> 10} KiB")
    lines = block.split(b"\n")
    status_line = lines[0].rstrip(b"\r")
    matched = _STATUS.fullmatch(status_line)
    if matched is None:
        raise WireError(f"illegal status line: {status_line[:100]!r}")
    minor, code, reason = matched.groups()
    fields: list[tuple[bytes, bytes]] = []
    for raw in lines[1:]:
        line = raw.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):  # obs-fold: the header before it goes on
            if not fields:
                raise WireError("illegal header line")
            name, value = fields[-1]
            fields[-1] = (name, value + b" " + line.strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise WireError("illegal header line")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            raise WireError("illegal header value")
        fields.append((name.lower(), value))
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in fields]
    codings = [
        c.strip().lower() for n, v in fields if n == b"transfer-encoding" for c in v.split(b",")
    ]
    lengths = {c.strip() for n, v in fields if n == b"content-length" for c in v.split(b",")}
    close = any(
        t.strip().lower() == b"close"
        for n, v in fields
        if n == b"connection"
        for t in v.split(b",")
    )
    keep_alive = minor == b"1" and not close
    if codings:
        if codings != [b"chunked"]:
            raise WireError("Only Transfer-Encoding: chunked is supported")
        return Head(int(code), _text(reason), headers, None, True, keep_alive and not lengths)
    length = None
    if lengths:
        if len(lengths) > 1 or not _DIGITS.fullmatch(next(iter(lengths))):
            raise WireError("bad Content-Length")
        length = int(next(iter(lengths)))
    return Head(int(code), _text(reason), headers, length, False, keep_alive)


def _text(reason: bytes | None) -> str:
    return (reason or b"").decode("latin-1")
