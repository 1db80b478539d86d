"""``llmcli serve --latency SECONDS``: the offline gateway for load tests — every answer
after exactly that long, however many are asked at once.

The full offline gateway (``llmcli.mock.server``) gives each connection a thread and
builds each reply: at thousands of requests in flight it would be the bottleneck of the
benchmark it serves. This one is one event loop (uvloop when it imports): a connection is
a ``Protocol``, a request's answer a timer (``call_later``), and the answers are bytes made
once: ``POST /v1/chat/completions`` a fixed ``chat.completion``, ``POST /v1/embeddings`` a
fixed list of one vector, ``GET /v1/models`` one model; anything else a JSON 404.
``GET /v1/_stats`` answers at once with how many requests are in flight now, the most
that ever were, and how many were answered — how a benchmark checks that the gateway held
everything it was sent.

HTTP/1.1 with keep-alive; a request is framed by its Content-Length (a chunked request
body is refused with 411, as nothing llmcli or the SDKs send here uses one); requests
pipelined on one connection are answered in order. The listen queue is as long as the
system allows (``somaxconn``), so thousands of connects at once are not refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

CHAT = {
    "id": "chatcmpl-latency",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "latency",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "answered after the latency"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13},
}
EMBEDDINGS = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.125, -0.25, 0.5, -1.0]}],
    "model": "latency-embed",
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
}
MODELS = {"object": "list", "data": [{"id": "latency", "object": "model", "owned_by": "llmcli"}]}
NOT_FOUND = {"error": {"message": "not found", "type": "invalid_request_error", "code": None}}
MAX_HEAD = 65536  # a longer request head closes the connection


def _reply(status: bytes, body: object) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    head = b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
    return head + b"content-length: %d\r\n\r\n" % len(data) + data


ROUTES = {
    (b"POST", b"/v1/chat/completions"): _reply(b"200 OK", CHAT),
    (b"POST", b"/v1/embeddings"): _reply(b"200 OK", EMBEDDINGS),
    (b"GET", b"/v1/models"): _reply(b"200 OK", MODELS),
}
MISSING = _reply(b"404 Not Found", NOT_FOUND)
LENGTH_REQUIRED = b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@dataclass(slots=True)
class Stats:
    in_flight: int = 0
    most_in_flight: int = 0
    answered: int = 0
    #: tests: no answer goes out before this many were in flight at once (a barrier: a
    #: client that cannot hold them all waits, it does not pass by luck of timing)
    until: int = 0
    held: list[Callable[[], None]] = field(default_factory=list)
    #: tests: more than this many at once (0: any number) are refused at once with a 429
    #: that asks for a wait of the latency (``retry-after-ms``), as a provider's
    #: concurrency limit does; ``refused`` counts them
    capacity: int = 0
    refused: int = 0
    too_many: bytes = b""

    def as_reply(self) -> bytes:
        return _reply(
            b"200 OK",
            {
                "in_flight": self.in_flight,
                "most_in_flight": self.most_in_flight,
                "answered": self.answered,
                "refused": self.refused,
            },
        )


class _Connection(asyncio.Protocol):
    """One keep-alive connection: requests split by Content-Length, each answered after
    the latency, in order."""

    def __init__(self, latency: float, stats: Stats) -> None:
        self.latency = latency
        self.stats = stats
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.queue: list[_Due] = []  # this connection's requests, in the order they came

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        for entry in self.queue:
            if not entry.ready and entry.timer is not None:  # (a held one stays counted)
                entry.timer.cancel()
                self.stats.in_flight -= 1
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        transport = self.transport
        assert transport is not None
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    transport.close()
                    return
                break
            head = buffer[:end]
            lower = head.lower()
            length = 0
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 17)
                try:
                    length = int(lower[at + 17 : stop if stop >= 0 else len(lower)])
                except ValueError:
                    transport.close()
                    return
            elif b"\r\ntransfer-encoding:" in lower:
                transport.write(LENGTH_REQUIRED)
                transport.close()
                return
            if len(buffer) < end + 4 + length:
                break  # the body is not all here yet
            line = head.split(b"\r\n", 1)[0]
            method, _, rest = line.partition(b" ")
            path = rest.partition(b" ")[0].partition(b"?")[0]
            buffer = buffer[end + 4 + length :]
            self._answer(method, path, b"\r\nconnection: close" in lower)
        self.buffer = buffer

    def _answer(self, method: bytes, path: bytes, close: bool) -> None:
        transport = self.transport
        assert transport is not None
        if (method, path) == (b"GET", b"/v1/_stats"):
            transport.write(self.stats.as_reply())
            return
        stats = self.stats
        if stats.capacity and stats.in_flight >= stats.capacity:
            stats.refused += 1
            self.queue.append(_Due(stats.too_many, close, ready=True))
            self._flush()
            return
        stats.in_flight += 1
        stats.most_in_flight = max(stats.most_in_flight, stats.in_flight)
        entry = _Due(ROUTES.get((method, path), MISSING), close)
        self.queue.append(entry)
        loop = asyncio.get_running_loop()

        def due() -> None:
            if stats.most_in_flight < stats.until:  # the barrier is not reached yet
                stats.held.append(due)
                return
            entry.ready = True
            stats.in_flight -= 1
            stats.answered += 1
            self._flush()

        entry.timer = loop.call_later(self.latency, due)
        if stats.until and stats.most_in_flight >= stats.until and stats.held:
            held, stats.held = stats.held, []
            for release in held:
                release()

    def _flush(self) -> None:
        """The answers that are due, in the order their requests came (pipelining)."""
        transport = self.transport
        assert transport is not None
        while self.queue and self.queue[0].ready:
            entry = self.queue.pop(0)
            if transport.is_closing():
                continue
            transport.write(entry.reply)
            if entry.close:
                transport.close()


def _too_many(latency: float) -> bytes:
    body = {"error": {"message": "too many requests at once", "type": "rate_limit_error"}}
    reply = _reply(b"429 Too Many Requests", body)
    wait = b"retry-after-ms: %d\r\n" % max(1, round(latency * 1000))
    return reply.replace(b"\r\ncontent-length", b"\r\n" + wait + b"content-length", 1)


@dataclass(slots=True)
class _Due:
    reply: bytes
    close: bool
    ready: bool = False
    timer: asyncio.TimerHandle | None = None


async def _serve(
    latency: float,
    port: int,
    ready: asyncio.Future[tuple[int, Stats]],
    host: str = "127.0.0.1",
    until: int = 0,
    capacity: int = 0,
) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats(until=until, capacity=capacity, too_many=_too_many(latency))
    try:
        server = await loop.create_server(
            lambda: _Connection(latency, stats), host, port, backlog=65535, reuse_address=True
        )
    except OSError as e:
        ready.set_exception(e)
        return
    ready.set_result((server.sockets[0].getsockname()[1], stats))
    async with server:
        await server.serve_forever()


@dataclass
class LatencyGateway:
    """A running latency gateway (a daemon thread with its own event loop)."""

    base_url: str
    stats: Stats
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread

    def stop(self) -> None:
        for task in asyncio.all_tasks(self._loop):
            self._loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout=10)


def _new_loop() -> asyncio.AbstractEventLoop:
    import importlib

    try:  # optional: the bench's venv has it
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.new_event_loop()
    return cast(asyncio.AbstractEventLoop, uvloop.new_event_loop())


@contextlib.contextmanager
def start(
    latency: float, port: int = 0, until: int = 0, capacity: int = 0
) -> Iterator[LatencyGateway]:
    """The latency gateway on 127.0.0.1 (``port`` 0: a free one), until the block ends;
    ``until``: no answer before that many requests were in flight at once; ``capacity``:
    more at once are refused with a 429 (tests)."""
    loop = _new_loop()
    ready: asyncio.Future[tuple[int, Stats]] = loop.create_future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(_serve(latency, port, ready, until=until, capacity=capacity))
        loop.close()

    thread = threading.Thread(target=run, name="llmcli-latency-gateway", daemon=True)
    thread.start()
    bound, stats = _wait(ready, loop)
    gateway = LatencyGateway(f"http://127.0.0.1:{bound}/v1", stats, loop, thread)
    try:
        yield gateway
    finally:
        gateway.stop()


def _wait(
    ready: asyncio.Future[tuple[int, Stats]], loop: asyncio.AbstractEventLoop
) -> tuple[int, Stats]:
    done = threading.Event()
    loop.call_soon_threadsafe(lambda: ready.add_done_callback(lambda _: done.set()))
    if not done.wait(timeout=30):
        raise OSError("the latency gateway did not start")
    return ready.result()


def serve_forever(
    latency: float, port: int, announce: Callable[[str], None], host: str = "127.0.0.1"
) -> None:
    """``llmcli serve --latency``: serve in this thread until interrupted; ``announce``
    is called with the base URL once listening; ``OSError`` when it cannot listen."""
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    ready: asyncio.Future[tuple[int, Stats]] = loop.create_future()

    def listening(future: asyncio.Future[tuple[int, Stats]]) -> None:
        if future.exception() is None:
            announce(f"http://{host}:{future.result()[0]}/v1")

    ready.add_done_callback(listening)
    try:
        loop.run_until_complete(_serve(latency, port, ready, host))
        if ready.exception() is not None:
            raise cast(OSError, ready.exception())
    finally:
        loop.close()
