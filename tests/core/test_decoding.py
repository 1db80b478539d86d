"""Bounded decompression and caps (llmcli.http.decoding): pure, tested directly."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcli.http.decoding import STEP, DecodingError, decode, decoders, head


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=5000), st.integers(1, 700), st.sampled_from(["gzip", "deflate"]))
def test_round_trip_in_any_chunking(data: bytes, size: int, coding: str) -> None:
    packed = gzip.compress(data) if coding == "gzip" else zlib.compress(data)
    assert b"".join(decode(chunked(packed, size), [coding])) == data


def test_raw_deflate_without_zlib_header() -> None:
    squeeze = zlib.compressobj(wbits=-15)
    packed = squeeze.compress(b"hello raw") + squeeze.flush()
    assert b"".join(decode([packed], ["deflate"])) == b"hello raw"


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=3000), st.integers(1, 400), st.integers(-15, -9))
def test_raw_deflate_in_any_chunking(data: bytes, size: int, wbits: int) -> None:
    # a first read of one byte cannot tell raw deflate from zlib: both bytes are waited for
    squeeze = zlib.compressobj(wbits=wbits)
    packed = squeeze.compress(data) + squeeze.flush()
    assert b"".join(decode(chunked(packed, size), ["deflate"])) == data
    assert b"".join(decode(chunked(packed, 1), ["deflate"])) == data


def test_one_byte_of_deflate_is_a_decoding_error() -> None:
    with pytest.raises(DecodingError, match="body does not decode as deflate: one byte"):
        list(decode([b"x"], ["deflate"]))


def test_several_gzip_members_are_one_body() -> None:
    packed = gzip.compress(b"one ") + gzip.compress(b"two")
    assert b"".join(decode(chunked(packed, 5), ["gzip"])) == b"one two"


def test_a_bomb_comes_out_in_bounded_steps() -> None:
    bomb = gzip.compress(b"\0" * (64 * STEP))  # 64 MiB from ~64 KiB
    sizes = [len(c) for c in decode([bomb], ["gzip"])]
    assert sum(sizes) == 64 * STEP
    assert max(sizes) <= STEP


def test_garbage_is_a_decoding_error() -> None:
    with pytest.raises(DecodingError, match="does not decode as gzip"):
        list(decode([b"not gzip at all"], ["gzip"]))


@pytest.mark.parametrize(
    ("header", "codings"),
    [
        ("", []),
        ("identity", []),
        ("gzip", ["gzip"]),
        ("GZip , deflate", ["gzip", "deflate"]),
        ("br", None),
        ("gzip, zstd", None),
    ],
)
def test_decoders(header: str, codings: list[str] | None) -> None:
    assert decoders(header) == codings


def test_head_reads_no_further_than_it_keeps() -> None:
    def endless():
        while True:
            yield b"x" * 1000

    assert head(endless(), 2500) == b"x" * 2500
    assert head(iter([b"ab"]), 10) == b"ab"
