"""``llmcli serve --latency``: every answer after the latency, however many are in flight
at once (one event loop, no thread per connection); ``GET /v1/_stats`` counts them."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time

import orjson
from conftest import clean_env

from llmcli.mock import latency

REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    b"content-length: 2\r\n\r\n{}"
)


async def _ask(port: int, count: int) -> list[bytes]:
    """``count`` connections at once, one request each; every answer's body."""

    async def one() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        writer.close()
        return body

    return await asyncio.gather(*(one() for _ in range(count)))


def _stats(port: int) -> dict[str, int]:
    async def get() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /v1/_stats HTTP/1.1\r\nhost: x\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        body = await reader.readuntil(b"}")
        writer.close()
        return body

    return orjson.loads(asyncio.run(get()))


def test_every_request_in_flight_at_once_is_held_and_answered() -> None:
    with latency.start(1.0, until=300) as gateway:  # none answered before all 300 came
        port = int(gateway.base_url.split(":")[2].split("/")[0])
        started = time.monotonic()
        bodies = asyncio.run(_ask(port, 300))
        took = time.monotonic() - started
        assert {orjson.loads(b)["object"] for b in bodies} == {"chat.completion"}
        assert took >= 1.0  # none before its latency
        assert _stats(port) == {
            "in_flight": 0,
            "most_in_flight": 300,
            "answered": 300,
            "refused": 0,
        }


def test_pipelined_requests_are_answered_in_order_and_unknown_paths_are_404() -> None:
    async def pipelined(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST + b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n")
        writer.write(b"GET /v1/nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        data = await reader.read()
        writer.close()
        return data

    with latency.start(0.05) as gateway:
        port = int(gateway.base_url.split(":")[2].split("/")[0])
        data = asyncio.run(pipelined(port))
    statuses = re.findall(rb"HTTP/1\.1 \d+ [A-Za-z ]+\r\n", data)
    assert statuses == [
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 404 Not Found\r\n",
    ]
    assert (
        data.index(b"chat.completion") < data.index(b'"object":"list"') < data.index(b"not found")
    )


def test_serve_latency_prints_its_url_and_llmcli_gets_the_answer() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "llmcli", "serve", "--port", "0", "--latency", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        done = subprocess.run(
            [sys.executable, "-m", "llmcli", "chat", "--base-url", url, "-m", "x", "hi"],
            capture_output=True,
            env=clean_env(),
            timeout=30,
            check=False,
        )
        assert (done.returncode, done.stdout) == (0, b"answered after the latency\n")
    finally:
        server.terminate()
        server.wait(timeout=10)
