"""Deadlines that hold while a read is blocked: one thread for every response of a run.

httpx's read timeout bounds one read, not a whole body (see ``Watchdog``); this module
makes ``--timeout`` the deadline of the whole request (DESIGN.md, the ``--timeout`` row).
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


class Watchdog:
    """One thread that ends the reads of responses whose deadline has passed.

    httpx's read timeout bounds one read, not a whole body: a server that sends a byte
    now and then, or stalls after its headers, would hold a request long past
    ``--timeout``. At the deadline the watchdog shuts the response's socket down, which
    wakes a read blocked on it at once; the reader then reports the deadline.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, list[httpx.Response | None]]] = []
        self._count = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._cancelled = 0

    def cancel(self, entry: list[httpx.Response | None]) -> None:
        """The response is done. Cancelled entries are dropped in bulk once they are
        half the heap, so a run of a million requests holds no million entries."""
        with self._cond:
            entry[0] = None
            self._cancelled += 1
            if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e[2][0] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def watch(self, deadline: float, response: httpx.Response) -> list[httpx.Response | None]:
        entry: list[httpx.Response | None] = [response]
        with self._cond:
            earliest = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, next(self._count), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True)
                self._thread.start()
            elif earliest:  # the thread sleeps until the earliest deadline: wake it only then
                self._cond.notify()
        return entry

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][2][0] is None:
                    if self._heap:
                        heapq.heappop(self._heap)  # cancelled
                        self._cancelled = max(self._cancelled - 1, 0)
                    else:
                        self._cond.wait()
                due = self._heap[0][0] - time.perf_counter()
                if due > 0:
                    self._cond.wait(due)
                    continue
                response = heapq.heappop(self._heap)[2][0]
                # under the lock: once cancel() returns, no socket of a response that went
                # back to the pool can still be shut down (shutdown() does not block)
                if response is not None:
                    _interrupt(response)


def _interrupt(response: httpx.Response) -> None:
    stream = response.extensions.get("network_stream")
    try:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:  # the plain socket's: SSLSocket.shutdown() would drop its
            # TLS state, and the read it wakes would return raw TLS bytes as the body
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass
