"""A loopback gateway for bench/batch.py that is never the bottleneck; see bench/README.md.

    python bench/fastgw.py [--port 0]

Prints its base URL (`http://127.0.0.1:PORT/v1`) as the first line, then serves until
SIGTERM or SIGINT. The offline gateway (`llmcli serve`) builds every reply and would be
the slower side of a many-requests benchmark, so this one answers from precomputed bytes:
POST /v1/chat/completions gets one fixed `chat.completion`, POST /v1/embeddings one fixed
embedding list, GET /v1/models a one-model list; anything else a JSON 404. Only the
`x-request-id` header (a counter) changes per response.

A raw asyncio Protocol on HTTP/1.1 with keep-alive (uvloop when it imports: the bench's
own venv installs it). Requests are framed by Content-Length; several requests in one read
(pipelining) are answered in order. A chunked request body is refused with 411 and the
connection closed, since nothing here sends one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import cast

CHAT = {
    "id": "chatcmpl-bench0000000000000000000000",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "bench-model",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "A fixed reply from the benchmark gateway: eight words of text.",
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 13, "total_tokens": 25},
    "system_fingerprint": "fp_bench",
}
EMBEDDINGS = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.125, -0.25, 0.5, -1.0] * 2}],
    "model": "bench-embed",
    "usage": {"prompt_tokens": 3, "total_tokens": 3},
}
MODELS = {"object": "list", "data": [{"id": "bench-model", "object": "model", "owned_by": "bench"}]}
NOT_FOUND = {"error": {"message": "not found", "type": "invalid_request_error", "code": None}}


def _reply(status: bytes, body: object) -> tuple[bytes, bytes]:
    """Everything before and after the request id: head + b'N' + tail is one response."""
    data = json.dumps(body, separators=(",", ":")).encode()
    head = b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
    head += b"content-length: %d\r\nx-request-id: req_bench_" % len(data)
    return head, b"\r\n\r\n" + data


ROUTES = {
    (b"POST", b"/v1/chat/completions"): _reply(b"200 OK", CHAT),
    (b"POST", b"/v1/embeddings"): _reply(b"200 OK", EMBEDDINGS),
    (b"GET", b"/v1/models"): _reply(b"200 OK", MODELS),
}
MISSING = _reply(b"404 Not Found", NOT_FOUND)
LENGTH_REQUIRED = b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
MAX_HEAD = 65536  # a request head longer than this is refused: the connection is closed


class Conn(asyncio.Protocol):
    """One keep-alive connection: buffer, split requests by Content-Length, answer each."""

    served = 0  # responses over all connections: the x-request-id counter

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        transport = self.transport
        assert transport is not None
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    transport.close()
                    return
                break
            head = buf[:end]
            lower = head.lower()
            length = 0
            close = b"\r\nconnection: close" in lower
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 17)
                length = int(lower[at + 17 : stop if stop >= 0 else len(lower)])
            elif b"\r\ntransfer-encoding:" in lower:
                transport.write(LENGTH_REQUIRED)
                transport.close()
                return
            if len(buf) < end + 4 + length:
                break  # the body is not all here yet
            line = head[: head.find(b"\r\n")] if b"\r\n" in head else head
            method, _, rest = line.partition(b" ")
            path = rest.partition(b" ")[0].partition(b"?")[0]
            reply_head, reply_tail = ROUTES.get((method, path), MISSING)
            Conn.served += 1
            out += (reply_head, b"%d" % Conn.served, reply_tail)
            buf = buf[end + 4 + length :]
            if close:
                transport.write(b"".join(out))
                transport.close()
                return
        self.buf = buf
        if out:
            transport.write(b"".join(out))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Conn, "127.0.0.1", port, backlog=1024, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"http://127.0.0.1:{bound}/v1\n")
    sys.stdout.flush()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    await stop
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 (the default): any free port")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    args = parser.parse_args()
    runner = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    runner(serve(args.port))


if __name__ == "__main__":
    main()
