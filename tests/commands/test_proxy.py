"""Through an HTTP proxy of the environment (``http_proxy``): httpx's own transport sends
the request, and DESIGN's Limits hold there too: the deadline covers the response head;
``no_proxy`` sends a URL past the proxy, through llmcli's own transport. The proxy is a
byte relay on loopback, so a head sent a byte at a time reaches the client so."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from conftest import host, llmcli


class Relay:
    """A forward proxy for http:// URLs: reads a request's head, opens the origin, sends
    the head in origin form, then relays bytes both ways as they come."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.requests: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            line, rest = head.split(b"\r\n", 1)
            method, target, version = line.split(b" ")
            self.requests.append(line)
            hostport, path = target.removeprefix(b"http://").split(b"/", 1)
            name, port = hostport.split(b":")
            with socket.create_connection((name.decode(), int(port))) as origin:
                origin.sendall(b"%s /%s %s\r\n%s" % (method, path, version, rest))
                threading.Thread(target=_pipe, args=(client, origin), daemon=True).start()
                _pipe(origin, client)

    def close(self) -> None:
        self.server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def relay() -> Iterator[Relay]:
    proxy = Relay()
    yield proxy
    proxy.close()


def test_a_request_goes_through_the_proxy(url: str, relay: Relay) -> None:
    env = {"http_proxy": f"http://127.0.0.1:{relay.port}", "no_proxy": ""}
    r = llmcli("chat", "--base-url", url, "-m", "echo", "via proxy", env=env)
    assert (r.code, r.out, r.err) == (0, b"via proxy\n", "")
    assert relay.requests == [f"POST {url}/chat/completions HTTP/1.1".encode()]


@pytest.mark.parametrize("bypass", ["", "127.0.0.1"])
def test_the_deadline_holds_over_a_slow_head_through_the_proxy_or_past_it(
    url: str, relay: Relay, bypass: str
) -> None:
    env = {"http_proxy": f"http://127.0.0.1:{relay.port}", "no_proxy": bypass}
    r = llmcli(
        "chat", "--timeout", "1", "--retries", "0", "--base-url", url, "-m", "echo",
        "-H", "X-Mock-Fault: slow_head=300", "x", env=env,
    )  # fmt: skip
    assert (r.code, r.out) == (75, b"")
    assert r.err == (
        f"llmcli: no complete answer from {host(url)} within --timeout 1s "
        f"(POST {url}/chat/completions)\n"
    )
    assert len(relay.requests) == (0 if bypass else 1)  # no_proxy: past the proxy
