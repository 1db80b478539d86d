"""``llmcli.http.aio``: a batch row's exchange on asyncio, against the offline gateway
(its faults and hostile modes) and the latency gateway (a thousand in flight at once)."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from llmcli.errors import ProtocolError, TemporaryError, UnavailableError
from llmcli.http.aio import Pool, Reply
from llmcli.http.request import Request
from llmcli.mock import latency

SECRET = "sk-aio-secret-123456"


def chat(base_url: str, content: str = "hi", **headers: str) -> Request:
    body = orjson.dumps({"model": "echo", "messages": [{"role": "user", "content": content}]})
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}", **headers}
    return Request(
        "POST", base_url + "/chat/completions", sent, body, gateway="gw", secrets=(SECRET,)
    )


def send_all(requests: list[Request], size: int, timeout: float | None = None) -> list[Reply]:
    """Every request at once; ``timeout``: each one's deadline from now (--timeout)."""
    deadline = None if timeout is None else time.perf_counter() + timeout

    async def run() -> list[Reply]:
        pool = Pool(size, timeout=timeout)
        try:
            return await asyncio.gather(*(pool.send(r, deadline) for r in requests))
        finally:
            pool.close()

    return asyncio.run(run())


def test_an_answer_whole_and_the_connection_kept_alive(url: str) -> None:
    async def run() -> tuple[list[Reply], int]:
        pool = Pool(4)
        replies = [await pool.send(chat(url, f"n{i}"), None) for i in range(3)]
        pool.close()
        return replies, pool.connects

    replies, connects = asyncio.run(run())
    assert [r.status for r in replies] == [200, 200, 200]
    contents = [orjson.loads(r.body)["choices"][0]["message"]["content"] for r in replies]
    assert contents == ["n0", "n1", "n2"]
    assert connects == 1  # one connection, reused
    assert (
        replies[0].header(
            "CONTENT-TYPE",
        )
        == "application/json"
    )


def test_a_stream_comes_whole_chunked_and_crlf_heads_are_read(url: str) -> None:
    ask = [{"role": "user", "content": "hi"}]
    body = orjson.dumps({"model": "lorem", "max_tokens": 3, "stream": True, "messages": ask})
    streamed = Request(
        "POST", url + "/chat/completions", {"Content-Type": "application/json"}, body
    )
    crlf = chat(url, "framed", **{"X-Mock-Fault": "crlf"})
    sse, framed = send_all([streamed, crlf], 2)
    assert sse.header("transfer-encoding") == "chunked"
    assert sse.body.startswith(b"data: {") and sse.body.endswith(b"data: [DONE]\n\n")
    assert orjson.loads(framed.body)["choices"][0]["message"]["content"] == "framed"


def test_an_error_answer_is_returned_with_its_body_capped(url: str) -> None:
    (reply,) = send_all([chat(url, **{"X-Mock-Fault": "status=503;error_body=1M"})], 1)
    assert reply.status == 503
    assert len(reply.body) == 64 << 10


def test_an_echoed_secret_is_scrubbed(url: str) -> None:
    (reply,) = send_all([chat(url, f"the key is {SECRET}")], 1)
    assert SECRET.encode() not in reply.body and b"***" in reply.body


def test_the_deadline_bounds_a_server_that_delays_its_answer(url: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TemporaryError) as raised:
        send_all([chat(url, **{"X-Mock-Fault": "delay=30000"})], 1, 0.5)
    assert time.perf_counter() - started < 20  # the delay's 30 s were not waited out
    assert raised.value.message == (
        f"no complete answer from gw within --timeout 0.5s (POST {url}/chat/completions)"
    )


def test_a_cut_answer_and_no_connection_are_typed(url: str) -> None:
    with pytest.raises(ProtocolError) as cut:
        send_all([chat(url, **{"X-Mock-Fault": "drop"})], 1)
    assert SECRET not in cut.value.message
    with pytest.raises(UnavailableError) as refused:
        send_all([chat("http://127.0.0.1:1/v1")], 1)
    assert refused.value.message.startswith("cannot connect to gw: ")


def test_a_gzip_bomb_stops_at_the_cap(url: str) -> None:
    with pytest.raises(ProtocolError) as bomb:
        send_all([chat(url, **{"X-Mock-Fault": "gzip_bomb=300M"})], 1)
    assert "larger than 256 MiB" in bomb.value.message


def test_a_thousand_in_flight_at_once() -> None:
    with latency.start(0.0, until=1000) as gateway:  # no answer before 1,000 are in flight
        replies = send_all([chat(gateway.base_url) for _ in range(1000)], 1000)
        assert gateway.stats.most_in_flight == 1000
    assert {r.status for r in replies} == {200}


EARLY_HINTS_THEN_CHUNKED = (
    b"HTTP/1.1 103 Early Hints\nLink: </a>\n\n"
    b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\r\nok\r\n0\r\nX: y\r\n\r\n"
)


def _raw(answer: bytes) -> dict[str, str]:
    from urllib.parse import quote_from_bytes

    return {"X-Mock-Fault": "raw=" + quote_from_bytes(answer, safe="")}


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        # no body at all: answered at once, not read until the deadline or the close
        (b"HTTP/1.1 429 Too Many\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n", 429, b""),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
        # the body that came with the head, and no more than its length
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 200, b"ok"),
        # interim answers skipped, LF-only lines, a chunked body with a trailer
        (EARLY_HINTS_THEN_CHUNKED, 200, b"ok"),
        # no length: the body ends where the connection does
        (b"HTTP/1.1 200 OK\r\n\r\nto the end", 200, b"to the end"),
    ],
)  # fmt: skip
def test_each_framing_a_server_may_send(url: str, answer: bytes, status: int, body: bytes) -> None:
    reply = send_all([chat(url, **_raw(answer))], 1, timeout=20)[0]
    assert (reply.status, reply.body) == (status, body)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (b"HTTP/1.1 099 Odd\r\n\r\n", "illegal status line: b'HTTP/1.1 099 Odd'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", "connection to gw broke mid-answer"),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "connection to gw broke mid-answer"),
    ],
)  # fmt: skip
def test_a_broken_framing_is_a_protocol_error_naming_it(
    url: str, answer: bytes, problem: str
) -> None:
    with pytest.raises(ProtocolError) as broken:
        send_all([chat(url, **_raw(answer))], 1, timeout=20)
    assert problem in broken.value.message
