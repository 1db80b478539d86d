"""llmcli.http.chunked, the chunked transfer decoder: pure, tested directly.

Hand-written encodings pin the lenient corners (extensions, hex case, leading zeros, LF
line ends, trailers, a CR parted from its LF); hypothesis checks that any encoding, cut into
any blocks, decodes to its payload with ``done`` and ``extra`` right after every block; the
error cases pin each message and the block in which it is raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcli.http.chunked import MAX_LINE, ChunkedDecoder, ChunkError

LINE_TOO_LONG = "a chunk-size line longer than 64 KiB"
TRAILER_TOO_LONG = "trailer fields longer than 64 KiB"
BAD_END = "a chunk's data does not end where its size says"


def decode(blocks: Iterable[bytes]) -> tuple[bytes, ChunkedDecoder]:
    decoder = ChunkedDecoder()
    out = b"".join([decoder.feed(block) for block in blocks])
    return out, decoder


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def not_hex(shown: str) -> str:
    return f"a chunk-size line that is not hex: {shown!r}"


def test_limit_is_64_kib() -> None:
    assert MAX_LINE == 65536


# Hand-written encodings


@pytest.mark.parametrize(
    ("body", "payload"),
    [
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"0\r\n\r\n", b""),
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
        (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"1F\r\n" + b"x" * 31 + b"\r\n0\r\n\r\n", b"x" * 31),
        (b"1f\r\n" + b"x" * 31 + b"\r\n0\r\n\r\n", b"x" * 31),
        (b"100\r\n" + b"y" * 256 + b"\r\n0\r\n\r\n", b"y" * 256),
        (b"000a\r\n0123456789\r\n0000\r\n\r\n", b"0123456789"),
        (b"000000000000000A\r\n0123456789\r\n0000000000000000\r\n\r\n", b"0123456789"),
        (b"5;name=value\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"5 ;a=b;c\r\nhello\r\n0;last\r\n\r\n", b"hello"),
        (b'5\t;x="quoted; value"\r\nhello\r\n0 \t ; y = z\r\n\r\n', b"hello"),
        (b"5;\r\nhello\r\n0;\r\n\r\n", b"hello"),
        (b"5 \r\nhello\r\n0\t\r\n\r\n", b"hello"),
        (b"5\nhello\n0\n\n", b"hello"),
        (b"5\r\nhello\n3\nabc\r\n0\n\r\n", b"helloabc"),
        (b"5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1;2\r\n\r\n", b"hello"),
        (b"5\nhello\n0\nA: b\nC:\n\n", b"hello"),
        (b"0\r\nOnly: trailer\r\n\n", b""),
        # data is opaque: CR, LF, hex digits and CRLF-CRLF inside a chunk are payload
        (b"7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n", b"\r\n0\r\n\r\n"),
        (b"3\r\n\x00\xff\n\r\n0\r\n\r\n", b"\x00\xff\n"),
        # the size counts bytes: ``ab\r`` is the data, then a bare LF ends it
        (b"3\r\nab\r\n0\r\n\r\n", b"ab\r"),
    ],
)
def test_payload_of_a_whole_body(body: bytes, payload: bytes) -> None:
    out, decoder = decode([body])
    assert out == payload
    assert decoder.done
    assert decoder.extra == b""


def test_sixteen_hex_digits_are_a_size() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"ffffffffffffffff\r\nabc") == b"abc"
    assert not decoder.done
    decoder = ChunkedDecoder()
    assert decoder.feed(b"0000000000000003\r\nabc\r\n0\r\n\r\n") == b"abc"
    assert decoder.done


BODY = b"5;ext=1\r\nhello\r\n1\nx\n3\r\nabc\r\n0\r\nT: v\r\n\r\n"
BODY_PAYLOAD = b"helloxabc"


@pytest.mark.parametrize("cut", range(len(BODY) + 1))
def test_two_blocks_cut_anywhere(cut: int) -> None:
    decoder = ChunkedDecoder()
    first = decoder.feed(BODY[:cut])
    assert decoder.done is (cut == len(BODY))
    second = decoder.feed(BODY[cut:])
    assert first + second == BODY_PAYLOAD
    assert decoder.done
    assert decoder.extra == b""


@pytest.mark.parametrize("cut", range(1, 10))
def test_chunk_data_cut_at_every_byte_is_returned_at_once(cut: int) -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"a\r\n" + b"0123456789"[:cut]) == b"0123456789"[:cut]
    assert decoder.feed(b"0123456789"[cut:]) == b"0123456789"[cut:]
    assert decoder.feed(b"\r\n0\r\n\r\n") == b""
    assert decoder.done


def test_one_byte_blocks_return_each_data_byte_as_it_arrives() -> None:
    decoder = ChunkedDecoder()
    got = [decoder.feed(BODY[i : i + 1]) for i in range(len(BODY))]
    data_at = {BODY.index(b"hello") + i: b"hello"[i : i + 1] for i in range(5)}
    data_at[BODY.index(b"x\n")] = b"x"
    data_at.update({BODY.index(b"abc") + i: b"abc"[i : i + 1] for i in range(3)})
    assert got == [data_at.get(i, b"") for i in range(len(BODY))]
    assert decoder.done


def test_cr_parted_from_its_lf_after_data() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5\r\nhello\r") == b"hello"
    assert decoder.feed(b"") == b""
    assert decoder.feed(b"\n") == b""
    assert decoder.feed(b"2\r") == b""
    assert decoder.feed(b"\nhi\r") == b"hi"
    assert decoder.feed(b"\n0\r\n\r\n") == b""
    assert decoder.done


def test_cr_parted_from_its_lf_in_size_and_trailer_lines() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5;a=b\r") == b""
    assert decoder.feed(b"\nhello\r\n0\r") == b"hello"
    assert decoder.feed(b"") == b""
    assert decoder.feed(b"\nX: y\r") == b""
    assert decoder.feed(b"\n\r") == b""
    assert not decoder.done  # the CR of the empty line is not yet the empty line
    assert decoder.feed(b"") == b""
    assert not decoder.done
    assert decoder.feed(b"\n") == b""
    assert decoder.done
    assert decoder.extra == b""


def test_done_only_once_the_empty_line_arrives() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"1\r\nz\r\n0\r\n") == b"z"
    assert not decoder.done
    assert decoder.feed(b"Trailer: x\r\n") == b""
    assert not decoder.done
    assert decoder.feed(b"\r\n") == b""
    assert decoder.done


def test_bytes_after_the_end_are_extra() -> None:
    out, decoder = decode([b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"])
    assert out == b"abc"
    assert decoder.done
    assert decoder.extra == b"HTTP/1.1 200 OK\r\n"


def test_feeding_after_done_returns_nothing_and_adds_to_extra() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"0\n\nleft") == b""
    assert decoder.extra == b"left"
    assert decoder.feed(b"5\r\nhello\r\n") == b""
    assert decoder.feed(b"") == b""
    assert decoder.feed(b"0\r\n\r\n") == b""
    assert decoder.done
    assert decoder.extra == b"left5\r\nhello\r\n0\r\n\r\n"


def test_feeding_after_done_with_nothing_extra() -> None:
    decoder = ChunkedDecoder()
    decoder.feed(b"0\r\n\r\n")
    assert decoder.extra == b""
    assert decoder.feed(b"g\r\n") == b""  # not parsed: no error
    assert decoder.extra == b"g\r\n"


# Properties: any encoding, cut into any blocks

TOKEN = st.text(alphabet="abcXYZ019-_!#$%&'*+.^`|~", min_size=1, max_size=6)
WS = st.sampled_from(["", " ", "\t", " \t "])
EOL = st.sampled_from([b"\r\n", b"\n"])


@dataclass(frozen=True)
class Encoding:
    body: bytes
    payload: bytes
    seen: Sequence[int]  # seen[k]: payload bytes within body[:k]


@st.composite
def size_lines(draw: st.DrawFn, size: int) -> bytes:
    digits = f"{size:x}"
    if draw(st.booleans()):
        digits = digits.upper()
    digits = "0" * draw(st.integers(0, 16 - len(digits))) + digits
    ext = ""
    if draw(st.booleans()):
        ext = draw(WS)
        for name in draw(st.lists(TOKEN, min_size=1, max_size=3)):
            ext += ";" + draw(WS) + name
            value = draw(st.one_of(st.none(), TOKEN, st.text(alphabet="ab ;=", max_size=5)))
            if value is not None:
                quoted = value if value[:1].isalnum() else '"' + value + '"'
                ext += draw(WS) + "=" + draw(WS) + quoted
    return (digits + ext).encode() + draw(EOL)


@st.composite
def encodings(draw: st.DrawFn) -> Encoding:
    payload = draw(st.binary(max_size=120))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(payload) - 1)), max_size=8))))
    bounds = [0, *(c for c in cuts if c < len(payload)), len(payload)] if payload else [0]
    parts: list[tuple[bytes, bool]] = []
    for start, stop in pairwise(bounds):
        parts += [(draw(size_lines(stop - start)), False), (payload[start:stop], True)]
        parts.append((draw(EOL), False))
    parts.append((draw(size_lines(0)), False))
    for name in draw(st.lists(TOKEN, max_size=3)):
        value = draw(st.text(alphabet="ab :;\t", max_size=8))
        parts.append(((name + ":" + value).encode() + draw(EOL), False))
    parts.append((draw(EOL), False))
    seen = [0]
    for piece, is_data in parts:
        for _ in piece:
            seen.append(seen[-1] + is_data)
    return Encoding(b"".join(p for p, _ in parts), payload, seen)


@st.composite
def blocks(draw: st.DrawFn, stream: bytes) -> list[bytes]:
    how = draw(st.sampled_from(["whole", "bytes", "random"]))
    if how == "whole":
        cuts = [0, len(stream)]
    elif how == "bytes":
        cuts = list(range(len(stream) + 1))
    else:
        inner = st.integers(0, len(stream))
        cuts = sorted([0, len(stream), *draw(st.lists(inner, max_size=20))])
    empties = draw(st.lists(st.integers(0, len(cuts)), max_size=3))
    cuts = sorted(cuts + [cuts[min(i, len(cuts) - 1)] for i in empties])  # empty feeds
    return [stream[a:b] for a, b in pairwise(cuts)]


@settings(max_examples=200, deadline=None)
@given(enc=encodings(), after=st.binary(max_size=20), data=st.data())
def test_any_encoding_in_any_blocks(enc: Encoding, after: bytes, data: st.DataObject) -> None:
    stream = enc.body + after
    decoder = ChunkedDecoder()
    out = b""
    fed = 0
    for block in data.draw(blocks(stream)):
        was_done = decoder.done
        got = decoder.feed(block)
        fed += len(block)
        if was_done:
            assert got == b""
        out += got
        # payload comes out as soon as its bytes arrive, never before the end is known
        assert out == enc.payload[: enc.seen[min(fed, len(enc.body))]]
        assert decoder.done is (fed >= len(enc.body))
        if decoder.done:
            assert decoder.extra == stream[len(enc.body) : fed]
    assert out == enc.payload
    assert decoder.done
    assert decoder.extra == after
    assert (len(enc.seen), enc.seen[-1]) == (len(enc.body) + 1, len(enc.payload))  # bookkeeping


@settings(max_examples=200, deadline=None)
@given(enc=encodings(), data=st.data())
def test_not_done_without_the_final_line_end(enc: Encoding, data: st.DataObject) -> None:
    stream = enc.body[:-1]
    out, decoder = decode(data.draw(blocks(stream)))
    assert out == enc.payload
    assert not decoder.done
    assert decoder.extra == b""


# Errors: the message, and the block in which it comes


def assert_raises_at(body: bytes, at: int, message: str, cuts: Iterable[int] = ()) -> None:
    """Fed as two blocks cut anywhere, ``body`` raises ``message`` in the block holding
    byte ``at`` (the first byte that shows it is wrong), never earlier."""
    for cut in cuts or range(len(body) + 1):
        decoder = ChunkedDecoder()
        if cut > at:
            with pytest.raises(ChunkError) as caught:
                decoder.feed(body[:cut])
        else:
            decoder.feed(body[:cut])
            with pytest.raises(ChunkError) as caught:
                decoder.feed(body[cut:])
        assert str(caught.value) == message, cut


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"g\r\n", "g"),
        (b"-1\r\n", "-1"),
        (b"+1\r\n", "+1"),
        (b"0x10\r\n", "0x10"),
        (b"1_0\r\n", "1_0"),
        (b"1 0\r\n", "1 0"),
        (b"5.0\n", "5.0"),
        (b"\r\n", ""),
        (b"\n", ""),
        (b" \t\r\n", " \t"),
        (b";ext=1\r\n", ";ext=1"),
        (b"\xff\r\n", "\ufffd"),
        (b"00000000000000001\r\n", "00000000000000001"),
        (b"10000000000000000;x\n", "10000000000000000;x"),
        (b"z" * 100 + b"\n", "z" * 40),
    ],
)
def test_a_size_that_is_not_hex(body: bytes, shown: str) -> None:
    assert_raises_at(b"3\r\nabc\r\n" + body, len(b"3\r\nabc\r\n" + body) - 1, not_hex(shown))
    assert_raises_at(body + b"junk", len(body) - 1, not_hex(shown))


@pytest.mark.parametrize(
    ("body", "at"),
    [
        (b"3\r\nabcd\r\n", 6),
        (b"3\r\nabcd", 6),
        (b"3\r\nabc\rX", 7),
        (b"3\r\nabc\r\r\n", 7),
        (b"3\nabc \r\n", 5),
        (b"2\r\nab\r\n3\r\nabc0\r\n\r\n", 13),
    ],
)
def test_data_longer_than_its_size(body: bytes, at: int) -> None:
    assert_raises_at(body, at, BAD_END)


def test_data_ending_in_a_held_cr_then_other_bytes() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\r\nabc\r") == b"abc"
    assert decoder.feed(b"") == b""
    with pytest.raises(ChunkError, match=exactly(BAD_END)):
        decoder.feed(b"0\r\n\r\n")


def _in_blocks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("line", [b"0" * MAX_LINE, b"1;" + b"e" * (MAX_LINE - 2)])
@pytest.mark.parametrize("size", [MAX_LINE // 4, 10_000, 1 << 12])
def test_a_size_line_over_the_limit_raises_once_past_it(line: bytes, size: int) -> None:
    assert len(line) == MAX_LINE
    decoder = ChunkedDecoder()
    for block in _in_blocks(line, size):
        assert decoder.feed(block) == b""  # exactly up to the limit: no error
    with pytest.raises(ChunkError) as caught:
        decoder.feed(line[-1:])
    assert str(caught.value) == LINE_TOO_LONG
    # cut elsewhere, the block that takes it past the limit raises, and none before it
    decoder = ChunkedDecoder()
    fed = 0
    for block in _in_blocks(line + b"0" * 20_000, size):
        fed += len(block)
        if fed <= MAX_LINE:
            assert decoder.feed(block) == b""
        else:
            with pytest.raises(ChunkError, match=exactly(LINE_TOO_LONG)):
                decoder.feed(block)
            break
    assert fed > MAX_LINE


@pytest.mark.parametrize("cut", [0, 1, MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, MAX_LINE + 2])
def test_a_size_line_over_the_limit_cut_near_it(cut: int) -> None:
    assert_raises_at(b"2" * (MAX_LINE + 2), MAX_LINE, LINE_TOO_LONG, cuts=[cut])


def test_a_size_line_over_the_limit_after_data_in_the_same_block() -> None:
    decoder = ChunkedDecoder()
    with pytest.raises(ChunkError, match=exactly(LINE_TOO_LONG)):
        decoder.feed(b"1\r\nx\r\n" + b"f" * (MAX_LINE + 1))


def test_a_size_line_at_the_limit_is_read() -> None:
    line = b"1;" + b"e" * (MAX_LINE - 3) + b"\r"  # MAX_LINE bytes before its LF
    assert len(line) == MAX_LINE
    out, decoder = decode([*_in_blocks(line, 5000), b"\nx\r\n0\r\n\r\n"])
    assert (out, decoder.done) == (b"x", True)


def _trailers(total: int) -> bytes:
    """A trailer section of ``total`` bytes, final empty line included."""
    fields = b""
    while total - len(fields) - 2 > 30_000:
        fields += b"A: " + b"a" * 29_995 + b"\r\n"
    return fields + b"B: " + b"b" * (total - len(fields) - 7) + b"\r\n\r\n"


@pytest.mark.parametrize("size", [None, 1000, 30_001])
def test_a_trailer_section_at_the_limit_is_read(size: int | None) -> None:
    trailers = _trailers(MAX_LINE)
    assert len(trailers) == MAX_LINE
    parts = [trailers] if size is None else _in_blocks(trailers, size)
    out, decoder = decode([b"1\r\nq\r\n0\r\n", *parts, b"more"])
    assert (out, decoder.done, decoder.extra) == (b"q", True, b"more")


@pytest.mark.parametrize("size", [None, 1000, 30_001])
def test_a_trailer_section_over_the_limit(size: int | None) -> None:
    trailers = _trailers(MAX_LINE + 1)
    assert len(trailers) == MAX_LINE + 1
    parts = [trailers] if size is None else _in_blocks(trailers, size)
    decoder = ChunkedDecoder()
    decoder.feed(b"0\r\n")
    with pytest.raises(ChunkError) as caught:
        for part in parts:
            decoder.feed(part)
    assert str(caught.value) == TRAILER_TOO_LONG
    assert not decoder.done


def test_a_trailer_line_without_its_end_raises_once_past_the_limit() -> None:
    decoder = ChunkedDecoder()
    decoder.feed(b"0\r\nA: " + b"a" * 100 + b"\r\n")
    first = 104 + 1
    for block in _in_blocks(b"x" * (MAX_LINE - first), 9000):
        assert decoder.feed(block) == b""  # exactly up to the limit: no error
    with pytest.raises(ChunkError, match=exactly(TRAILER_TOO_LONG)):
        decoder.feed(b"x")


# The limits hold wherever the blocks are cut, a whole line in one block included.


def test_a_whole_size_line_over_the_limit_raises() -> None:
    with pytest.raises(ChunkError, match=exactly(LINE_TOO_LONG)):
        ChunkedDecoder().feed(b"1;" + b"e" * MAX_LINE + b"\nx\n0\n\n")


def test_a_trailer_line_over_the_limit_in_the_block_of_the_last_chunk() -> None:
    with pytest.raises(ChunkError, match=exactly(TRAILER_TOO_LONG)):
        ChunkedDecoder().feed(b"0\r\n" + b"x" * (MAX_LINE + 1))


def test_trailer_fields_over_the_limit_in_the_block_of_the_last_chunk() -> None:
    with pytest.raises(ChunkError, match=exactly(TRAILER_TOO_LONG)):
        ChunkedDecoder().feed(b"0\r\nA: " + b"a" * 40_000 + b"\r\n" + b"b" * 30_000)
