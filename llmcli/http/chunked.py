"""HTTP/1.1 chunked transfer coding (RFC 9112, section 7.1) undone over whole blocks.

A streamed reply arrives as many small chunks; decoding them one network read at a time,
however many chunks that read holds, is what makes a stream cheap to read when it comes
faster than it is read. No I/O: :meth:`ChunkedDecoder.feed` takes the bytes as they came
and returns the payload they complete.

Lenient where real servers are: a chunk-size line may end in LF alone and carry
extensions (``;name=value``) and whitespace before them; trailer fields after the last
chunk are read and dropped. Strict where a hostile server could make it hang or grow:
a size that is not hex, a size line or trailer section over 64 KiB, and data that does
not end in CRLF (or LF) raise :class:`ChunkError`.
"""

from __future__ import annotations

__all__ = ["MAX_LINE", "ChunkError", "ChunkedDecoder"]

MAX_LINE = 64 << 10  # a chunk-size line, or all the trailer fields together
_HEX = frozenset(b"0123456789abcdefABCDEF")
_SIZE, _DATA, _END_OF_DATA, _TRAILER, _DONE = range(5)


class ChunkError(ValueError):
    """Bytes that are not a chunked body."""


class ChunkedDecoder:
    """Feed the body's bytes in any blocks; get back the payload each completes.

    ``done`` turns true after the last chunk and its trailer section; ``extra`` then holds
    any bytes that came after it (a connection that sent them is not reused).
    """

    __slots__ = ("_held", "_left", "_state", "_trailer", "extra")

    def __init__(self) -> None:
        self._held = b""  # an incomplete size or trailer line
        self._left = 0  # data bytes still due in the current chunk
        self._state = _SIZE
        self._trailer = 0  # bytes of trailer fields seen
        self.extra = b""

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> bytes:
        """The payload ``data`` completes (possibly empty)."""
        if self._state == _DONE:
            self.extra += data
            return b""
        if self._held:
            data = self._held + data
            self._held = b""
        out: list[bytes] = []
        pos, end = 0, len(data)
        state, left = self._state, self._left
        while pos < end:
            if state == _DATA:
                take = min(left, end - pos)
                out.append(data[pos : pos + take])
                pos += take
                left -= take
                if not left:
                    state = _END_OF_DATA
            elif state == _SIZE:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    self._hold(data, pos, state)
                    break
                if nl - pos > MAX_LINE:
                    raise ChunkError(f"a chunk-size line longer than {MAX_LINE >> 10} KiB")
                left = _size(data[pos:nl])
                pos = nl + 1
                state = _DATA if left else _TRAILER
            elif state == _END_OF_DATA:
                if data[pos : pos + 2] == b"\r\n":
                    pos += 2
                elif data[pos : pos + 1] == b"\n":
                    pos += 1
                elif end - pos == 1 and data[pos] == 0x0D:
                    self._held = b"\r"
                    break
                else:
                    raise ChunkError("a chunk's data does not end where its size says")
                state = _SIZE
            else:  # _TRAILER: field lines, then an empty line
                nl = data.find(b"\n", pos)
                if nl < 0:
                    self._hold(data, pos, state)
                    break
                line = data[pos:nl]
                pos = nl + 1
                self._trailer += len(line) + 1
                if self._trailer > MAX_LINE:
                    raise ChunkError(f"trailer fields longer than {MAX_LINE >> 10} KiB")
                if line in (b"", b"\r"):
                    state = _DONE
                    self.extra = data[pos:]
                    break
        self._state, self._left = state, left
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def _hold(self, data: bytes, pos: int, state: int) -> None:
        held = data[pos:]
        if len(held) + (self._trailer if state == _TRAILER else 0) > MAX_LINE:
            what = "trailer fields" if state == _TRAILER else "a chunk-size line"
            raise ChunkError(f"{what} longer than {MAX_LINE >> 10} KiB")
        self._held = held


def _size(line: bytes) -> int:
    """The size a chunk-size line states: hex digits, then optional extensions."""
    digits = line.split(b";", 1)[0].strip(b" \t\r")
    if not digits or len(digits) > 16 or not _HEX.issuperset(digits):
        shown = line[:40].rstrip(b"\r").decode("ascii", "replace")
        raise ChunkError(f"a chunk-size line that is not hex: {shown!r}")
    return int(digits, 16)
