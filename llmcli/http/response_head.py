"""A response's status line and headers: parsed by http.client, checked as h11 checked them.

http.client is lenient where a hostile or broken server could exploit it: it takes the
connection's end for the end of the head, a line that is no header (and every line after
it, Transfer-Encoding among them) for the start of the body, and "1_0" for a
Content-Length of 10; and it returns a 103 Early Hints as the answer. Here a head cut
short is ``CutHead``, every 1xx is skipped as 100 is (RFC 9110, 15.2), at most
``MAX_INTERIM`` of them (http.client would read an endless run of ``100 Continue``), and
``framing_problem`` names what cannot frame a body. Its own limits stay: 100 header
lines of 64 KiB at most.
"""

from __future__ import annotations

import http.client
import re
import socket
from typing import IO

__all__ = ["MAX_INTERIM", "CutHead", "Response", "framing_problem"]

#: interim (1xx) responses taken before the answer: a real server sends one or two
MAX_INTERIM = 100

_DIGITS = re.compile(r"[0-9]{1,20}")  # a Content-Length, as h11 bounds it


class CutHead(http.client.HTTPException):
    """The connection ended inside the response's head."""


class _HeadFile:
    """The response's file while its head is read: a line cut short by the connection's
    end is an error, where http.client would take it for the end of the head."""

    def __init__(self, fp: IO[bytes]) -> None:
        self._fp = fp
        self._lines = 0

    def readline(self, limit: int = -1) -> bytes:
        line = self._fp.readline(limit)
        # b"" before any line is http.client's RemoteDisconnected; a line of ``limit``
        # bytes its LineTooLong
        if not line.endswith(b"\n") and (line or self._lines) and len(line) != limit:
            raise CutHead("incomplete response head")
        self._lines += 1
        return line

    def close(self) -> None:
        self._fp.close()


class Response(http.client.HTTPResponse):
    """http.client's head parser, strict where it is lenient: the head must end in its
    blank line, and every 1xx (103 Early Hints …) is skipped as 100 is (RFC 9110, 15.2)."""

    def __init__(self, sock: socket.socket, method: str) -> None:
        super().__init__(sock, method=method)
        self._file = self.fp
        self.fp = _HeadFile(self._file)  # type: ignore[assignment]
        self._interim = 0

    def begin(self) -> None:
        try:
            super().begin()
        finally:
            if self.fp is not None:  # None: http.client closed it (a bad status line)
                self.fp = self._file

    def _read_status(self) -> tuple[str, int, str]:
        version, status, reason = super()._read_status()  # type: ignore[misc]
        if 100 <= status < 200 and status != http.client.SWITCHING_PROTOCOLS:
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise http.client.HTTPException(
                    f"more than {MAX_INTERIM} interim (1xx) responses before the answer"
                )
            status = http.client.CONTINUE  # begin() skips a 100 and its headers
        return version, status, reason


def framing_problem(response: http.client.HTTPResponse) -> str | None:
    """Why a head http.client accepted cannot frame a body, as h11 rejected it: a line
    that is no header (the email parser takes it and all after it, Transfer-Encoding
    among them, for a body), a coding other than chunked alone, a Content-Length that
    is not one number (http.client would read to the close, or take "1_0" for 10)."""
    msg = response.msg
    if msg.defects or msg.get_payload():
        return "illegal header line"
    codings = msg.get_all("transfer-encoding")
    if codings is not None:
        if len(codings) > 1 or not response.chunked:
            return "Only Transfer-Encoding: chunked is supported"
        return None
    lengths = msg.get_all("content-length")
    if lengths is not None and (len(lengths) > 1 or not _DIGITS.fullmatch(lengths[0].strip())):
        return "bad Content-Length"
    return None
