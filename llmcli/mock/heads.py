"""Response heads as bytes, for the faults that write them by hand (``writer``).

``slow_head`` needs the head ``http.server`` would write (status line, ``Server``,
``Date``, the headers, the blank line) as bytes it can send a byte at a time: ``head``
lends the handler a buffer as its ``wfile`` while it writes them, so nothing of the
handler's own header logic (``Connection: close`` ends the connection) is copied here.

``interim=N`` sends interim responses (RFC 9110 §15.2) before the final one: ``100
Continue`` and ``103 Early Hints`` (RFC 8297, with the ``Link`` header it exists for),
alternating. A client must read past any number of them to the final status line, and
not take one for the answer.

``pause`` is the wait between two bytes of a trickled head. It returns early, raising
``ConnectionAbortedError``, as soon as the client hangs up, so an endless slow head
(``interim=1000000;slow_head=5``) frees its thread when the client gives up instead of
sleeping on until a write fails.
"""

from __future__ import annotations

import io
import selectors
import socket
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

__all__ = ["INTERIM", "head", "interim", "pause"]

INTERIM = (
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n",
)


def interim(n: int) -> Iterator[bytes]:
    """The first ``n`` interim responses, one at a time (``n`` may be huge)."""
    for i in range(n):
        yield INTERIM[i % 2]


def head(
    handler: BaseHTTPRequestHandler, status: int, reason: str, headers: Iterable[tuple[str, str]]
) -> bytes:
    """The status line and headers ``handler`` would write for this answer."""
    buffer = io.BytesIO()
    wfile, handler.wfile = handler.wfile, buffer
    try:
        handler.send_response(status, reason)
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
    finally:
        handler.wfile = wfile
    return buffer.getvalue()


def pause(conn: socket.socket, seconds: float) -> None:
    """Wait ``seconds``, or raise ``ConnectionAbortedError`` once the client hangs up.

    The socket is only peeked at: a client that already sent its next request
    (pipelining) leaves it readable, and then the rest of the wait is slept, unwatched.
    A client that shut only its sending side counts as gone, as it does for ``stall``.
    """
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        selector.register(conn, selectors.EVENT_READ)
        ready = selector.select(seconds)
    if not ready:
        return
    try:
        gone = not conn.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, TimeoutError):
        gone = False
    except OSError:  # reset by the peer
        gone = True
    if gone:
        raise ConnectionAbortedError("the client hung up during a slow head")
    time.sleep(max(0.0, deadline - time.monotonic()))
