"""The cassette format (llmcli.mock.cassette): a line of an exchange, parsing it back,
what a request is matched by, and the message of a request with no recording."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcli.mock.cassette import (
    CassetteError,
    Recording,
    encode,
    make_line,
    match_key,
    miss_message,
    nearest,
    parse,
    path_of,
)

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
SENT = [
    ("User-Agent", "llmcli/1"),
    ("Content-Type", "application/json"),
    ("Accept", "text/event-stream"),
    ("Host", "h"),
    ("Content-Length", "9"),
    ("Accept-Encoding", "gzip"),
    ("Connection", "keep-alive"),
    ("X-Mock-Fault", "cut=1"),
]
ANSWER_HEADERS = [
    ("Content-Type", "text/event-stream"),
    ("x-request-id", "req_1"),
    ("request-id", "req_1"),
    ("Retry-After", "1"),
    ("retry-after-ms", "500"),
    ("x-ratelimit-remaining-requests", "9"),
    ("anthropic-ratelimit-tokens-limit", "100"),
    ("Location", "/v1/x"),
    ("Date", "today"),
    ("Server", "mock"),
    ("Content-Encoding", "gzip"),
    ("Cache-Control", "no-cache"),
]


def line_of(body: bytes | None = orjson.dumps(CHAT), answer: bytes = b"data: a\n\n") -> dict:
    return make_line(
        "post",
        "https://u:pw@h.test:8443/v1/chat/completions?x=1#frag",
        SENT,
        body,
        200,
        ANSWER_HEADERS,
        answer,
    )


def test_a_line_keeps_what_a_replay_needs_and_nothing_else() -> None:
    assert line_of() == {
        "request": {
            "method": "POST",
            "path": "/v1/chat/completions?x=1",
            "headers": {
                "content-type": "application/json",
                "accept": "text/event-stream",
                "x-mock-fault": "cut=1",
            },
            "body": CHAT,
        },
        "response": {
            "status": 200,
            "headers": {
                "content-type": "text/event-stream",
                "x-request-id": "req_1",
                "request-id": "req_1",
                "retry-after": "1",
                "retry-after-ms": "500",
                "x-ratelimit-remaining-requests": "9",
                "anthropic-ratelimit-tokens-limit": "100",
                "location": "/v1/x",
            },
            "body": "data: a\n\n",
        },
    }


@pytest.mark.parametrize(
    "body,field",
    [
        (None, {"body": None}),
        (b"", {"body": None}),
        (b"plain text", {"body": "plain text"}),
        (b'"a json string"', {"body": '"a json string"'}),
        (b"12", {"body": "12"}),
        (b"[1, 2]", {"body": [1, 2]}),
        (b"\xff\x00", {"body_base64": "/wA="}),
    ],
)
def test_a_request_body_is_json_text_or_base64(body: bytes | None, field: dict) -> None:
    request = line_of(body)["request"]
    assert {k: v for k, v in request.items() if k.startswith("body")} == field


def test_an_answer_body_is_text_byte_for_byte_or_base64() -> None:
    sse = b'data: {"a": 1}\r\n\r\n: comment\n\n'
    assert line_of(answer=sse)["response"]["body"] == sse.decode()
    assert line_of(answer=b"\x1f\x8b")["response"] == {
        "status": 200,
        "headers": line_of()["response"]["headers"],
        "body_base64": "H4s=",
    }


def test_a_cut_answer_is_marked() -> None:
    line = make_line("GET", "http://h/v1/models", [], None, 200, [], b"{", cut=True)
    assert line["response"] == {"status": 200, "headers": {}, "body": "{", "cut": True}
    assert parse([encode(line)], "c")[0].cut is True


def test_encode_is_one_compact_line() -> None:
    text = encode(line_of(answer=b"a\nb"))
    assert text.endswith("}\n") and text.count("\n") == 1 and ": " not in text[:20]


@pytest.mark.parametrize(
    "url,path",
    [
        ("https://user:secret@h.test/api.php", "/api.php"),
        ("http://h.test", "/"),
        ("http://h.test/v1/models?after_id=m2&limit=3", "/v1/models?after_id=m2&limit=3"),
    ],
)
def test_path_of_drops_scheme_host_and_userinfo(url: str, path: str) -> None:
    assert path_of(url) == path


def test_a_parsed_line_matches_the_same_request_live() -> None:
    recorded = parse([encode(line_of())], "c")[0]
    reordered = orjson.dumps({"messages": CHAT["messages"], "model": "echo"})
    assert recorded.key == match_key("POST", "/v1/chat/completions?x=1", {}, reordered)
    assert recorded.key != match_key("POST", "/v1/chat/completions", {}, reordered)
    assert recorded.key != match_key("GET", "/v1/chat/completions?x=1", {}, reordered)
    assert recorded.answer == b"data: a\n\n"
    assert recorded.status == 200
    assert ("retry-after", "1") in recorded.headers


@given(st.binary(max_size=64))
def test_any_body_matches_itself_after_a_round_trip(body: bytes) -> None:
    line = make_line("POST", "http://h/p", [], body, 200, [], b"")
    assert parse([encode(line)], "c")[0].key == match_key("POST", "/p", {}, body)


def test_a_multipart_boundary_is_set_aside() -> None:
    def upload(boundary: str) -> tuple[dict[str, str], bytes]:
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return headers, f"--{boundary}\r\nrows\r\n--{boundary}--\r\n".encode()

    headers, body = upload("llmcli-aaaa")
    line = make_line("POST", "http://h/v1/files", headers.items(), body, 200, [], b"{}")
    recorded = parse([encode(line)], "c")[0]
    assert recorded.key == match_key("POST", "/v1/files", *upload("llmcli-bbbb"))
    other = upload("llmcli-bbbb")[1].replace(b"rows", b"other")
    assert recorded.key != match_key("POST", "/v1/files", upload("llmcli-bbbb")[0], other)


@pytest.mark.parametrize(
    "text,message",
    [
        ("{not json", "c.jsonl:2: not a cassette line: unexpected character"),
        ("[]", 'c.jsonl:2: not a cassette line: expected {"request": {...}, "response": {...}}'),
        ('{"request": {}}', 'c.jsonl:2: not a cassette line: expected {"request": {...}, '),
        (
            '{"request": {"method": "GET", "path": "/"}, "response": {"status": 200, '
            '"headers": {"a": 1}}}',
            "c.jsonl:2: not a cassette line: headers must be objects of strings",
        ),
        (
            '{"request": {"method": "GET", "path": "/"}, "response": {"status": 200, '
            '"body_base64": "!"}}',
            "c.jsonl:2: not a cassette line: body_base64 is not base64",
        ),
        (
            '{"request": {"method": "GET", "path": "v1"}, "response": {"status": 200}}',
            "c.jsonl:2: not a cassette line: request needs a path starting with /, without spaces "
            "or controls",
        ),
        (
            '{"request": {"method": "GET", "path": "/"}, "response": {"status": 700}}',
            "c.jsonl:2: not a cassette line: response needs a status from 200 to 599",
        ),
        (
            '{"request": {"method": "GET", "path": "/"}, "response": {"status": 200, "body": 1}}',
            "c.jsonl:2: not a cassette line: body must be a string",
        ),
    ],
)
def test_a_bad_line_is_named(text: str, message: str) -> None:
    good = encode(line_of())
    with pytest.raises(CassetteError) as caught:
        parse([good, text + "\n"], "c.jsonl")
    assert str(caught.value).startswith(message)


def test_blank_lines_are_skipped() -> None:
    assert len(parse(["\n", encode(line_of()), "  \n"], "c")) == 1


def recording(method: str, path: str, body: str) -> Recording:
    return Recording(method, path, body, 200, (), b"")


BODIES = [
    recording("POST", "/v1/chat/completions", '{"messages":[{"content":"hello"}],"model":"echo"}'),
    recording("POST", "/v1/chat/completions", '{"messages":[{"content":"hi"}],"model":"lorem"}'),
    recording("GET", "/v1/models", ""),
    recording("POST", "/v1/embeddings", '{"input":["a"]}'),
]


def test_the_nearest_is_the_closest_body_of_the_same_request_line() -> None:
    key = ("POST", "/v1/chat/completions", '{"messages":[{"content":"hi"}],"model":"echo"}')
    assert nearest(BODIES, key) is BODIES[0]
    assert nearest(BODIES, ("GET", "/v1/modelz", "")) is BODIES[2]
    assert nearest(BODIES, ("POST", "/v1/embedding", "")) is BODIES[3]
    assert nearest([], key) is None


def test_the_message_of_a_miss_names_the_request_and_the_nearest() -> None:
    key = ("POST", "/v1/chat/completions", '{"messages":[{"content":"bye"}],"model":"echo"}')
    assert miss_message(key, BODIES[0], "c.jsonl") == (
        "no recording of POST /v1/chat/completions with this body in cassette c.jsonl; the "
        "nearest recorded body differs at character 26: sent "
        '…"messages":[{"content":"bye"}],"model":"echo"}, recorded '
        '…"messages":[{"content":"hello"}],"model":"echo"}'
    )
    long = ("POST", "/p", "x" * 100 + "a" + "y" * 100)
    assert miss_message(long, recording("POST", "/p", "x" * 100 + "b"), "c").endswith(
        "differs at character 101: sent …"
        + "x" * 24
        + "a"
        + "y" * 23
        + "…, recorded …"
        + "x" * 24
        + "b"
    )
    assert miss_message(("GET", "/v1/modelz", ""), BODIES[2], "c.jsonl") == (
        "no recording of GET /v1/modelz in cassette c.jsonl; nearest recorded request: "
        "GET /v1/models"
    )
    assert miss_message(("GET", "/v1/models", ""), None, "c.jsonl") == (
        "no recording of GET /v1/models in cassette c.jsonl: it has none"
    )
    short = ("POST", "/v1/embeddings", "")
    assert miss_message(short, BODIES[3], "c").endswith(
        'differs at character 1: sent (no body), recorded {"input":["a"]}'
    )


def test_a_recorder_masks_secrets_before_a_body_goes_to_base64(tmp_path: Path) -> None:
    import base64 as b64

    from llmcli.http.recording import Recorder
    from llmcli.http.request import Request

    path = tmp_path / "c.jsonl"
    request = Request(
        "POST",
        "http://h/v1/chat?token=sk-in-query",
        {},
        b"\xfe sk-secret-1 ab",
        secrets=("sk-secret-1", "ab"),
    )
    Recorder(path).write(request, 200, [("content-type", "text/plain")], b"\xff sk-secret-1 ab")
    line = orjson.loads(path.read_bytes())
    sent = b64.b64decode(line["request"]["body_base64"])
    got = b64.b64decode(line["response"]["body_base64"])
    assert (sent, got) == (b"\xfe *** ***", b"\xff *** ***")
    assert line["request"]["path"] == "/v1/chat?token=***"


def test_a_recording_keeps_at_most_max_body_and_then_says_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcli.http import recording
    from llmcli.http.request import Request

    monkeypatch.setattr(recording, "MAX_BODY", 10)
    path = tmp_path / "c.jsonl"
    tee = recording.Tee(recording.Recorder(path), Request("GET", "http://h/v1/x", {}), 200, [])
    assert list(tee.chunks(iter([b"abcdef", b"ghijkl", b"mn"]))) == [b"abcdef", b"ghijkl", b"mn"]
    tee.close()
    response = orjson.loads(path.read_bytes())["response"]
    assert (response["body"], response["cut"]) == ("abcdefghij", True)


def test_a_cassette_line_without_end_is_refused_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcli.mock import replay

    monkeypatch.setattr(replay, "MAX_LINE", 50)
    path = tmp_path / "c.jsonl"
    path.write_text("x" * 200)
    with pytest.raises(CassetteError) as caught:
        replay.Replay.load(path)
    assert str(caught.value) == f"{path}:1: not a cassette line: longer than 1 GiB"
