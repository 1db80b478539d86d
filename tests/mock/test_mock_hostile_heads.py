"""The offline gateway's hostile heads (llmcli.mock.heads, the head faults of
llmcli.mock.writer): ``slow_head``, ``interim``, ``drop``, and redirects with a body,
checked byte for byte over raw sockets on loopback.

Nothing here measures elapsed time: a trickle is seen as a head that stops after its
first byte (its next byte is a minute away, so no load can make it arrive in the
window), and a writer that stops when its client hangs up as a handler thread that
ends (within a generous bound).
"""

from __future__ import annotations

import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator

import httpx
import orjson
import pytest
from test_mock_hostile import CHAT, CHAT_DELTA, CHAT_MESSAGE, MESSAGES, body, dechunk, request

from llmcli import mock
from llmcli.mock import RunningGateway
from llmcli.mock.faults import FaultError, parse
from llmcli.mock.heads import INTERIM

URL = "https://evil.example/steal?k=1"
MOVED = "HTTP/1.1 307 Temporary Redirect\r\n"


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    with mock.start() as running:
        yield running


def wire(
    gw: RunningGateway, spec: str, stream: bool = False, path: str = CHAT
) -> tuple[bytes, bytes]:
    """One request on a raw socket: the response's heads (interim ones included, each with
    its blank line), and the rest, read to the end of the connection; Date and request
    ids made fixed."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(request(path, body(stream, path), [("Host", "gw"), ("X-Mock-Fault", spec)]))
        raw = b""
        while part := s.recv(1 << 16):
            raw += part
    raw = re.sub(rb"req_\d+", b"req_N", re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: D", raw))
    heads = b""
    while True:
        head, blank, raw = raw.partition(b"\r\n\r\n")
        heads += head + blank
        if not re.match(rb"HTTP/1.1 1\d\d ", head):
            return heads, raw


def handler_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.endswith("(process_request_thread)")}


def ended(threads: set[threading.Thread]) -> bool:
    """Whether ``threads`` all end within 10 s (a bound, not a measurement)."""
    deadline = time.monotonic() + 10
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not any(t.is_alive() for t in threads)


# ---- slow_head ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,stream,path",
    [
        ("", False, CHAT),
        ("", True, CHAT),
        ("", True, MESSAGES),
        ("status=503", False, CHAT),
        ("status=429;retry_after=1", True, MESSAGES),
        ("error_after=1", True, CHAT),
    ],
    ids=["json", "stream", "messages-stream", "error", "error-messages", "error-after"],
)
def test_slow_head_sends_the_same_bytes(
    gw: RunningGateway, spec: str, stream: bool, path: str
) -> None:
    plain = wire(gw, spec + ";comment=0", stream, path)
    assert wire(gw, spec + ";slow_head=1", stream, path) == plain
    assert wire(gw, spec + ";slow_head=0", stream, path) == plain


@pytest.mark.parametrize("spec", ["slow_head=60000", "slow_head=60000;status=500"])
def test_slow_head_holds_back_all_but_its_first_byte(spec: str) -> None:
    with mock.start() as gw:
        before = handler_threads()
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            s.sendall(request(CHAT, body(True), [("Host", "gw"), ("X-Mock-Fault", spec)]))
            assert s.recv(100) == b"H"
            s.settimeout(0.3)  # the client's deadline passes inside the status line
            with pytest.raises(TimeoutError):
                s.recv(100)
            mine = handler_threads() - before
        assert len(mine) == 1 and ended(mine)  # the pause noticed the hang-up
        assert len(gw.requests) == 1


# ---- interim --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec,stream", [("", False), ("", True), ("status=503", False)], ids=["json", "stream", "error"]
)
def test_interim_responses_come_before_the_answer(
    gw: RunningGateway, spec: str, stream: bool
) -> None:
    head, rest = wire(gw, spec + ";comment=0", stream)
    for extra in ("", ";slow_head=0"):
        got_head, got_rest = wire(gw, f"{spec};interim=3{extra}", stream)
        assert got_rest == rest
        assert got_head == INTERIM[0] + INTERIM[1] + INTERIM[0] + head
    assert INTERIM == (
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n",
    )


def test_interim_responses_are_skipped_by_a_client(gw: RunningGateway) -> None:
    r = httpx.post(
        gw.base_url + "/chat/completions", content=body(), headers={"X-Mock-Fault": "interim=5"}
    )
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hi you"


def test_interim_then_silence() -> None:
    with mock.start(faults="interim=2;silent;hold=0.3") as gw:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            s.sendall(request(CHAT, body(), [("Host", "gw")]))
            raw = b""
            while part := s.recv(1 << 16):
                raw += part
        assert raw == INTERIM[0] + INTERIM[1]  # then closed after hold, no answer


FLOOD = (INTERIM[0] + INTERIM[1]) * 2000


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("interim=1000000", FLOOD),
        ("interim=1000000;slow_head=2", FLOOD[:150]),
        (f"redirect={URL};endless=1G;slow=16:1", MOVED.encode()),
    ],
    ids=["interim-flood", "interim-slow", "redirect-endless-slow"],
)
def test_an_endless_head_or_body_stops_when_the_client_hangs_up(
    spec: str, expected: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    with mock.start() as gw:
        before = handler_threads()
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            s.sendall(request(CHAT, body(), [("Host", "gw"), ("X-Mock-Fault", spec)]))
            raw = b""
            while len(raw) < len(expected) and (part := s.recv(1 << 16)):
                raw += part
            mine = handler_threads() - before
        assert raw.startswith(expected)
        assert len(mine) == 1 and ended(mine)  # the writer stopped: no loop left running
        r = httpx.post(gw.base_url + "/chat/completions", content=body())
        assert r.status_code == 200  # and the gateway serves on
    assert capfd.readouterr() == ("", "")  # quietly


# ---- drop -----------------------------------------------------------------------------


def read_response(s: socket.socket) -> tuple[bytes, bytes]:
    """One response with a Content-Length body on a kept-alive connection."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += s.recv(1 << 16)
    head, blank, rest = raw.partition(b"\r\n\r\n")
    while len(rest) < int(fields(head + blank)["content-length"]):
        rest += s.recv(1 << 16)
    return head + blank, rest


def keep_alive(payload: bytes, spec: str) -> bytes:
    lines = ["POST /v1/chat/completions HTTP/1.1", "Host: gw", f"X-Mock-Fault: {spec}"]
    lines.append(f"Content-Length: {len(payload)}")
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + payload


def test_drop_answers_the_first_request_of_a_connection_and_drops_the_second() -> None:
    spec = "drop;every=2"
    second = orjson.dumps({"model": "echo", "messages": [{"role": "user", "content": "second"}]})
    with mock.start() as gw:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            s.sendall(keep_alive(body(), spec))
            head, reply = read_response(s)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert orjson.loads(reply)["choices"][0]["message"]["content"] == "hi you"
            s.sendall(keep_alive(second, spec))
            assert s.recv(1 << 16) == b""  # closed, not a byte written
        assert (gw.connections_accepted, gw.fault_count(spec)) == (1, 2)
        records = httpx.get(f"http://127.0.0.1:{gw.port}/_mock/requests").json()
        assert [r["body"]["messages"][0]["content"] for r in records] == ["hi you", "second"]
        assert [r["headers"]["x-mock-fault"] for r in records] == [spec, spec]


@pytest.mark.parametrize("spec", ["drop", "drop;interim=3;slow_head=1;delay=10"])
def test_drop_writes_nothing(gw: RunningGateway, spec: str) -> None:
    gw.clear()
    assert wire(gw, spec, stream=True) == (b"", b"")
    assert [r.body for r in gw.requests] == [body(True)]


# ---- redirects with a body ------------------------------------------------------------


def fields(head: bytes) -> dict[str, str]:
    lines = head.decode().split("\r\n")[1:-2]
    return {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}


@pytest.mark.parametrize("status", ["", ";status=301"])
def test_redirect_with_huge_body(gw: RunningGateway, status: str) -> None:
    head, raw = wire(gw, f"redirect={URL};huge_body=3000{status}")
    assert head.startswith(b"HTTP/1.1 301 " if status else MOVED.encode())
    found = fields(head)
    assert (found["location"], found["content-length"]) == (URL, str(len(raw)))
    assert orjson.loads(raw)["choices"][0]["message"]["content"] == "a" * 3000


@pytest.mark.parametrize("stream", [False, True])
def test_redirect_with_gzip_bomb(gw: RunningGateway, stream: bool) -> None:
    size = (1 << 20) + 5
    head, raw = wire(gw, f"redirect={URL};gzip_bomb={size}", stream)
    found = fields(head)
    assert head.startswith(MOVED.encode()) and found["location"] == URL
    assert (found["content-encoding"], found["content-length"]) == ("gzip", str(len(raw)))
    prefix = "data: " + CHAT_DELTA if stream else CHAT_MESSAGE
    expected = prefix.encode().ljust(size, b" ")
    assert zlib.decompress(raw, 31) == expected


def test_redirect_with_a_slow_endless_body(gw: RunningGateway) -> None:
    head, raw = wire(gw, f"redirect={URL};endless=5k;slow=1000:0")
    found = fields(head)
    assert (found["location"], found["transfer-encoding"]) == (URL, "chunked")
    sizes, rest = [], raw
    while not rest.startswith(b"0\r\n"):
        size, _, rest = rest.partition(b"\r\n")
        sizes.append(int(size, 16))
        rest = rest[int(size, 16) + 2 :]
    prefix = len(CHAT_MESSAGE)
    assert sizes == [prefix, 1000, 1000, 1000, 1000, 1000, 5120 - prefix - 5000]
    assert dechunk(raw) == CHAT_MESSAGE.encode() + b"a" * (5120 - prefix)


def test_redirect_with_a_text_body(gw: RunningGateway) -> None:
    head, raw = wire(gw, "redirect=%2Fv2;body=Moved%20to%20%2Fv2;content_type=text/html;slow=1:0")
    found = fields(head)
    assert head.startswith(MOVED.encode()) and raw == b"Moved to /v2"
    assert (found["location"], found["content-type"]) == ("/v2", "text/html")


# ---- the spec -------------------------------------------------------------------------


def test_head_keys_parse() -> None:
    f = parse("slow_head=5;interim=1000000;drop")
    assert (f.slow_head_ms, f.interim, f.drop) == (5.0, 1000000, True)
    assert (parse("slow_head=0").slow_head_ms, parse("interim=0").interim) == (0.0, 0)
    plain = parse("status=500")
    assert (plain.slow_head_ms, plain.interim, plain.drop) == (None, 0, False)
    assert parse(f"redirect={URL};huge_body=1k").big_body and not parse("error_body=1").big_body
    assert [parse(f"redirect=x;status={s}").redirect_status for s in (301, 308, 500)] == [
        301,
        308,
        307,
    ]


@pytest.mark.parametrize(
    "spec,message",
    [
        ("slow_head", "slow_head needs a value (slow_head=MS)"),
        ("slow_head=fast", "slow_head: expected a number, got 'fast'"),
        ("slow_head=-1", "slow_head: must be a number from 0, got '-1'"),
        ("slow_head=inf", "slow_head: must be a number from 0, got 'inf'"),
        ("interim", "interim needs a value (interim=N)"),
        ("interim=1.5", "interim: expected an integer, got '1.5'"),
        ("interim=-1", "interim: must be at least 0, got -1"),
        ("drop=maybe", "drop: expected a boolean, got 'maybe'"),
    ],
)
def test_bad_head_specs(spec: str, message: str) -> None:
    with pytest.raises(FaultError) as info:
        parse(spec)
    assert str(info.value) == message


def test_a_bad_head_spec_in_the_header_is_a_400(gw: RunningGateway) -> None:
    r = httpx.post(
        gw.base_url + "/chat/completions", content=body(), headers={"X-Mock-Fault": "interim=x"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "X-Mock-Fault: interim: expected an integer, got 'x'"
