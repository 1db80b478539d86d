"""``llmcli.exchange.Reading``: the exchange's decisions over bytes, driven here without
a socket or a thread, the way an event-loop batch engine drives them."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcli.errors import ProtocolError, UnavailableError
from llmcli.exchange import Read, Reading
from llmcli.http.request import Request
from llmcli.protocol.chat import CHAT
from llmcli.protocol.dialect import Dialect
from llmcli.protocol.messages import MESSAGES

REQUEST = Request("POST", "http://gw.test/v1/chat/completions", {}, gateway="gw")
KEY = "sk-test-0123456789abcdef"


def chunk(text: str, **more: Any) -> bytes:
    event = {"choices": [{"index": 0, "delta": {"content": text}, **more}]}
    return b"data: " + orjson.dumps(event) + b"\n\n"


STREAM = chunk("Hel") + chunk("lo") + chunk("", finish_reason="stop") + b"data: [DONE]\n\n"


def drive(
    body: bytes, cuts: list[int], dialect: Dialect = CHAT, request: Request = REQUEST, **kw: Any
) -> tuple[list[Read], Reading]:
    reading = Reading(request, dialect, **kw)
    reads: list[Read] = []
    edges = [0, *sorted(set(cuts)), len(body)]
    for start, end in itertools.pairwise(edges):
        reads.extend(reading.feed(body[start:end]))
    reads.extend(reading.finish())
    return reads, reading


def text(reads: list[Read]) -> str:
    return "".join(p.text for r in reads for p in r.pieces if p.kind == "content")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=8))
def test_any_cut_of_a_stream_makes_the_same_bytes_text_and_reply(cuts: list[int]) -> None:
    reads, reading = drive(STREAM, cuts, lines=True)
    assert b"".join(r.raw for r in reads) == STREAM
    assert text(reads) == "Hello"
    assert [line["choices"][0]["delta"] for r in reads for line in r.lines] == [
        {"content": "Hel"},
        {"content": "lo"},
        {"content": ""},
    ]
    assert reading.reply is not None
    assert reading.reply["choices"][0]["message"]["content"] == "Hello"
    assert reading.reply["choices"][0]["finish_reason"] == "stop"


def test_a_stream_without_its_end_raises_at_finish_after_its_text() -> None:
    reading = Reading(REQUEST, CHAT)
    reads = list(reading.feed(chunk("Hel")))
    assert text(reads) == "Hel"
    with pytest.raises(ProtocolError) as caught:
        list(reading.finish())
    assert caught.value.message == (
        "stream from gw ended before it finished (no [DONE] and no finish_reason) "
        "(POST http://gw.test/v1/chat/completions)"
    )
    assert reading.partial() is not None
    assert reading.reply is None


def test_an_error_event_raises_after_what_came_before_it_and_itself() -> None:
    error = b'data: {"error": {"message": "upstream died", "code": 502}}\n\n'
    reading = Reading(REQUEST, CHAT, lines=True)
    feed = reading.feed(chunk("Hi") + error + chunk("never read"))
    first = next(feed)
    assert first.raw == chunk("Hi") + error and text([first]) == "Hi"
    assert first.lines[-1] == {"error": {"message": "upstream died", "code": 502}}
    with pytest.raises(UnavailableError) as caught:
        next(feed)
    assert caught.value.message == "error from gw: upstream died [502]"


def test_done_before_anything_is_an_error() -> None:
    with pytest.raises(ProtocolError) as caught:
        drive(b"data: [DONE]\n\n", [])
    assert caught.value.message == "stream from gw ended ([DONE]) before any reply arrived"


def test_a_key_sent_in_two_deltas_is_scrubbed_from_text_events_and_reply() -> None:
    request = Request("POST", "http://gw.test/v1/chat/completions", {}, gateway="gw",
                      secrets=(KEY,))  # fmt: skip
    body = chunk("key " + KEY[:6]) + chunk(KEY[6:] + " end") + chunk("", finish_reason="stop")
    reads, reading = drive(body, [len(chunk("key " + KEY[:6]))], request=request, lines=True)
    raw = b"".join(r.raw for r in reads)
    assert KEY.encode() not in raw and KEY[6:].encode() not in raw
    assert text(reads) == "key *** end"
    assert reading.reply is not None
    assert reading.reply["choices"][0]["message"]["content"] == "key *** end"
    assert KEY not in orjson.dumps([line for r in reads for line in r.lines]).decode()


def test_a_stream_answered_whole_is_recognised_by_its_first_byte() -> None:
    assert Reading.answered_whole(b'\xef\xbb\xbf \n{"id": 1}')
    assert not Reading.answered_whole(b"data: {}")
    assert not Reading.answered_whole(b": keep-alive\n\n{")


def test_a_whole_answer_carrying_an_error_raises() -> None:
    reading = Reading(REQUEST, CHAT)
    with pytest.raises(UnavailableError) as caught:
        reading.whole(b'{"error": {"message": "no capacity", "type": "server_error"}}')
    assert caught.value.message == "error from gw: no capacity [server_error]"


def test_messages_events_assemble_the_message() -> None:
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "m1", "type": "message", "role": "assistant", "content": [], "model": "c"}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    body = b"".join(
        b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
        for name, data in events
    )
    reads, reading = drive(body, [7, 50, 51], MESSAGES, lines=True)
    assert text(reads) == "Hi"
    assert [line["event"] for r in reads for line in r.lines] == [n for n, _ in events]
    assert reading.reply is not None
    assert reading.reply["content"] == [{"type": "text", "text": "Hi"}]
    assert reading.reply["stop_reason"] == "end_turn"
