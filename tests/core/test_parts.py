from __future__ import annotations

from typing import Any

import orjson
from scaling import assert_linear

from llmcli.protocol.chat.stream import ChatStream
from llmcli.protocol.messages.stream import MessageStream
from llmcli.protocol.parts import Parts, append, joined, merge


def test_append_collects_pieces_without_joining() -> None:
    target: dict[str, Any] = {}
    append(target, "text", "a")
    append(target, "text", "b")
    assert type(target["text"]) is Parts
    assert list(target["text"]) == ["a", "b"]
    assert joined(target) == {"text": "ab"}


def test_append_keeps_a_string_already_there_as_the_first_piece() -> None:
    target: dict[str, Any] = {"text": "start ", "other": 1}
    append(target, "text", "end")
    assert joined(target) == {"text": "start end", "other": 1}


def test_append_replaces_a_value_that_is_not_text() -> None:
    target: dict[str, Any] = {"a": None, "b": 5, "c": ["x"]}
    for key in target:
        append(target, key, "t")
    assert joined(target) == {"a": "t", "b": "t", "c": "t"}


def test_joined_copies_containers_and_leaves_the_assembly_as_it_was() -> None:
    inner: dict[str, Any] = {}
    append(inner, "arguments", '{"a"')
    append(inner, "arguments", ": 1}")
    value: dict[str, Any] = {"calls": [{"function": inner, "n": 1}], "s": "x", "none": None}
    out = joined(value)
    assert out == {
        "calls": [{"function": {"arguments": '{"a": 1}'}, "n": 1}],
        "s": "x",
        "none": None,
    }
    assert type(inner["arguments"]) is Parts
    out["calls"][0]["n"] = 2
    assert value["calls"][0]["n"] == 1
    append(inner, "arguments", " ")
    assert joined(value)["calls"][0]["function"]["arguments"] == '{"a": 1} '
    assert joined(Parts()) == ""


def test_both_assemblers_read_plain_strings_mid_stream_and_go_on() -> None:
    """What either assembler hands out is joined text, a copy: reading it mid-stream
    neither freezes the assembly nor changes when more arrives."""
    chat = ChatStream()
    chat.add({"choices": [{"index": 0, "delta": {"content": "a", "reasoning": "r"}}]})
    first = chat.result()["choices"][0]["message"]
    chat.add({"choices": [{"index": 0, "delta": {"content": "b", "reasoning": "s"}}]})
    second = chat.result()["choices"][0]["message"]
    assert (first["content"], first["reasoning"]) == ("a", "r")
    assert (second["content"], second["reasoning"]) == ("ab", "rs")
    assert orjson.dumps(second) == b'{"content":"ab","reasoning":"rs","role":"assistant"}'

    message = MessageStream()
    message.add("message_start", {"type": "message_start", "message": {"content": []}})
    message.add("content_block_delta", text_delta("a"))
    before = message.result()["content"]
    message.add("content_block_delta", text_delta("b"))
    assert before == [{"type": "text", "text": "a"}]
    assert orjson.dumps(message.result()["content"]) == b'[{"type":"text","text":"ab"}]'


def text_delta(text: str) -> dict[str, Any]:
    delta = {"type": "text_delta", "text": text}
    return {"type": "content_block_delta", "index": 0, "delta": delta}


def test_merge_joins_strings_adds_numbers_and_merges_objects_and_lists_by_index() -> None:
    message: dict = {}
    events = [
        {"audio": {"id": "audio_1", "expires_at": 17}},
        {"audio": {"data": "AAA", "transcript": "hel"}},
        {"audio": {"data": "BBB", "transcript": "lo"}},
        {"audio": None},
        {"annotations": [{"index": 0, "type": "url", "url": "https://a"}], "n": 1},
        {"annotations": [{"index": 0, "title": "A"}, {"index": 1, "type": "file"}], "n": 2},
        {"tags": ["a"], "kind": "x"},
        {"tags": ["b"], "kind": 3},
    ]
    snapshot = orjson.dumps(events)
    for event in events:
        for key, value in event.items():
            merge(message, key, value)
    assert joined(message) == {
        "audio": {"id": "audio_1", "expires_at": 17, "data": "AAABBB", "transcript": "hello"},
        "annotations": [
            {"index": 0, "type": "url", "url": "https://a", "title": "A"},
            {"index": 1, "type": "file"},
        ],
        "n": 3,
        "tags": ["a", "b"],
        "kind": "x",  # a value of another kind is ignored, as the SDK ignores it
    }
    assert orjson.dumps(events) == snapshot  # the parsed events themselves are untouched


def test_a_streamed_audio_delta_is_assembled_whole() -> None:
    stream = ChatStream()
    stream.add({"id": "c", "object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"role": "assistant", "audio": {"id": "au_1"}}, "finish_reason": None}
    ]})  # fmt: skip
    for piece in ("UklG", "Rg=="):
        stream.add({"id": "c", "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"audio": {"data": piece, "transcript": piece.lower()}}}
        ]})  # fmt: skip
    stream.add({"id": "c", "object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"role": "assistant"}, "finish_reason": "stop"}
    ]})  # fmt: skip
    message = stream.result()["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert message["audio"] == {"id": "au_1", "data": "UklGRg==", "transcript": "uklgrg=="}


def test_merging_list_entries_by_index_takes_linear_time() -> None:
    def work_for(n: int):  # type: ignore[no-untyped-def]
        deltas = [{"x": [{"index": i, "v": "a"}]} for i in range(n)]

        def work() -> None:
            message: dict = {}
            for delta in deltas:
                merge(message, "x", delta["x"])

        return work

    assert_linear(work_for, 2000)
