"""HTTP/1.1 framing without I/O (llmcli.http.wire): request heads, answer heads; and the
request a redirect asks for (llmcli.http.request.redirected)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcli.errors import ProtocolError
from llmcli.http.request import MAX_REDIRECTS, Request, followed, origin_of, redirected
from llmcli.http.wire import MAX_HEAD, Head, WireError, head_end, parse_head, request_head


def test_request_head_is_the_line_the_headers_and_a_blank_line() -> None:
    head = request_head(b"POST", b"/v1/x?a=1", [(b"Host", b"h:1"), (b"Content-Length", b"2")])
    assert head == b"POST /v1/x?a=1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 2\r\n\r\n"


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        (b"X Y", b"v", "Illegal header name b'X Y'"),
        (b"X:", b"v", "Illegal header name b'X:'"),
        (b"X", b"a\r\nInjected: 1", "Illegal header value b'a\\r\\nInjected: 1'"),
        (b"X", b"a\x00", "Illegal header value b'a\\x00'"),
    ],
)
def test_request_head_refuses_what_would_split_or_smuggle(
    name: bytes, value: bytes, problem: str
) -> None:
    with pytest.raises(WireError) as refused:
        request_head(b"GET", b"/", [(name, value)])
    assert str(refused.value) == problem


def test_an_answer_head_parsed() -> None:
    block = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Folded: a\r\n  b\r\n"
        b"Content-Length: 12, 12\r\nContent-Length: 12"
    )
    assert parse_head(block) == Head(
        200,
        "OK",
        [
            ("content-type", "application/json"),
            ("x-folded", "a b"),
            ("content-length", "12, 12"),
            ("content-length", "12"),
        ],
        12,
        False,
        True,
    )


@pytest.mark.parametrize(
    ("block", "length", "chunked", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked", None, True, True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 5", None, True, False),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close", None, False, False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0", 0, False, False),
        (b"HTTP/1.1 204", None, False, True),
    ],
)
def test_framing_and_keep_alive(
    block: bytes, length: int | None, chunked: bool, keep_alive: bool
) -> None:
    head = parse_head(block)
    assert (head.length, head.chunked, head.keep_alive) == (length, chunked, keep_alive)


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (b"HTTP/2 200 OK", "illegal status line: b'HTTP/2 200 OK'"),
        (b"HTTP/1.1 20 OK", "illegal status line: b'HTTP/1.1 20 OK'"),
        (b"HTTP/1.1 200 OK\r\nno colon here", "illegal header line"),
        (b"HTTP/1.1 200 OK\r\n folded first", "illegal header line"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x", "illegal header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1_0", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 21, "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked", "Only Transfer-Encoding: chunked is supported"),  # noqa: E501
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * MAX_HEAD, "an answer's head over 64 KiB"),
    ],
)  # fmt: skip
def test_a_head_no_body_can_be_framed_by(block: bytes, problem: str) -> None:
    with pytest.raises(WireError) as refused:
        parse_head(block)
    assert str(refused.value) == problem


@given(st.binary(max_size=200), st.integers(0, 40))
def test_head_end_finds_the_first_blank_line_from_any_start(data: bytes, start: int) -> None:
    whole = b"HTTP/1.1 200 OK\r\nA: b" + data + b"\r\n\r\nbody"
    end, body = head_end(whole, 0)
    assert whole[end:body] in (b"\n\n", b"\r\n\n", b"\n\r\n", b"\r\n\r\n")
    assert b"\n\n" not in whole[: body - 1].replace(b"\r\n", b"\n")
    # looked for again from anywhere before it (as more bytes came): the same place
    assert head_end(whole, min(start, end)) == (end, body)


# --- redirects, as the event-loop engine follows them (llmcli.http.request.redirected) ---


def _post() -> Request:
    headers = {"Authorization": "Bearer k", "X-Api-Key": "k", "Content-Type": "application/json"}
    return Request("POST", "https://a.example/v1/chat", headers, b"{}", secrets=("k",))


@pytest.mark.parametrize(
    ("status", "location", "method", "url", "body"),
    [
        (307, "/v2/chat", "POST", "https://a.example/v2/chat", b"{}"),
        (308, "chat2?x=1", "POST", "https://a.example/v1/chat2?x=1", b"{}"),
        (303, "https://a.example/done", "GET", "https://a.example/done", None),
        (302, "/v1/other", "GET", "https://a.example/v1/other", None),
        (301, "/v1/other", "GET", "https://a.example/v1/other", None),
    ],
)
def test_a_redirect_is_the_request_httpx_would_send(
    status: int, location: str, method: str, url: str, body: bytes | None
) -> None:
    moved = redirected(_post(), status, location, origin_of("https://a.example/v1/chat"))
    assert (moved.method, moved.url, moved.body) == (method, url, body)
    assert moved.headers["Authorization"] == "Bearer k"  # the same origin: credentials go


def test_a_redirect_elsewhere_carries_no_credential_and_only_http_is_followed() -> None:
    first = origin_of("https://a.example/v1/chat")
    moved = redirected(_post(), 307, "https://b.example/v1/chat", first)
    assert dict(moved.headers) == {"Content-Type": "application/json"}
    assert origin_of("HTTPS://User:pw@A.example:8443/x") == "https://a.example:8443"
    with pytest.raises(ValueError):
        redirected(_post(), 302, "ftp://a.example/x", first)
    with pytest.raises(ProtocolError) as many:
        followed(_post(), 307, "/v1/again", first, MAX_REDIRECTS + 1)
    assert many.value.message == "too many redirects from  (POST https://a.example/v1/chat)"
