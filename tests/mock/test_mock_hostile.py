"""The offline gateway's hostile replies (llmcli.mock.hostile, the stream faults of
llmcli.mock.writer), checked byte for byte over raw sockets and http.client on
loopback, with small sizes."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import tracemalloc
import urllib.parse
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from llmcli import mock
from llmcli.mock import RunningGateway, hostile
from llmcli.mock.faults import FaultError, parse

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
CHAT_DELTA = '{"choices":[{"index":0,"delta":{"content":"'
CHAT_MESSAGE = '{"choices":[{"index":0,"message":{"role":"assistant","content":"'
SECRETS = [
    ("Authorization", "Bearer sk-secret123"),
    ("x-api-key", "sk-ant-secret"),
    ("Cookie", "session=s3cr3t"),
    ("X-Custom-Key", "k-1"),
    ("X-Auth-Token", "t-2"),
]


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    with mock.start() as running:
        yield running


def body(stream: bool = False, path: str = CHAT) -> bytes:
    data: dict[str, Any] = {"model": "echo", "messages": [{"role": "user", "content": "hi you"}]}
    if path == MESSAGES:
        data["max_tokens"] = 50
    return orjson.dumps({**data, "stream": stream})


def request(path: str, payload: bytes, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", *(f"{n}: {v}" for n, v in headers)]
    lines += [f"Content-Length: {len(payload)}", "Connection: close"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + payload


def exchange(
    gw: RunningGateway,
    spec: str,
    stream: bool = False,
    path: str = CHAT,
    headers: list[tuple[str, str]] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request over a raw socket: status, headers (lower-case names), decoded body."""
    sent = [("Host", "gw"), ("X-Mock-Fault", spec), *(headers or [])]
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(request(path, body(stream, path), sent))
        raw = b""
        while part := s.recv(1 << 20):
            raw += part
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *fields = head.decode().split("\r\n")
    found = {k.lower(): v for k, _, v in (f.partition(": ") for f in fields)}
    if found.get("transfer-encoding") == "chunked":
        rest = dechunk(rest)
    else:
        assert len(rest) == int(found["content-length"])
    return int(status_line.split()[1]), found, rest


def dechunk(raw: bytes) -> bytes:
    out = b""
    while True:
        size, _, raw = raw.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            assert raw == b"\r\n"
            return out
        out, raw = out + raw[:n], raw[n + 2 :]


def events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of each dispatched SSE event."""
    found: list[tuple[str | None, str]] = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n")[:-1]:
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data:"):
                data.append(line[6:] if line.startswith("data: ") else line[5:])
        found.append((name, "\n".join(data)))
    return found


def echoed(spec: str) -> str:
    sent = [("Host", "gw"), ("X-Mock-Fault", spec), *SECRETS]
    return "bad key; request headers: " + "; ".join(f"{n}: {v}" for n, v in sent)


# ---- echo_headers ---------------------------------------------------------------------


def test_echo_headers_json_repeats_every_header(gw: RunningGateway) -> None:
    status, headers, raw = exchange(gw, "echo_headers", headers=SECRETS)
    assert (status, headers["content-type"]) == (200, "application/json")
    message = echoed("echo_headers") + f"; Content-Length: {len(body())}; Connection: close"
    assert orjson.loads(raw) == {"error": {"message": message, "type": "invalid_request_error"}}


def test_echo_headers_chat_stream_sends_one_chunk_then_the_error(gw: RunningGateway) -> None:
    status, headers, raw = exchange(gw, "echo_headers", True, headers=SECRETS)
    assert (status, headers["content-type"]) == (200, "text/event-stream")
    (_, first), (_, error) = events(raw)
    assert orjson.loads(first)["choices"][0]["delta"] == {"role": "assistant", "content": "Hello"}
    message = orjson.loads(error)["error"]["message"]
    assert message.startswith(echoed("echo_headers")) and "sk-secret123" in message


def test_echo_headers_messages_stream_is_an_error_event(gw: RunningGateway) -> None:
    status, _, raw = exchange(gw, "echo_headers", True, MESSAGES, SECRETS)
    (start, _), (name, data) = events(raw)
    assert (status, start, name) == (200, "message_start", "error")
    error = orjson.loads(data)
    assert error["type"] == "error" and error["error"]["type"] == "authentication_error"
    assert error["error"]["message"].startswith(echoed("echo_headers"))


def test_echo_headers_with_a_status_is_a_json_error(gw: RunningGateway) -> None:
    status, headers, raw = exchange(gw, "echo_headers;status=401", True, headers=SECRETS)
    assert (status, headers["content-type"]) == (401, "application/json")
    assert orjson.loads(raw)["error"]["message"].startswith(echoed("echo_headers;status=401"))


# ---- big bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "stream,kind,prefix",
    [(True, "text/event-stream", "data: " + CHAT_DELTA), (False, "application/json", CHAT_MESSAGE)],
    ids=["stream", "json"],
)
def test_endless_is_one_line_of_n_bytes(
    gw: RunningGateway, stream: bool, kind: str, prefix: str
) -> None:
    status, headers, raw = exchange(gw, "endless=5k", stream)
    assert (status, headers["content-type"], "content-length" in headers) == (200, kind, False)
    assert raw == prefix.encode() + b"a" * (5120 - len(prefix))


def test_huge_line_chat_comes_first_then_the_normal_stream(gw: RunningGateway) -> None:
    plain = events(exchange(gw, "comment=0", True)[2])
    status, _, raw = exchange(gw, "huge_line=3000", True)
    line = b"data: " + CHAT_DELTA.encode() + b"a" * 3000 + b'"}}]}\n\n'
    assert status == 200 and raw.startswith(line)
    assert events(raw[len(line) :]) == plain and plain[-1] == (None, "[DONE]")


def test_huge_line_messages_is_a_text_delta_in_the_first_block(gw: RunningGateway) -> None:
    found = events(exchange(gw, "huge_line=2000", True, MESSAGES)[2])
    assert [n for n, _ in found[:4]] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "ping",
    ]
    assert orjson.loads(found[2][1])["delta"] == {"type": "text_delta", "text": "a" * 2000}
    assert found[-1][0] == "message_stop"


@pytest.mark.parametrize("crlf", [False, True])
def test_huge_event_is_many_short_data_lines(gw: RunningGateway, crlf: bool) -> None:
    nl = b"\r\n" if crlf else b"\n"
    raw = exchange(gw, f"huge_event=5000;crlf={int(crlf)}", True)[2]
    event, _, rest = raw.partition(nl + nl)
    lines = event.split(nl)
    assert lines[0] == b"data: " + CHAT_DELTA.encode() + b'x"}}]' and lines[-1] == b"data: }"
    assert [len(x) + len(nl) for x in lines[1:-1]] == [1024] * 5  # ceil(5000 / 1024)
    assert all(x.strip(b" ") == b"data:" for x in lines[1:-1])
    [(_, data)] = events(event + nl + nl)
    assert orjson.loads(data)["choices"][0]["delta"] == {"content": "x"}  # JSON whitespace
    assert events(rest)[-1] == (None, "[DONE]")


def test_huge_event_messages(gw: RunningGateway) -> None:
    found = events(exchange(gw, "huge_event=3000", True, MESSAGES)[2])
    assert found[2][0] == "content_block_delta" and found[2][1].count("\n") == 4
    assert orjson.loads(found[2][1])["delta"] == {"type": "text_delta", "text": "x"}


def test_huge_body_is_a_whole_completion(gw: RunningGateway) -> None:
    status, _, raw = exchange(gw, "huge_body=4k")
    reply = orjson.loads(raw)
    assert status == 200 and reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == "a" * 4096
    message = orjson.loads(exchange(gw, "huge_body=100", path=MESSAGES)[2])
    assert message["type"] == "message" and message["content"][0]["text"] == "a" * 100


def test_error_body_is_an_error_of_n_bytes(gw: RunningGateway) -> None:
    status, _, raw = exchange(gw, "error_body=10000")
    error = orjson.loads(raw)["error"]
    assert (status, error["message"], error["type"]) == (400, "a" * 10000, "invalid_request_error")
    status, _, raw = exchange(gw, "error_body=300;status=500", path=MESSAGES)
    assert status == 500 and orjson.loads(raw) == {
        "type": "error",
        "error": {"type": "api_error", "message": "a" * 300},
    }


@pytest.mark.parametrize(
    "stream,prefix", [(True, "data: " + CHAT_DELTA), (False, CHAT_MESSAGE)], ids=["stream", "json"]
)
def test_gzip_bomb_inflates_to_n_bytes(gw: RunningGateway, stream: bool, prefix: str) -> None:
    size = 3 * (1 << 20) + 7
    status, headers, raw = exchange(gw, f"gzip_bomb={size}", stream)
    assert (status, headers["content-encoding"]) == (200, "gzip")
    assert len(raw) < size // 500
    inflated = zlib.decompress(raw, 31)
    assert inflated == prefix.encode() + b" " * (size - len(prefix))
    assert hostile.gzip_bomb(size, stream) is hostile.gzip_bomb(size, stream)  # kept
    r = httpx.post(gw.base_url + "/chat/completions", headers={"X-Mock-Fault": "gzip_bomb=1M"})
    assert len(r.content) == 1 << 20  # one gzip member: what a client inflates


def test_big_bodies_keep_the_gateway_small(gw: RunningGateway) -> None:
    tracemalloc.start()
    try:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
            s.sendall(request(CHAT, body(), [("Host", "gw"), ("X-Mock-Fault", "huge_body=64M")]))
            total = 0
            while part := s.recv(1 << 16):
                total += len(part)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total > 64 << 20 and peak < 8 << 20


# ---- silence and stalls ---------------------------------------------------------------


def test_silent_never_answers_and_lets_go() -> None:
    with mock.start(faults="silent;hold=60") as gw:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=0.15) as s:
            s.sendall(request(CHAT, body(), [("Host", "gw")]))
            with pytest.raises(TimeoutError):
                s.recv(1)
        gw.set_faults("silent;hold=0.3")
        # the socket's timeout is the upper bound: 30 times the hold, not the default 120 s
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            started = time.monotonic()  # before the request: the hold cannot start earlier
            s.sendall(request(CHAT, body(), [("Host", "gw")]))
            assert s.recv(1) == b""  # closed after hold, without a byte
            assert time.monotonic() - started >= 0.3
        assert len(gw.requests) == 2


@pytest.mark.parametrize("stream", [False, True])
def test_hang_after_sends_n_bytes_then_stalls(gw: RunningGateway, stream: bool) -> None:
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
    started = time.monotonic()  # before the request: the stall cannot start earlier
    c.request("POST", CHAT, body(stream), {"X-Mock-Fault": "hang_after=100;hold=0.3"})
    r = c.getresponse()
    with pytest.raises(http.client.IncompleteRead) as info:
        r.read()
    assert len(info.value.partial) == 100 and time.monotonic() - started >= 0.3
    assert info.value.partial.startswith(b"data: {" if stream else b'{"id":"chatcmpl-')


# ---- stream shapes --------------------------------------------------------------------


def test_empty_data_puts_keepalives_between_events(gw: RunningGateway) -> None:
    plain = exchange(gw, "comment=0", True)[2]
    raw = exchange(gw, "empty_data", True)[2]
    assert raw == plain.replace(b"\n\ndata: {", b"\n\ndata:\n\ndata: \n\ndata: {").replace(
        b"\n\ndata: [DONE]", b"\n\ndata:\n\ndata: \n\ndata: [DONE]"
    )


def test_no_final_blank_leaves_the_terminator_undispatched(gw: RunningGateway) -> None:
    plain = exchange(gw, "comment=0", True)[2]
    assert exchange(gw, "no_final_blank", True)[2] == plain[:-1]
    assert plain.endswith(b"\n\ndata: [DONE]\n\n")
    raw = exchange(gw, "no_final_blank;crlf", True, MESSAGES)[2]
    assert raw.endswith(b'\r\n\r\nevent: message_stop\r\ndata: {"type":"message_stop"}\r\n')


def test_done_first_is_only_the_terminator(gw: RunningGateway) -> None:
    assert exchange(gw, "done_first", True)[2] == b"data: [DONE]\n\n"
    raw = exchange(gw, "done_first", True, MESSAGES)[2]
    assert raw == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


# ---- rate limits, statuses, redirects -------------------------------------------------


def test_every_2_answers_half_of_the_requests_across_threads() -> None:
    spec = "status=429;every=2;retry_after=1"
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    with mock.start() as gw:

        def worker() -> None:
            with httpx.Client(base_url=gw.base_url) as c:
                for _ in range(5):
                    r = c.post("/chat/completions", content=body(), headers={"X-Mock-Fault": spec})
                    with lock:
                        answers.append((r.status_code, r.headers.get("retry-after")))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert gw.fault_count(spec) == 40
    assert sorted(answers, key=str) == [(200, None)] * 20 + [(429, "1")] * 20


@pytest.mark.parametrize("value", ["-5", "nan", "Wed, 21 Oct 2015 07:28:00 GMT", "1.5", "soon"])
def test_retry_after_is_sent_as_given(gw: RunningGateway, value: str) -> None:
    status, headers, _ = exchange(gw, f"status=503;retry_after={value}")
    assert (status, headers["retry-after"]) == (503, value)
    status, headers, _ = exchange(gw, f"status=429;retry_after={urllib.parse.quote(value)}")
    assert (status, headers["retry-after"]) == (429, value)  # percent-decoded


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/pub/x"])
def test_redirect_to_any_scheme(gw: RunningGateway, url: str) -> None:
    status, headers, raw = exchange(gw, f"redirect={url}")
    assert (status, headers["location"], raw) == (307, url, b"")


# ---- the spec -------------------------------------------------------------------------


def test_sizes_and_new_keys_parse() -> None:
    f = parse("endless=300M;huge_line=2k;huge_event=7;huge_body=1G;gzip_bomb=1g;hang_after=0")
    assert (f.endless, f.huge_line, f.huge_event) == (300 << 20, 2048, 7)
    assert (f.huge_body, f.gzip_bomb, f.hang_after) == (1 << 30, 1 << 30, 0)
    assert parse("echo_headers;silent;empty_data;no_final_blank;done_first;hold=1.5").hold == 1.5
    assert parse("error_body=1k;status=400").hostile and not parse("empty_data").hostile
    assert parse("retry_after=nan").retry_after == "nan"


@pytest.mark.parametrize(
    "spec,message",
    [
        ("endless=1.5M", "endless: expected a size (bytes, or with k, M or G), got '1.5M'"),
        ("huge_body=3T", "huge_body: expected a size (bytes, or with k, M or G), got '3T'"),
        ("slow", "slow needs a value (slow=BYTES:MS)"),
        ("status=abc", "status: expected an HTTP status from 100 to 599, got 'abc'"),
        ("hold=-1", "hold: must be a number from 0, got '-1'"),
        ("retry_after=1%0D%0AX: y", "retry_after: a header value cannot contain a line break"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(FaultError) as info:
        parse(spec)
    assert str(info.value) == message


def test_unknown_fault_lists_the_known_ones() -> None:
    with pytest.raises(FaultError) as info:
        parse("bogus=1")
    assert str(info.value).startswith("unknown fault 'bogus' (known: status, times, every,")
    assert "gzip_bomb" in str(info.value) and "drop)" in str(info.value)
