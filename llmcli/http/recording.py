"""``--record FILE`` and ``--replay FILE``: cassettes, on the client's side.

Recording: the HTTP core (``llmcli.http.session``) hands every exchange it completes to a
``Recorder``: error answers as read, bodies through a ``Tee`` as they pass (whole
reads and streams alike, so every command, batch runs and model pages included, is
recorded by one hook), written when the answer is done or failed with what arrived.
The line (format: ``llmcli.mock.cassette``) leaves credential headers out, and every
secret the request carries (the key, credential header values, URL passwords) is
``***`` everywhere in it, the answer's body included. Each line goes out in one
``write`` under a thread lock and an ``flock`` of the file, so batch run's threads and
the concurrent llmcli processes of a script never interleave lines; a new cassette is
made 0600.

Replay: ``replay_gateway`` starts the offline gateway in this process in replay mode,
and ``Reroute`` moves every request's scheme, host and port to it, path kept, so any
gateway replays (whole-URL endpoints and ``--base-url`` included) and nothing leaves
the machine. A request the cassette has no answer for comes back marked
``x-llmcli-replay: miss``: ``miss`` makes it exit 69 with the gateway's message.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from llmcli.errors import DataError, InputFileError, OutputFileError, ReplayMiss, UnavailableError
from llmcli.http.decoding import MAX_BODY
from llmcli.http.request import Body
from llmcli.mock.cassette import encode, make_line, path_of
from llmcli.redaction import is_credential_header, redact, scrub

if TYPE_CHECKING:
    import httpx

    from llmcli.http.request import Request
    from llmcli.mock import RunningGateway

__all__ = ["Recorder", "Reroute", "Tee", "line_of", "miss", "replay_gateway"]


class Recorder:
    """Appends exchanges to a cassette; safe across threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        os.close(self._open())  # an unwritable cassette fails before anything is sent

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            return os.open(self.path, flags, 0o600)
        except OSError as e:
            raise OutputFileError(f"cannot write cassette {self.path}: {e.strerror}") from None

    def write(
        self,
        request: Request,
        status: int,
        headers: Iterable[tuple[str, str]],
        answer: bytes,
        *,
        cut: bool = False,
    ) -> None:
        """Append the line of one exchange, every secret of ``request`` as ``***``."""
        data = line_of(request, status, headers, answer, cut=cut)
        with self._lock:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as e:
                raise OutputFileError(f"cannot write cassette {self.path}: {e.strerror}") from None
            finally:
                os.close(fd)  # and with it the lock

    def tee(self, request: Request, response: httpx.Response) -> Tee:
        return Tee(self, request, response.status_code, response.headers.multi_items())


def line_of(
    request: Request,
    status: int,
    headers: Iterable[tuple[str, str]],
    answer: bytes,
    *,
    cut: bool = False,
    every_length: bool = True,
) -> bytes:
    """The cassette line of one exchange (``llmcli.mock.cassette``), as written: credential
    headers left out, every secret of ``request`` as ``***`` (the answer's body included).
    ``every_length``: a secret of any length, even one too short to hide in free text (a
    cassette is meant to be shared); else as every message hides them (a cache entry is
    answered again: a dummy key ``x`` must not turn every ``x`` of it into ``***``)."""
    body = request.body.to_bytes() if isinstance(request.body, Body) else request.body
    secrets = sorted({s for s in request.secrets if s}, key=len, reverse=True)
    if every_length:
        body, answer = _scrub(body, secrets), _scrub(answer, secrets)  # before any base64
        url = _scrub(request.url.encode(), secrets).decode()
    else:  # the answer was scrubbed as it was read (``Session.iter_bytes``)
        body = scrub(body, secrets) if body else body
        url = redact(request.url, secrets)
    sent = [(n, v) for n, v in request.headers.items() if not is_credential_header(n)]
    line = make_line(request.method, url, sent, body, status, headers, answer, cut=cut)
    if not every_length:  # what was shown, as it was shown (a URL password in a reply too)
        return encode(line).encode()
    text = redact(encode(line), request.secrets)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text.encode()


def _scrub(data: bytes | None, secrets: list[str]) -> Any:
    """``data`` with every secret replaced by ``***``: in any JSON spelling and its start
    (``redaction.scrub``), and, for a secret too short for that, as its bytes."""
    if data is None:
        return None
    data = scrub(data, secrets)
    for secret in secrets:
        data = data.replace(secret.encode(), b"***")
    return data


class Tee:
    """The chunks of one body as they pass, kept; ``close`` writes the exchange once,
    marked ``cut`` unless the body arrived to its end. At most ``MAX_BODY`` (256 MiB) is
    kept, as much as a body read whole may be: a longer stream is recorded that far, cut
    (memory stays bounded however long the stream)."""

    def __init__(
        self,
        recorder: Recorder,
        request: Request,
        status: int,
        headers: list[tuple[str, str]],
    ) -> None:
        self._recorder = recorder
        self._request = request
        self._status = status
        self._headers = headers
        self._kept = bytearray()
        self._whole = False
        self._closed = False

    def chunks(self, source: Iterator[bytes]) -> Iterator[bytes]:
        over = False
        for chunk in source:
            if not over:
                room = MAX_BODY - len(self._kept)
                self._kept += chunk[:room]
                over = len(chunk) > room
            yield chunk
        self._whole = not over

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._recorder.write(
            self._request, self._status, self._headers, bytes(self._kept), cut=not self._whole
        )


class Reroute:
    """Every URL moved to the replaying gateway's origin, its path and query kept."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"

    def __call__(self, url: str) -> str:
        return self.origin + path_of(url)


def replay_gateway(path: str | os.PathLike[str]) -> RunningGateway:
    """The offline gateway answering from the cassette ``path``, in this process (a
    daemon thread, like ``-g mock``'s)."""
    from llmcli import mock
    from llmcli.mock.cassette import CassetteError

    try:
        return mock.start(replay=path)
    except CassetteError as e:
        raise DataError(str(e)) from None
    except mock.ListenError as e:
        raise UnavailableError(e.message) from None
    except OSError as e:
        raise InputFileError(f"cannot read cassette {os.fspath(path)}: {e.strerror}") from None


def miss(body: bytes, request: Request) -> ReplayMiss:
    """The error of a request the replaying gateway has no recording of (exit 69)."""
    try:
        message = orjson.loads(body)["error"]["message"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        message = None
    if not isinstance(message, str):
        message = f"no recording of {request.method} {path_of(request.url)} in the cassette"
    return ReplayMiss(redact(message, request.secrets))
