"""Kept-alive connections: idle sockets pooled per origin, and the socket a response
reads from, for the watchdog that shuts it down at a deadline (``llmcli.http.watchdog``).

A connection is given back only after its body was read to the end (``llmcli.http.transport``
decides); one that waited too long (``KEEP_ALIVE``), or that the server closed or wrote to
while it was idle, is closed instead of reused, as httpcore does.
"""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from typing import Any

__all__ = ["KEEP_ALIVE", "MAX_IDLE", "Key", "NetworkStream", "Pool"]

KEEP_ALIVE = 5.0  # seconds an idle connection is kept (httpx's default)
MAX_IDLE = 20  # idle connections kept per origin (httpx's default, for all origins)

Key = tuple[str, str, int]  # scheme, host, port


class NetworkStream:
    """What ``response.extensions["network_stream"]`` holds: the socket, for the
    watchdog that shuts it down at a deadline (``llmcli.http.watchdog``)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self._sock if name == "socket" else None


class Pool:
    """Idle keep-alive connections per origin, newest last."""

    def __init__(self) -> None:
        self._idle: dict[Key, list[tuple[float, socket.socket]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def take(self, key: Key) -> socket.socket | None:
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                since, sock = idle.pop()
            if now - since < KEEP_ALIVE and not _readable(sock):
                return sock
            sock.close()  # expired, or the server closed it (or sent what it should not)

    def give(self, key: Key, sock: socket.socket) -> None:
        with self._lock:
            if self._closed:  # a body closed after the client was
                dropped = [(0.0, sock)]
            else:
                idle = self._idle.setdefault(key, [])
                idle.append((time.monotonic(), sock))
                dropped = idle[:-MAX_IDLE]
                del idle[:-MAX_IDLE]
        for _, old in dropped:
            old.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
            self._closed = True
        for socks in idle.values():
            for _, sock in socks:
                sock.close()


def _readable(sock: socket.socket) -> bool:
    """An idle connection with something to read has been closed (or spoiled) by the
    server; httpcore makes the same check."""
    try:
        if sys.platform == "win32" or not hasattr(select, "poll"):
            return bool(select.select([sock], [], [], 0)[0])
        poll = select.poll()
        poll.register(sock, select.POLLIN)
        return bool(poll.poll(0))
    except (OSError, ValueError):
        return True
