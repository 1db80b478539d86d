"""Response bodies, decompressed in bounded steps and capped (DESIGN.md, "Limits").

httpx inflates each network read whole, so 64 KiB of a gzip bomb becomes 64 MiB at
once. Here ``gzip`` and ``deflate`` are inflated at most ``STEP`` bytes at a time
(zlib's ``max_length``), so memory stays flat and the caps, counted after decompression,
stop a bomb after its first few megabytes. Pure generators over byte chunks, no I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

STEP = 1 << 20
#: DESIGN.md, "Limits": a body read (or a stream kept) whole, and what is read of an error
MAX_BODY = 256 << 20
MAX_ERROR_BODY = 64 << 10
#: what llmcli asks for: the encodings decoded here, in bounded steps
ACCEPT_ENCODING = "gzip, deflate"


class DecodingError(ValueError):
    """A body that does not decode as its Content-Encoding says."""


def decoders(content_encoding: str) -> list[str] | None:
    """The codings to undo, outermost last as listed (RFC 9110 8.4), or None when one of
    them is not gzip/deflate (left to httpx's own decoders)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if all(c in ("gzip", "x-gzip", "deflate") for c in codings):
        return codings
    return None


def decode(chunks: Iterable[bytes], codings: list[str]) -> Iterator[bytes]:
    """The chunks with each coding undone, last applied first."""
    for coding in reversed(codings):
        chunks = _inflate(chunks, gzip=coding != "deflate")
    return iter(chunks)


def _inflate(chunks: Iterable[bytes], *, gzip: bool) -> Iterator[bytes]:
    wbits = 31 if gzip else 15
    inflater = zlib.decompressobj(wbits)
    started = False
    early = b""  # deflate's first bytes, until there are two to tell its framing by
    for data in chunks:
        if not gzip and not started:
            early += data
            if len(early) < 2:
                continue
            data, early = early, b""
            if not _zlib_header(data):  # raw deflate (RFC 1951), as some servers send
                inflater, wbits = zlib.decompressobj(-15), -15
        while data:
            try:
                out = inflater.decompress(data, STEP)
            except zlib.error as e:
                if wbits == 15 and not started:  # raw deflate that looked like a header
                    inflater, wbits = zlib.decompressobj(-15), -15
                    continue
                name = "gzip" if gzip else "deflate"
                raise DecodingError(f"body does not decode as {name}: {e}") from None
            started = True
            if out:
                yield out
            if inflater.eof:  # a gzip body may have several members (RFC 1952 2.2)
                data = inflater.unused_data
                inflater = zlib.decompressobj(wbits)
                if data.strip(b"\x00") == b"":
                    data = b""
            elif inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            elif len(out) == STEP:
                data = b""
                while (more := inflater.decompress(b"", STEP)) and more:
                    yield more
            else:
                data = b""
    if early:
        raise DecodingError("body does not decode as deflate: one byte")
    if started and not inflater.eof:
        tail = inflater.flush()
        if tail:
            yield tail


def _zlib_header(data: bytes) -> bool:
    """Whether a deflate body starts with its zlib header: method 8, and the two bytes a
    multiple of 31 (RFC 1950, 2.2) — ``Content-Encoding: deflate`` is zlib by the spec
    (RFC 9110, 8.4.1.2), raw deflate from some servers; httpx tells them apart the same
    way, but by the first read, which may hold one byte."""
    return data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def head(chunks: Iterable[bytes], limit: int) -> bytes:
    """At most ``limit`` bytes from the start; the rest is never read."""
    kept = bytearray()
    for chunk in chunks:
        kept += chunk[: limit - len(kept)]
        if len(kept) >= limit:
            break
    return bytes(kept)
