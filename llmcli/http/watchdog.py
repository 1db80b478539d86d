"""Deadlines that hold while a read or a write is blocked: one thread for a whole run.

A socket timeout bounds one read, not a whole answer: a server that sends its head or
its body a byte now and then, or an endless run of ``100 Continue``, would hold a request
long past ``--timeout``. Here every connection a request uses is watched from the moment
it is taken until its body is closed (``llmcli.http.transport``), so the deadline covers the
request going out, the response head, interim responses, an error body, a redirect and
the body (DESIGN.md, "Limits": ``--timeout`` is the deadline of the whole answer).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time

__all__ = ["Watch", "Watchdog"]


class Watch:
    """One watched socket. ``fired``: the deadline passed and the socket was shut down,
    so whatever its reader saw next (an end, an error) is the deadline's doing."""

    __slots__ = ("fired", "sock")

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self.fired = False


class Watchdog:
    """One thread that shuts down the sockets whose deadline has passed.

    Shutting a socket down wakes a read or write blocked on it at once; the reader then
    reports the deadline. Cancelled entries are dropped in bulk once they are half the
    heap, so a run of a million requests holds no million entries.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._count = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._cancelled = 0

    def watch(self, deadline: float, sock: socket.socket) -> Watch:
        entry = Watch(sock)
        with self._cond:
            earliest = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, next(self._count), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True)
                self._thread.start()
            elif earliest:  # the thread sleeps until the earliest deadline: wake it only then
                self._cond.notify()
        return entry

    def move(self, entry: Watch, sock: socket.socket) -> None:
        """The connection's socket is now ``sock`` (wrapped in TLS): shut that one down
        (at once, when the deadline passed while the old one was being replaced)."""
        with self._cond:
            if entry.sock is not None:
                entry.sock = sock
            elif entry.fired:
                _shut(sock)

    def cancel(self, entry: Watch) -> None:
        """The socket is done with (back in the pool, or closed). Once this returns, the
        watchdog will not touch it: shutdown happens only under the same lock."""
        with self._cond:
            if entry.sock is None:
                return
            entry.sock = None
            self._cancelled += 1
            if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e[2].sock is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][2].sock is None:
                    if self._heap:
                        heapq.heappop(self._heap)  # cancelled
                        self._cancelled = max(self._cancelled - 1, 0)
                    else:
                        self._cond.wait()
                due = self._heap[0][0] - time.perf_counter()
                if due > 0:
                    self._cond.wait(due)
                    continue
                entry = heapq.heappop(self._heap)[2]
                sock, entry.sock = entry.sock, None
                if sock is not None:
                    entry.fired = True
                    _shut(sock)


def _shut(sock: socket.socket) -> None:
    # the plain socket's shutdown: SSLSocket.shutdown() would drop its TLS state, and the
    # read it wakes would return raw TLS bytes as the body
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
