"""llmcli.http.transport against a real server on loopback: the offline gateway's ``raw=``
fault sends any bytes as the answer, so every framing a broken server could send is
tried, and the transport must fail as httpcore did (or read the answer when it is one)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from urllib.parse import quote_from_bytes

import pytest
from conftest import host, llmcli

from llmcli import mock as offline

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

from llmcli.http.transport import Transport  # noqa: E402

CUT = "Server disconnected without sending a response."


@pytest.fixture(params=["llmcli", "httpx"])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """llmcli's transport, and httpx's own (the one a proxy of the environment takes):
    both must read what a server sends alike, and fail alike on what it breaks."""
    transport = Transport() if request.param == "llmcli" else httpx.HTTPTransport()
    with httpx.Client(transport=transport, timeout=10, trust_env=False) as http:
        yield http


def ours(client: httpx.Client) -> bool:
    return isinstance(client._transport, Transport)


def raw(answer: bytes) -> dict[str, str]:
    return {"X-Mock-Fault": "raw=" + quote_from_bytes(answer, safe="")}


def fetch(client: httpx.Client, url: str, answer: bytes) -> httpx.Response:
    response = client.get(url + "/models", headers=raw(answer))
    response.read()
    return response


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 20",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Len",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",
    ],
)
def test_a_head_cut_short_is_no_answer(client: httpx.Client, url: str, answer: bytes) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match=f"^{CUT}$"):
        fetch(client, url, answer)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nX-Bad header\r\nContent-Length: 2\r\n\r\nok", "illegal header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", "illegal header line"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            "Only Transfer-Encoding: chunked is supported",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\nok", "bad Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            "bad Content-Length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
            "peer closed connection without sending complete message body: "
            "received 5 bytes, expected 10",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            "peer closed connection without sending complete message body: incomplete chunked read",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
            "a chunk-size line that is not hex: 'zz'",
        ),
        (
            b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"Content-Length: 0\r\n\r\n",
            "malformed response head: got more than 100 headers",
        ),
        (b"hello\r\n\r\n", "malformed response head: hello"),
        (b"HTTP/1.1 2x0 O\tK\r\n\r\n", "malformed response head: HTTP/1.1 2x0 O K"),
    ],
)
def test_broken_framing_is_a_protocol_error(
    client: httpx.Client, url: str, answer: bytes, message: str
) -> None:
    if not ours(client) and answer.count(b"X-A: 1") > 100:
        pytest.skip("h11 takes any number of header lines within 100 KiB")
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        fetch(client, url, answer)
    if ours(client):  # (httpcore words some of them its own way)
        assert str(caught.value) == message


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, b"ok"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200, b"ok"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n2;x=1\nok\n0\n\n", 200, b"ok"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", 200, b"until the end"),
        (
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            201,
            b"ok",
        ),
        (b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", 204, b""),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 304, b""),
    ],
)
def test_answers_read_as_framed(
    client: httpx.Client, url: str, answer: bytes, status: int, body: bytes
) -> None:
    if not ours(client) and b"\nok\n" in answer:
        pytest.skip("h11 takes no chunk lines ended by LF alone; llmcli is lenient there")
    response = fetch(client, url, answer)
    assert (response.status_code, response.content) == (status, body)


def test_response_headers_keep_their_bytes(client: httpx.Client, url: str) -> None:
    answer = (
        b"HTTP/1.1 200 Fine\r\nX-Name: caf\xe9\r\nX-Two: a\r\nX-Two: b\r\nContent-Length: 0\r\n\r\n"
    )
    response = fetch(client, url, answer)
    assert response.headers.raw[:3] == [(b"X-Name", b"caf\xe9"), (b"X-Two", b"a"), (b"X-Two", b"b")]
    assert response.reason_phrase == "Fine"
    assert response.http_version == "HTTP/1.1"


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([b"abc"], "Too little data for declared Content-Length"),
        ([b"abc", b"def"], "Too much data for declared Content-Length"),
    ],
)
def test_a_body_must_be_as_long_as_it_says(
    client: httpx.Client, url: str, parts: list[bytes], message: str
) -> None:
    if not ours(client):
        pytest.skip("httpcore leaves a body of the wrong length to the server")
    with pytest.raises(httpx.LocalProtocolError, match=f"^{message}$"):
        client.post(url + "/chat/completions", content=iter(parts), headers={"Content-Length": "5"})


@pytest.mark.parametrize("header", [("X-A", "a\r\nX-Injected: 1"), ("Bad Name", "v")])
def test_a_header_that_would_split_the_request_is_refused(
    client: httpx.Client, url: str, header: tuple[str, str]
) -> None:
    with pytest.raises(httpx.LocalProtocolError, match=r"^Illegal header (name|value) b"):
        client.get(url + "/models", headers=[header])


def test_a_connection_is_reused_after_a_whole_body_only(client: httpx.Client) -> None:
    with offline.start() as gw:
        for _ in range(3):
            assert client.get(gw.base_url + "/models").status_code == 200
        assert gw.connections_accepted == 1
        with client.stream(
            "POST",
            gw.url("chat"),
            json={"model": "lorem", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        ) as response:
            next(response.iter_raw())  # closed before its end: never reused
        assert client.get(gw.base_url + "/models").status_code == 200
        assert gw.connections_accepted == 2


def test_a_broken_answer_ends_the_command_with_76(url: str) -> None:
    answer = quote_from_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", safe="")
    r = llmcli(
        "chat", "--base-url", url, "-m", "lorem", "--retries", "0",
        "-H", f"X-Mock-Fault: raw={answer}", "hi",
    )  # fmt: skip
    assert r.code == 76
    assert r.err == (
        f"llmcli: connection to {host(url)} broke: bad Content-Length "
        f"(POST {url}/chat/completions)\n"
    )
