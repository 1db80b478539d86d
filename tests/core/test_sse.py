from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scaling import assert_linear

from llmcli.protocol.sse import Event, SSEDecoder, TooLarge


def decode(chunks: Iterable[bytes]) -> list[Event]:
    decoder = SSEDecoder()
    events: list[Event] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


# Line ends


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_ends(eol: bytes) -> None:
    stream = b"event: e" + eol + b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    assert decode([stream]) == [Event("a\nb", "e"), Event("c")]


def test_mixed_line_ends() -> None:
    assert decode([b"data: a\rdata: b\r\ndata: c\n\r\n"]) == [Event("a\nb\nc")]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    assert decode([b"data: a\r", b"\ndata: b\n\n"]) == [Event("a\nb")]


def test_crlf_split_with_empty_chunks_between() -> None:
    assert decode([b"data: a\r", b"", b"", b"\ndata: b\r", b"\n\r", b"\n"]) == [Event("a\nb")]


def test_cr_then_cr_is_two_line_ends() -> None:
    assert decode([b"data: a\r", b"\rdata: b\n\n"]) == [Event("a"), Event("b")]


def test_feed_returns_events_as_soon_as_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [Event("a")]
    assert decoder.feed(b"data: b\r") == []
    assert decoder.feed(b"\r") == [Event("b")]
    assert decoder.feed(b"\n") == []
    assert decoder.close() == []


# UTF-8 and BOM


def test_multibyte_split_at_every_position() -> None:
    stream = "data: x😀y\n\n".encode()
    for i in range(len(stream) + 1):
        assert decode([stream[:i], stream[i:]]) == [Event("x😀y")], i


def test_emoji_split_into_single_bytes() -> None:
    stream = "data: 😀\n\n".encode()
    assert decode(stream[i : i + 1] for i in range(len(stream))) == [Event("😀")]


def test_invalid_utf8_is_replaced() -> None:
    assert decode([b"data: a\xffb\xf0\x9f\n\n"]) == [Event("a\ufffdb\ufffd")]


@pytest.mark.parametrize(
    "chunks",
    [
        [b"\xef\xbb\xbfdata: x\n\n"],
        [b"\xef", b"\xbb\xbfdata: x\n\n"],
        [b"\xef\xbb", b"\xbfdata: x\n\n"],
        [b"\xef", b"", b"\xbb", b"\xbf", b"data: x\n\n"],
        [b"\xef\xbb\xbf", b"data: x\n\n"],
    ],
)
def test_leading_bom_is_stripped(chunks: list[bytes]) -> None:
    assert decode(chunks) == [Event("x")]


def test_only_one_bom_is_stripped() -> None:
    assert decode([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n"]) == [Event("y")]


def test_bom_elsewhere_is_data() -> None:
    assert decode([b"data: \xef\xbb\xbfx\n\n\xef\xbb\xbfdata: y\n\ndata: z\n\n"]) == [
        Event("\ufeffx"),
        Event("z"),
    ]


def test_bom_prefix_that_is_not_a_bom() -> None:
    assert decode([b"\xef", b"\xbbdata: x\n\ndata: y\n\n"]) == [Event("y")]
    assert decode([b"\xef\xbb"]) == []


# Fields


def test_comment_lines_are_ignored() -> None:
    stream = b": OPENROUTER PROCESSING\n\n:\ndata: a\n: mid-block\ndata: b\n\n"
    assert decode([stream]) == [Event("a\nb")]


def test_only_one_space_after_colon_is_removed() -> None:
    stream = b"data:a\n\ndata: a\n\ndata:  a\n\ndata:\ta\n\n"
    assert decode([stream]) == [Event("a"), Event("a"), Event(" a"), Event("\ta")]


def test_value_may_contain_colons() -> None:
    assert decode([b'data: {"a": "b:c"}\n\n']) == [Event('{"a": "b:c"}')]


def test_field_without_colon_has_empty_value() -> None:
    assert decode([b"data\n\n"]) == [Event("")]
    assert decode([b"data\ndata\n\n"]) == [Event("\n")]
    assert decode([b"event\ndata: x\n\n"]) == [Event("x", "message")]


def test_empty_data_dispatches_empty_event() -> None:
    assert decode([b"data:\n\n"]) == [Event("")]
    assert decode([b"data: \n\n"]) == [Event("")]


def test_multiline_data_joins_with_newline() -> None:
    assert decode([b"data: a\ndata:\ndata: b\ndata:\n\n"]) == [Event("a\n\nb\n")]


def test_block_without_data_dispatches_nothing_and_resets_type() -> None:
    stream = b"event: ping\n\ndata: x\n\n"
    assert decode([stream]) == [Event("x", "message")]


def test_empty_event_type_is_message() -> None:
    assert decode([b"event:\ndata: x\n\n"]) == [Event("x", "message")]


def test_event_type_is_reset_after_dispatch() -> None:
    assert decode([b"event: a\ndata: x\n\ndata: y\n\n"]) == [Event("x", "a"), Event("y")]


def test_last_event_type_in_block_wins() -> None:
    assert decode([b"event: a\nevent: b\ndata: x\n\n"]) == [Event("x", "b")]


def test_unknown_fields_are_ignored() -> None:
    assert decode([b"foo: bar\nDATA: no\ndata : no\ndata: x\n\n"]) == [Event("x")]


def test_id_persists_across_events() -> None:
    stream = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\n\ndata: c\n\nid\ndata: d\n\n"
    assert decode([stream]) == [
        Event("a", id="1"),
        Event("b", id="1"),
        Event("c", id="2"),
        Event("d", id=""),
    ]


def test_id_with_nul_is_ignored() -> None:
    assert decode([b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"]) == [
        Event("a", id="1"),
        Event("b", id="1"),
    ]


@pytest.mark.parametrize(
    ("line", "retry"),
    [
        (b"retry: 3000", 3000),
        (b"retry:0", 0),
        (b"retry: 12a", None),
        (b"retry: -1", None),
        (b"retry: 1.5", None),
        (b"retry:  10", None),
        (b"retry:", None),
        (b"retry", None),
        ("retry: ²".encode(), None),
        ("retry: ١٢".encode(), None),
    ],
)
def test_retry(line: bytes, retry: int | None) -> None:
    assert decode([line + b"\ndata: x\n\n"]) == [Event("x", retry=retry)]


def test_retry_belongs_to_its_block() -> None:
    stream = b"retry: 5\ndata: a\n\ndata: b\n\nretry: 7\n\ndata: c\n\n"
    assert decode([stream]) == [Event("a", retry=5), Event("b"), Event("c")]


# End of stream


def test_close_discards_unterminated_last_line() -> None:
    # WHATWG 9.2.6: "If the file ends in the middle of an event, before the final empty
    # line, the incomplete event is not dispatched."
    assert decode([b"data: a\n\ndata: [DONE]"]) == [Event("a")]


def test_close_discards_block_without_blank_line() -> None:
    assert decode([b"event: e\nid: 9\ndata: [DONE]\n"]) == []
    assert decode([b"data: [DONE]\r"]) == []


def test_pending_tells_a_cut_event() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n")
    assert decoder.pending
    decoder.feed(b"\n")
    assert not decoder.pending
    decoder.feed(b"data: b")
    assert decoder.pending


def test_close_without_data_dispatches_nothing() -> None:
    assert decode([]) == []
    assert decode([b""]) == []
    assert decode([b"event: e\nid: 1"]) == []
    assert decode([b": comment"]) == []
    assert decode([b"data: a\n\n"]) == [Event("a")]


def test_close_is_final() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\n") == [Event("a")]
    assert decoder.close() == []
    assert decoder.close() == []
    with pytest.raises(RuntimeError):
        decoder.feed(b"\n\n")


# Real gateway streams


OPENROUTER = (
    b": OPENROUTER PROCESSING\n\n"
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"id":"gen-1","choices":[{"delta":{"role":"assistant","content":"Hel"}}]}\n\n'
    b'data: {"id":"gen-1","choices":[{"delta":{"content":"lo \xc3\xa9"}}]}\n\n'
    b'data: {"id":"gen-1","choices":[{"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]"
)
OPENROUTER_EVENTS = [
    Event('{"id":"gen-1","choices":[{"delta":{"role":"assistant","content":"Hel"}}]}'),
    Event('{"id":"gen-1","choices":[{"delta":{"content":"lo é"}}]}'),
    Event('{"id":"gen-1","choices":[{"delta":{},"finish_reason":"stop"}]}'),
    Event("[DONE]"),
]


@pytest.mark.parametrize(
    ("ending", "events"),
    [
        (b"", OPENROUTER_EVENTS[:-1]),
        (b"\n", OPENROUTER_EVENTS[:-1]),
        (b"\n\n", OPENROUTER_EVENTS),
        (b"\r\n\r\n", OPENROUTER_EVENTS),
    ],
)
def test_openrouter_stream(ending: bytes, events: list[Event]) -> None:
    stream = OPENROUTER + ending
    assert decode([stream]) == events
    assert decode(stream[i : i + 7] for i in range(0, len(stream), 7)) == events


def test_a_line_over_the_limit_raises_whatever_the_chunking() -> None:
    decoder = SSEDecoder(max_size=1000)
    decoder.feed(b"data: " + b"a" * 500)
    with pytest.raises(TooLarge, match="SSE line longer than"):
        decoder.feed(b"a" * 501)


def test_an_event_over_the_limit_raises() -> None:
    decoder = SSEDecoder(max_size=1000)
    with pytest.raises(TooLarge, match="SSE event larger than"):
        decoder.feed(b"data: " + b"a" * 100 + b"\n" * 1 + (b"data: " + b"b" * 100 + b"\n") * 9)


def test_lines_and_events_at_the_limit_pass() -> None:
    decoder = SSEDecoder(max_size=1000)
    assert decoder.feed(b"data: " + b"a" * 900 + b"\n\n") == [Event("a" * 900)]


def test_openai_crlf_stream() -> None:
    stream = (
        b'data: {"choices":[{"delta":{"content":"Hi"}}]}\r\n\r\n'
        b'data: {"choices":[{"delta":{"content":"!"}}]}\r\n\r\n'
        b"data: [DONE]\r\n\r\n"
    )
    expected = [
        Event('{"choices":[{"delta":{"content":"Hi"}}]}'),
        Event('{"choices":[{"delta":{"content":"!"}}]}'),
        Event("[DONE]"),
    ]
    assert decode([stream]) == expected
    assert decode(stream[i : i + 1] for i in range(len(stream))) == expected


def test_anthropic_stream() -> None:
    stream = (
        b"event: message_start\n"
        b'data: {"type":"message_start","message":{"id":"msg_1"}}\n\n'
        b"event: content_block_start\n"
        b'data: {"type":"content_block_start","index":0}\n\n'
        b"event: ping\n"
        b'data: {"type": "ping"}\n\n'
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","delta":{"text":"Hi"}}\n\n'
        b"event: content_block_stop\n"
        b'data: {"type":"content_block_stop","index":0}\n\n'
        b"event: message_stop\n"
        b'data: {"type":"message_stop"}\n\n'
    )
    assert decode([stream]) == [
        Event('{"type":"message_start","message":{"id":"msg_1"}}', "message_start"),
        Event('{"type":"content_block_start","index":0}', "content_block_start"),
        Event('{"type": "ping"}', "ping"),
        Event('{"type":"content_block_delta","delta":{"text":"Hi"}}', "content_block_delta"),
        Event('{"type":"content_block_stop","index":0}', "content_block_stop"),
        Event('{"type":"message_stop"}', "message_stop"),
    ]


def test_long_stream_in_many_chunks_is_linear() -> None:
    """n and 8n events cut in 61-byte chunks: 8n take about 8 times as long, not 64."""
    line = b'data: {"choices":[{"delta":{"content":"token"}}]}\n\n'

    def work_for(n: int) -> Callable[[], None]:
        stream = line * n
        chunks = [stream[i : i + 61] for i in range(0, len(stream), 61)]

        def work() -> None:
            events = decode(chunks)
            assert len(events) == n
            assert set(events) == {Event('{"choices":[{"delta":{"content":"token"}}]}')}

        return work

    assert_linear(work_for, 5_000)


def test_long_line_in_small_chunks_is_linear() -> None:
    """A line of n and 8n bytes in 16-byte chunks: holding the unfinished line must not
    copy it again for each chunk."""

    def work_for(n: int) -> Callable[[], None]:
        stream = b"data: " + b"x" * n + b"\n\n"
        chunks = [stream[i : i + 16] for i in range(0, len(stream), 16)]

        def work() -> None:
            assert decode(chunks) == [Event("x" * n)]

        return work

    assert_linear(work_for, 150_000)


def test_event_of_many_data_lines_is_linear() -> None:
    """An event of n and 8n ``data:`` lines: its data is joined once, at dispatch."""
    value = "0123456789abcdef" * 4

    def work_for(n: int) -> Callable[[], None]:
        stream = f"data: {value}\n".encode() * n + b"\n"
        chunks = [stream[i : i + 256] for i in range(0, len(stream), 256)]

        def work() -> None:
            assert decode(chunks) == [Event("\n".join([value] * n))]

        return work

    assert_linear(work_for, 2_000)


# Property tests

_line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8)
_id_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=6)
_events = st.lists(
    st.tuples(
        st.lists(_line_text, min_size=1, max_size=3),
        st.one_of(st.none(), _line_text),
        st.one_of(st.none(), _id_text),
        st.one_of(st.none(), st.integers(0, 10**6)),
    ),
    max_size=5,
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[Event]]:
    lines: list[str] = []
    expected: list[Event] = []
    last_id = ""

    def field(name: str, value: str) -> None:
        space = value.startswith(" ") or draw(st.booleans())
        lines.append(f"{name}: {value}" if space else f"{name}:{value}")
        if draw(st.integers(0, 4)) == 0:
            lines.append(":" + draw(_line_text))

    for data, name, id_, retry in draw(_events):
        if draw(st.booleans()):
            lines.append(":" + draw(_line_text))
        if name is not None:
            field("event", name)
        if id_ is not None:
            field("id", id_)
            last_id = id_
        if retry is not None:
            field("retry", str(retry))
        for value in data:
            field("data", value)
        lines.append("")
        if draw(st.integers(0, 4)) == 0:
            lines.append("")
        expected.append(Event("\n".join(data), name or "message", last_id, retry))

    if draw(st.booleans()) and lines:
        lines.pop()
        if lines and lines[-1] != "" and expected:
            expected.pop()  # the last event lost its blank line: never dispatched (9.2.6)
    out = [b"\xef\xbb\xbf"] if draw(st.booleans()) else []
    prev = ""
    for i, line in enumerate(lines):
        eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        if prev == "\r" and not line and eol == "\n":
            eol = "\r\n"
        if i == len(lines) - 1 and line and draw(st.booleans()):
            eol = ""
        out.append((line + eol).encode())
        prev = eol
    return b"".join(out), expected


@settings(max_examples=300, deadline=None)
@given(streams())
def test_whole_stream_and_single_bytes(case: tuple[bytes, list[Event]]) -> None:
    stream, expected = case
    assert decode([stream]) == expected
    assert decode(stream[i : i + 1] for i in range(len(stream))) == expected


@settings(max_examples=100, deadline=None)
@given(streams())
def test_every_two_way_split(case: tuple[bytes, list[Event]]) -> None:
    stream, expected = case
    for i in range(len(stream) + 1):
        assert decode([stream[:i], stream[i:]]) == expected


@settings(max_examples=300, deadline=None)
@given(streams(), st.data())
def test_random_chunking(case: tuple[bytes, list[Event]], data: st.DataObject) -> None:
    stream, expected = case
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in pairwise(bounds)]
    assert decode(chunks) == expected


# Where events end in their chunk (what goes out before a failing event)


def test_events_of_one_chunk_know_where_they_end() -> None:
    chunk = b"data: a\n\n: note\n\nevent: e\ndata: b\n\ndata: c\n\ndata: d"
    events = SSEDecoder().feed(chunk)
    assert events == [Event("a"), Event("b", "e"), Event("c")]
    assert [chunk[: e.end] for e in events] == [
        b"data: a\n\n",
        b"data: a\n\n: note\n\nevent: e\ndata: b\n\n",
        b"data: a\n\n: note\n\nevent: e\ndata: b\n\ndata: c\n\n",
    ]


def test_a_leading_bom_counts_in_the_ends() -> None:
    chunk = b"\xef\xbb\xbfdata: a\n\ndata: b\n\n"
    assert [e.end for e in SSEDecoder().feed(chunk)] == [12, 21]


def test_an_event_begun_in_an_earlier_chunk_ends_at_its_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b") == [Event("a")]
    events = decoder.feed(b"c\n\ndata: d\n\n")
    assert events == [Event("bc"), Event("d")]
    assert [e.end for e in events] == [3, 12]


def test_cr_line_ends_count_in_the_ends() -> None:
    chunk = b"data: a\r\n\r\ndata: b\r\n\r\n"
    assert [e.end for e in SSEDecoder().feed(chunk)] == [11, 22]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"data: x", b"data: y\ndata: z", b": c", b"event: e\ndata: w"])),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.lists(st.integers(0, 200), max_size=6),
)
def test_any_chunking_ends_each_event_after_its_blank_line(
    blocks: list[bytes], eol: bytes, cuts: list[int]
) -> None:
    stream = b"".join(block.replace(b"\n", eol) + eol + eol for block in blocks)
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    decoder = SSEDecoder()
    seen = []
    for a, b in pairwise(bounds):
        chunk = stream[a:b]
        for event in decoder.feed(chunk):
            seen.append(a + event.end)
    whole = [event.end for event in SSEDecoder().feed(stream)]
    assert len(whole) == sum(b"data" in block for block in blocks)
    assert all(stream[:e].endswith(eol + eol) for e in whole)
    assert len(seen) == len(whole)
    for got, exact in zip(seen, whole, strict=True):  # a CR cut from its LF ends the line
        assert got == exact or (eol == b"\r\n" and got == exact - 1 and got in bounds)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"data: x", b"data: y\ndata: z", b": c", b"id: 7\ndata: w"])))
def test_an_end_is_always_just_after_a_blank_line(blocks: list[bytes]) -> None:
    chunk = b"".join(block + b"\n\n" for block in blocks)
    for event in SSEDecoder().feed(chunk):
        assert chunk[: event.end].endswith(b"\n\n")
    assert len(SSEDecoder().feed(chunk)) == sum(b"data" in block for block in blocks)
