"""The offline gateway in replay mode (llmcli.mock.replay), over real HTTP with httpx:
answers exactly as recorded, in recorded order, a miss named, a cut answer cut."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmcli import mock
from llmcli.mock.cassette import CassetteError

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
SSE = 'data: {"choices":[]}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n'


def line(
    body: Any = CHAT,
    answer: str = "{}",
    status: int = 200,
    path: str = "/v1/chat/completions",
    method: str = "POST",
    **response: Any,
) -> dict[str, Any]:
    return {
        "request": {"method": method, "path": path, "headers": {}, "body": body},
        "response": {"status": status, "headers": {}, "body": answer, **response},
    }


def cassette(tmp_path: Path, *lines: dict[str, Any]) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return path


@pytest.fixture
def replaying(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with (
        mock.start(replay=cassette(tmp_path, *request.param)) as running,
        httpx.Client(base_url=running.base_url, timeout=10) as client,
    ):
        yield client


def ours(response: httpx.Response) -> dict[str, str]:
    """The answer's headers but those every HTTP/1.1 server adds."""
    return {k: v for k, v in response.headers.items() if k not in ("date", "server")}


HEADERS = {
    "content-type": "text/event-stream",
    "x-request-id": "req_recorded",
    "retry-after": "7",
    "x-ratelimit-remaining-requests": "3",
}


@pytest.mark.parametrize(
    "replaying", [[line(answer=SSE, status=201, headers=HEADERS)]], indirect=True
)
def test_an_answer_goes_out_as_recorded(replaying: httpx.Client) -> None:
    reply = replaying.post("/chat/completions", json=CHAT)
    assert reply.status_code == 201
    assert reply.content == SSE.encode()
    assert ours(reply) == {**HEADERS, "content-length": str(len(SSE))}


@pytest.mark.parametrize(
    "replaying",
    [[line(answer="one"), line(path="/v1/models", method="GET", body=None), line(answer="two")]],
    indirect=True,
)
def test_identical_requests_answer_in_recorded_order_then_the_last_again(
    replaying: httpx.Client,
) -> None:
    reordered = orjson.dumps({"messages": CHAT["messages"], "model": "echo"})
    answers = [replaying.post("/chat/completions", content=reordered).text for _ in range(3)]
    assert answers == ["one", "two", "two"]
    assert replaying.get("/models").text == "{}"


@pytest.mark.parametrize(
    "replaying", [[line(), line(body=None, path="/v1/models", method="GET")]], indirect=True
)
def test_a_request_without_a_recording_is_a_miss_naming_the_nearest(
    replaying: httpx.Client, tmp_path: Path
) -> None:
    reply = replaying.post("/chat/completions", json={**CHAT, "model": "lorem"})
    assert reply.status_code == 404
    assert reply.headers["x-llmcli-replay"] == "miss"
    assert reply.headers["content-type"] == "application/json"
    message = (
        f"no recording of POST /v1/chat/completions with this body in cassette "
        f"{tmp_path / 'c.jsonl'}; the nearest recorded body differs at character 55: sent "
        '…role":"user"}],"model":"lorem"}, recorded …role":"user"}],"model":"echo"}'
    )
    assert reply.json() == {
        "error": {"message": message, "type": "replay_miss", "code": "replay_miss"}
    }
    miss = replaying.get("/model?limit=2")
    assert miss.json()["error"]["message"] == (
        f"no recording of GET /v1/model?limit=2 in cassette {tmp_path / 'c.jsonl'}; "
        "nearest recorded request: GET /v1/models"
    )


@pytest.mark.parametrize(
    "replaying", [[line(answer="data: {}\n\ndata: {", cut=True), line(answer="x")]], indirect=True
)
def test_a_cut_answer_breaks_the_connection_where_it_broke(replaying: httpx.Client) -> None:
    got = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        replaying.stream("POST", "/chat/completions", json=CHAT) as reply,
    ):
        for chunk in reply.iter_raw():
            got += chunk
    assert got == b"data: {}\n\ndata: {"
    assert replaying.post("/chat/completions", json=CHAT).text == "x"  # next in order


def test_the_requests_are_listed_as_ever(tmp_path: Path) -> None:
    with mock.start(replay=cassette(tmp_path, line())) as running:
        httpx.post(running.url("chat"), json=CHAT, headers={"X-Mine": "1"})
        assert [(r.method, r.path, r.headers["x-mine"]) for r in running.requests] == [
            ("POST", "/v1/chat/completions", "1")
        ]


def test_a_bad_or_missing_cassette_fails_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(orjson.dumps(line()).decode() + "\n{oops\n")
    with pytest.raises(CassetteError, match=rf"^{bad}:2: not a cassette line: "):
        mock.start(replay=bad)
    with pytest.raises(FileNotFoundError):
        mock.start(replay=tmp_path / "none.jsonl")
