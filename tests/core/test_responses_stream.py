"""The Responses dialect, pure: stream assembly fed event sequences as real servers send
them (with and without ``event:`` lines, ``sequence_number``, a trailing ``[DONE]``, an
empty final output), and request shapes."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcli.errors import DataError, ProtocolError, TemporaryError, UnavailableError
from llmcli.exchange import Read, Reading
from llmcli.http.request import Request
from llmcli.protocol.responses import RESPONSES, shapes
from llmcli.protocol.responses.stream import ResponseStream

REQUEST = Request("POST", "http://gw.test/v1/responses", {}, gateway="gw")

REASONING = {"type": "reasoning", "id": "rs_1", "summary": [
    {"type": "summary_text", "text": "Thinking hard."}], "encrypted_content": "gAAA=="}  # fmt: skip
TEXT = {"type": "output_text", "text": "Hello, pipes", "annotations": []}
MESSAGE = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
           "content": [TEXT]}  # fmt: skip
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "add",
        "arguments": '{"a": 1, "b": 2}', "status": "completed"}  # fmt: skip
RESPONSE = {"id": "resp_1", "object": "response", "status": "completed", "model": "m",
            "output": [REASONING, MESSAGE, CALL], "error": None, "incomplete_details": None,
            "usage": {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14}}  # fmt: skip


def events(response: dict[str, Any] = RESPONSE, final_output: Any = "same") -> list[dict[str, Any]]:
    """The events OpenAI sends for ``response``, in order."""
    start = {**response, "status": "in_progress", "output": [], "usage": None}
    out: list[dict[str, Any]] = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
    ]
    for i, item in enumerate(response["output"]):
        ids = {"item_id": item["id"], "output_index": i}
        if item["type"] == "reasoning":
            out.append({"type": "response.output_item.added", "output_index": i,
                        "item": {**item, "summary": []}})  # fmt: skip
            text = item["summary"][0]["text"]
            empty = {"type": "summary_text", "text": ""}
            out.append({"type": "response.reasoning_summary_part.added", **ids,
                        "summary_index": 0, "part": empty})  # fmt: skip
            for piece in (text[:5], text[5:]):
                out.append({"type": "response.reasoning_summary_text.delta", **ids,
                            "summary_index": 0, "delta": piece})  # fmt: skip
            out.append({"type": "response.reasoning_summary_text.done", **ids,
                        "summary_index": 0, "text": text})  # fmt: skip
            out.append({"type": "response.reasoning_summary_part.done", **ids,
                        "summary_index": 0, "part": item["summary"][0]})  # fmt: skip
        elif item["type"] == "message":
            out.append({"type": "response.output_item.added", "output_index": i,
                        "item": {**item, "status": "in_progress", "content": []}})  # fmt: skip
            text = item["content"][0]["text"]
            part = {"type": "output_text", "text": "", "annotations": []}
            out.append({"type": "response.content_part.added", **ids, "content_index": 0,
                        "part": part})  # fmt: skip
            for piece in (text[:3], text[3:7], text[7:]):
                out.append({"type": "response.output_text.delta", **ids, "content_index": 0,
                            "delta": piece, "logprobs": []})  # fmt: skip
            out.append({"type": "response.output_text.done", **ids, "content_index": 0,
                        "text": text})  # fmt: skip
            out.append({"type": "response.content_part.done", **ids, "content_index": 0,
                        "part": item["content"][0]})  # fmt: skip
        else:
            out.append({"type": "response.output_item.added", "output_index": i,
                        "item": {**item, "arguments": "", "status": "in_progress"}})  # fmt: skip
            args = item["arguments"]
            for piece in (args[:4], args[4:]):
                out.append({"type": "response.function_call_arguments.delta", **ids,
                            "delta": piece})  # fmt: skip
            out.append({"type": "response.function_call_arguments.done", **ids,
                        "arguments": args})  # fmt: skip
        out.append({"type": "response.output_item.done", "output_index": i, "item": item})
    final = copy.deepcopy(response)
    if final_output != "same":
        final["output"] = final_output
    out.append({"type": "response.completed", "response": final})
    for n, event in enumerate(out):
        event["sequence_number"] = n
    return out


def sse(evts: list[dict[str, Any]], named: bool = True, done: bool = False) -> bytes:
    body = b"".join(
        (b"event: " + e["type"].encode() + b"\n" if named else b"")
        + b"data: "
        + orjson.dumps(e)
        + b"\n\n"
        for e in evts
    )
    return body + (b"data: [DONE]\n\n" if done else b"")


def drive(body: bytes, cuts: list[int], **kw: Any) -> tuple[list[Read], Reading]:
    reading = Reading(REQUEST, RESPONSES, **kw)
    reads: list[Read] = []
    for start, end in itertools.pairwise([0, *sorted(set(cuts)), len(body)]):
        reads.extend(reading.feed(body[start:end]))
    reads.extend(reading.finish())
    return reads, reading


def texts(reads: list[Read]) -> tuple[str, str]:
    pieces = [p for r in reads for p in r.pieces]
    return (
        "".join(p.text for p in pieces if p.kind == "content"),
        "".join(p.text for p in pieces if p.kind == "reasoning"),
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=4000), max_size=6),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_any_cut_gives_the_same_bytes_text_lines_and_response(
    cuts: list[int], named: bool, done: bool, numbered: bool
) -> None:
    """With or without ``event:`` lines, ``sequence_number`` and a trailing [DONE]."""
    sent = events()
    if not numbered:
        sent = [{k: v for k, v in e.items() if k != "sequence_number"} for e in sent]
    body = sse(sent, named=named, done=done)
    reads, reading = drive(body, [c for c in cuts if c <= len(body)], lines=True)
    assert b"".join(r.raw for r in reads) == body
    assert texts(reads) == ("Hello, pipes", "Thinking hard.")
    lines = [line for r in reads for line in r.lines]
    assert [line["event"] for line in lines] == [e["type"] for e in sent]
    assert [line["data"] for line in lines] == sent
    assert reading.reply == RESPONSE


def test_an_empty_final_output_is_rebuilt_from_the_stream() -> None:
    for empty in ([], None):
        _, reading = drive(sse(events(final_output=empty)), [])
        assert reading.reply is not None
        assert reading.reply["output"] == [REASONING, MESSAGE, CALL]
        assert reading.reply["usage"] == RESPONSE["usage"]


def test_output_rebuilt_from_deltas_alone_when_no_item_is_done() -> None:
    evts = [e for e in events(final_output=[]) if e["type"] != "response.output_item.done"]
    _, reading = drive(sse(evts), [])
    assert reading.reply is not None
    message = reading.reply["output"][1]
    assert message["content"][0]["text"] == "Hello, pipes"
    assert reading.reply["output"][2]["arguments"] == '{"a": 1, "b": 2}'


def test_a_final_text_that_differs_from_the_deltas_is_a_protocol_error() -> None:
    wrong = copy.deepcopy(RESPONSE)
    wrong["output"][1]["content"][0]["text"] = "Hello, pipes!"
    evts = events()
    evts[-1]["response"] = wrong
    with pytest.raises(ProtocolError) as caught:
        drive(sse(evts), [])
    assert caught.value.message == (
        "stream from gw: the content 0 of output item 1 differs from what its deltas made "
        "(12 characters streamed, 13 in the final text)"
    )


def test_a_lost_delta_is_caught_by_its_done_event() -> None:
    evts = [e for e in events() if e.get("delta") != "lo, "]
    with pytest.raises(ProtocolError, match="differs from what its deltas made"):
        drive(sse(evts), [])


def test_text_sent_only_whole_is_still_handed_out_once() -> None:
    """A server that sends no deltas: the text comes from the done events and items."""
    evts = [e for e in events() if not e["type"].endswith(".delta")]
    reads, reading = drive(sse(evts), [])
    assert texts(reads) == ("Hello, pipes", "Thinking hard.")
    assert reading.reply == RESPONSE
    only_final = [events()[0], events()[-1]]  # created, then completed with the output
    reads, reading = drive(sse(only_final), [])
    assert texts(reads) == ("Hello, pipes", "Thinking hard.")


def test_a_stream_without_its_terminal_event_is_cut_even_after_done() -> None:
    body = sse(events()[:-1], done=True)
    reading = Reading(REQUEST, RESPONSES)
    reads = list(reading.feed(body))
    assert texts(reads) == ("Hello, pipes", "Thinking hard.")
    with pytest.raises(ProtocolError) as caught:
        list(reading.finish())
    assert caught.value.message == (
        "stream from gw ended before it finished (no response.completed or "
        "response.incomplete) (POST http://gw.test/v1/responses)"
    )
    partial = reading.partial()
    assert partial is not None and partial["output"] == [REASONING, MESSAGE, CALL]


def test_incomplete_is_a_finish() -> None:
    cut = {**RESPONSE, "status": "incomplete",
           "incomplete_details": {"reason": "max_output_tokens"}}  # fmt: skip
    evts = events(cut)
    evts[-1]["type"] = "response.incomplete"
    _, reading = drive(sse(evts), [])
    assert reading.reply is not None
    assert shapes.incomplete_reason(reading.reply) == "max_output_tokens"


@pytest.mark.parametrize(
    ("event", "kind", "message"),
    [
        ({"type": "error", "code": "server_error", "message": "boom", "param": None,
          "sequence_number": 3}, UnavailableError, "error from gw: boom [server_error]"),
        ({"type": "error", "error": {"type": "rate_limit_exceeded", "code": "rate_limit_exceeded",
          "message": "slow down"}}, TemporaryError,
         "error from gw: slow down [rate_limit_exceeded]"),
        ({"type": "response.failed", "response": {**RESPONSE, "status": "failed", "output": [],
          "error": {"code": "invalid_prompt", "message": "no"}}}, DataError,
         "error from gw: no [invalid_prompt]"),
        ({"type": "response.failed", "response": {**RESPONSE, "status": "failed", "output": [],
          "error": None}}, UnavailableError, "error from gw: the response failed [failed]"),
    ],
)  # fmt: skip
def test_errors_inside_the_stream(event: dict[str, Any], kind: type, message: str) -> None:
    stream = ResponseStream(where="gw")
    stream.add("message", events()[0])
    with pytest.raises(kind) as caught:
        stream.add("message", event)
    assert caught.value.message == message  # type: ignore[attr-defined]


def test_unknown_events_and_items_pass_through() -> None:
    evts = events()
    search = {"type": "web_search_call", "id": "ws_1", "status": "completed"}
    extra = [
        {"type": "response.output_item.added", "output_index": 3, "item": search},
        {"type": "response.web_search_call.searching", "item_id": "ws_1", "output_index": 3},
        {"type": "response.output_item.done", "output_index": 3, "item": search},
        {"type": "response.something_new", "x": 1},
    ]
    final = copy.deepcopy(RESPONSE)
    final["output"].append(search)
    evts = [*evts[:-1], *extra, {"type": "response.completed", "response": final}]
    reads, reading = drive(sse(evts, named=False), [], lines=True)
    assert [line["data"] for r in reads for line in r.lines] == evts
    assert reading.reply == final
    assert shapes.tool_calls(final) == [CALL]


def test_whole_response_checks() -> None:
    assert shapes.check_response(RESPONSE, "gw") is RESPONSE
    with pytest.raises(DataError) as caught:
        shapes.check_response({"error": {"message": "bad", "type": "invalid_request_error",
                                         "code": None}}, "gw")  # fmt: skip
    assert caught.value.message == "error from gw: bad [invalid_request_error]"
    with pytest.raises(UnavailableError):
        failed = {**RESPONSE, "status": "failed", "error": {"code": "server_error", "message": "x"}}
        shapes.check_response(failed, "gw")
    with pytest.raises(ProtocolError) as bad:
        shapes.check_response({"object": "response", "status": "completed"}, "gw")
    assert bad.value.message == 'gw: response has no "output" list'
    assert shapes.output_text(RESPONSE) == "Hello, pipes"
    assert [p.kind for p in shapes.iter_pieces(RESPONSE)] == ["reasoning", "content"]


# request shapes ---------------------------------------------------------------------


def test_chat_history_becomes_input_items() -> None:
    history = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image_url", "image_url": {"url": "http://i/x.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "assistant", "content": [{"type": "text", "text": "It is 42."}]},
        {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "e"},
    ]  # fmt: skip
    assert shapes.from_chat(history) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "input_text", "text": "look"},
                                     {"type": "input_image", "image_url": "http://i/x.png"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "It is 42."}]},
        {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "e"},
    ]  # fmt: skip


def test_tools_take_the_flat_shape() -> None:
    nested = {"type": "function", "function": {"name": "add", "description": "Add.",
              "parameters": {"type": "object"}, "strict": True}}  # fmt: skip
    anthropic = {"name": "add", "description": "Add.", "input_schema": {"type": "object"}}
    flat = {"type": "function", "name": "add", "description": "Add.",
            "parameters": {"type": "object"}}  # fmt: skip
    assert shapes.tool(nested) == {**flat, "strict": True}
    assert shapes.tool(anthropic) == flat
    assert shapes.tool(flat) == flat
    assert shapes.tool({"type": "web_search"}) == {"type": "web_search"}
    assert shapes.tool_choice("add") == {"type": "function", "name": "add"}
    assert shapes.tool_choice("required") == "required"


def test_options_and_schema_format() -> None:
    body: dict[str, Any] = {"include": ["a"], "text": {"verbosity": "low"}}
    shapes.apply_options(body, {
        "max_output_tokens": 50, "reasoning_effort": "low", "reasoning_summary": "auto",
        "store": False, "include": ["reasoning.encrypted_content", "a"],
        "format": shapes.schema_format({"type": "object"}, "dir/my schema.json"),
        "previous_response_id": None, "tools": [],
    })  # fmt: skip
    assert body == {
        "include": ["a", "reasoning.encrypted_content"],
        "text": {"verbosity": "low", "format": {"type": "json_schema", "name": "my_schema",
                 "schema": {"type": "object"}, "strict": True}},
        "max_output_tokens": 50,
        "reasoning": {"effort": "low", "summary": "auto"},
        "store": False,
    }  # fmt: skip
    assert shapes.schema_of(body) == {"type": "object"}


def test_a_conversation_file_keeps_response_ids_apart() -> None:
    items = [
        {"role": "user", "content": "hi"},
        MESSAGE,
        {"type": shapes.RESPONSE_ID, "id": "resp_1"},
        {"role": "user", "content": "more"},
    ]
    assert shapes.for_sending(items) == [items[0], MESSAGE, items[3]]
    assert shapes.for_sending([{**MESSAGE, "phase": None}]) == [MESSAGE]
    assert shapes.last_response(items) == {"type": shapes.RESPONSE_ID, "id": "resp_1"}
    assert shapes.after_last_response(items) == [items[3]]
    assert shapes.last_response(items[:2]) is None
    reasoning = [{"type": "reasoning", "id": "rs_1"}, {"type": "reasoning", "id": "rs_2",
                 "encrypted_content": "e"}, MESSAGE]  # fmt: skip
    assert shapes.without_unkept_reasoning(reasoning) == reasoning[1:]


# streams recorded from a real third-party server --------------------------------------

DATA = Path(__file__).parents[1] / "data" / "responses"


@pytest.mark.parametrize(
    ("name", "content", "reasoning"),
    [
        ("litellm-1.108.7-think-bridge.sse", "why is the sky blue",
         "The user wrote 5 words. I will repeat them back."),
        ("litellm-1.108.7-think-native.sse", "why is the sky blue",
         "The user wrote 5 words. I will repeat them back."),
        ("litellm-1.108.7-tools-bridge.sse", "", ""),
        ("litellm-1.108.7-cut-bridge.sse", None, ""),
    ],
)  # fmt: skip
def test_litellm_streams_assemble_with_each_text_once(
    name: str, content: str | None, reasoning: str
) -> None:
    """LiteLLM's proxy (its chat-completions bridge, and its pass-through): no ``event:``
    lines, a top-level ``model`` on every event, a trailing [DONE]; on the bridge, summary
    deltas without ``summary_index``, function-call deltas interleaved, and the final
    reasoning item shaped as a message (content, not summary): its text is not shown
    twice."""
    body = (DATA / name).read_bytes()
    for cuts in ([], list(range(0, len(body), 97))):
        reads, reading = drive(body, cuts, lines=True)
        assert b"".join(r.raw for r in reads) == body
        shown, thought = texts(reads)
        assert reading.reply is not None
        if content is not None:
            assert shown == content
        assert thought == reasoning
        assert shown == shapes.output_text(reading.reply)
    if "tools" in name:
        calls = shapes.tool_calls(reading.reply)
        assert [c["name"] for c in calls] == ["get_weather", "get_time"]
        assert [orjson.loads(c["arguments"]) for c in calls] == [
            {"location": "what is the weather in Paris"}, {"timezone": "UTC"}]  # fmt: skip
    if "cut" in name:
        assert shapes.incomplete_reason(reading.reply) == "max_output_tokens"


def test_a_litellm_failed_stream_reports_the_error_after_its_text() -> None:
    body = (DATA / "litellm-1.108.7-failed-native.sse").read_bytes()
    reading = Reading(REQUEST, RESPONSES, lines=True)
    reads: list[Read] = []
    with pytest.raises(UnavailableError) as caught:
        for read in reading.feed(body):
            reads.append(read)
    assert caught.value.message == (
        "error from gw: The server had an error while processing your request. [server_error]"
    )
    assert reads[-1].lines[-1]["event"] == "response.failed"  # it goes out too
    assert b"".join(r.raw for r in reads) == body[: body.index(b"data: [DONE]")]


# what a fresh-eyes review found -------------------------------------------------------

KEY = "alphakey-0123456789abcdef"


def test_a_key_split_over_deltas_is_no_mismatch_and_never_shown() -> None:
    """The session scrubs the bytes: a key sent whole in a done event or the final object
    arrives as ***, the same key in two deltas arrives whole in the text they make."""
    request = Request("POST", "http://gw.test/v1/responses", {}, gateway="gw", secrets=(KEY,))
    said = f"say {KEY} now"
    response = copy.deepcopy(RESPONSE)
    response["output"] = [copy.deepcopy(MESSAGE)]
    response["output"][0]["content"][0]["text"] = said
    evts = events(response)
    for event in evts:  # as the session hands them over: scrubbed where whole
        for holder in (event, event.get("part") or {}, *(
                (event.get("item") or {}).get("content") or [])):  # fmt: skip
            if isinstance(holder, dict) and holder.get("text") == said:
                holder["text"] = "say *** now"
    evts[-1]["response"]["output"][0]["content"][0]["text"] = "say *** now"
    body = sse(evts)
    for keep in (True, False):
        reading = Reading(request, RESPONSES, keep_text=keep, lines=True)
        reads = [*reading.feed(body), *reading.finish()]
        assert texts(reads)[0] == "say *** now"
        assert KEY not in orjson.dumps(reading.reply).decode()
    cut = Reading(request, RESPONSES)
    list(cut.feed(sse(evts[:-3])))
    assert KEY not in orjson.dumps(cut.partial()).decode()


def test_text_not_kept_is_checked_by_its_length_and_hash() -> None:
    long = {**RESPONSE, "output": [copy.deepcopy(MESSAGE)]}
    long["output"][0]["content"][0]["text"] = "x" * 5000
    evts = events(long)
    reading = Reading(REQUEST, RESPONSES, keep_text=False)
    reads = [*reading.feed(sse(evts)), *reading.finish()]
    assert texts(reads)[0] == "x" * 5000
    assert reading.reply is not None and reading.reply["output"] == long["output"]
    wrong = events(long)
    wrong[-1]["response"]["output"][0]["content"][0]["text"] = "y" * 5000
    with pytest.raises(ProtocolError, match="differs from what its deltas made"):
        drive(sse(wrong), [], keep_text=False)


def test_memory_stays_flat_when_the_text_is_not_kept() -> None:
    """10 MB of deltas for -o text: the assembly holds their hash, not their text."""
    import tracemalloc

    start = {"type": "response.created", "response": {"id": "r", "status": "in_progress"}}
    delta = sse([{"type": "response.output_text.delta", "output_index": 0,
                  "content_index": 0, "delta": "x" * 1000}])  # fmt: skip
    end = {"type": "response.completed", "response": {"id": "r", "status": "completed"}}
    for keep, most in ((False, 2 << 20), (True, 1 << 40)):
        reading = Reading(REQUEST, RESPONSES, keep_text=keep)
        tracemalloc.start()
        try:
            list(reading.feed(sse([start])))
            for _ in range(10_000):
                list(reading.feed(delta))  # each read let go, as a writer does
            list(reading.feed(sse([end])))
            list(reading.finish())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < most, (keep, peak)
        if keep:
            assert peak > 10_000_000  # kept: the whole text


def test_deltas_with_only_an_item_id_make_their_own_item() -> None:
    start = {
        "type": "response.created",
        "response": {"id": "r", "object": "response", "status": "in_progress", "output": []},
    }
    evts = [
        start,
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs", "delta": "why"},
        {"type": "response.output_text.delta", "item_id": "m", "delta": "Hello "},
        {"type": "response.output_text.delta", "item_id": "m", "delta": "world"},
        {"type": "response.completed", "response": {"id": "r", "object": "response",
                                                    "status": "completed", "output": []}},
    ]  # fmt: skip
    reads, reading = drive(sse(evts, named=False), [])
    assert texts(reads) == ("Hello world", "why")
    assert reading.reply is not None
    assert [i["id"] for i in reading.reply["output"]] == ["rs", "m"]
    assert reading.reply["output"][1]["content"][0]["text"] == "Hello world"


def test_a_summary_sent_only_whole_follows_streamed_reasoning_text_once() -> None:
    item = {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "SUM"}],
            "content": [{"type": "reasoning_text", "text": "RAWTHOUGHT"}]}  # fmt: skip
    evts = [
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "reasoning", "id": "rs", "summary": []}},
        {"type": "response.reasoning_text.delta", "output_index": 0, "content_index": 0,
         "delta": "RAWTHOUGHT"},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": {"id": "r", "status": "completed",
                                                    "output": [item]}},
    ]  # fmt: skip
    reads, _ = drive(sse(evts), [])
    assert [p.text for r in reads for p in r.pieces] == ["RAWTHOUGHT", "SUM"]


def test_a_final_output_without_ids_in_other_places_repeats_nothing() -> None:
    thought = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]}
    said = {"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello"}]}  # fmt: skip
    evts = [
        {"type": "response.output_item.added", "output_index": 0, "item": thought},
        {"type": "response.output_item.added", "output_index": 1,
         "item": {**said, "content": []}},
        {"type": "response.output_text.delta", "output_index": 1, "content_index": 0,
         "delta": "Hello"},
        {"type": "response.completed", "response": {"status": "completed", "output": [said]}},
    ]  # fmt: skip
    reads, reading = drive(sse(evts), [])
    assert texts(reads) == ("Hello", "hm")
    assert reading.reply is not None and reading.reply["output"] == [said]


def test_an_error_answered_as_an_event_stream_is_named_by_its_error_event() -> None:
    from llmcli.http.status import error_text

    body = (
        b'event: response.created\ndata: {"type": "response.created", "response": {}}\n\n'
        b'event: error\ndata: {"type": "error", "code": "server_error", "message": "boom"}\n\n'
    )
    assert error_text(body, "text/event-stream") == "boom [server_error]"
    failed = (
        b'data: {"type": "response.failed", "response": {"status": "failed", '
        b'"error": {"code": "rate_limit_exceeded", "message": "slow"}}}\n\n'
    )
    assert error_text(failed, "text/event-stream") == "slow [rate_limit_exceeded]"
