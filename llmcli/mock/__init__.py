"""The offline gateway: a deterministic fake LLM gateway on loopback.

Serves the OpenAI-compatible ``/chat/completions``, ``/models``, ``/embeddings``,
``/responses`` and the Anthropic-compatible ``/messages`` under a profile's prefix, with
deterministic models (``echo``, ``lorem``, ``think``, ``tools``, ``unicode``,
``embed-small``, ``embed-large``) and injectable faults (see ``faults``). Used by the
tests, by ``llmcli serve`` and in-process by ``llmcli … -g mock``. ``tools`` calls the
function tools a request offers, arguments from their schemas, then answers from their
results (``fake_models``), so a client running tools in a loop is tested offline.

It also serves the providers' batch APIs (``batches``): OpenAI's ``/files`` +
``/batches`` and Anthropic's ``/messages/batches``. A batch runs for ``batch_seconds``
and is kept in ``batch_dir`` (None: a temporary directory, removed when the gateway
stops), so gateways given the same directory, in any process, share their batches.
Batches and ``budget`` windows go by the gateway's clock (``clock``): real time, which a
test moves on with ``RunningGateway.advance_clock`` rather than sleeping.

With a cassette (``start(replay=FILE)``, ``llmcli serve --replay FILE``, and in-process
for ``llmcli … --replay FILE``) it answers every request from the cassette instead
(``replay``; the format is in ``cassette``).

A profile (``PROFILES``: ``mock``, the seed gateways ``lumiltc``, ``lumenfall``,
``lumyx``, ``llmbase``, ``lumyxai``, and ``anthropic``, ``openrouter``) decides how the
gateway looks on the wire: prefix, endpoints and their paths, auth, error shapes, models
and the extra fields and headers of the gateway it imitates (see ``profiles``).

Importing this package is cheap: the HTTP machinery is imported by ``start`` and
``serve_forever``. The server never writes to stdout or stderr itself: ``serve_forever``
hands its request log to a ``log`` callable (``llmcli serve`` writes it to stderr), and
``start`` has none, so ``-g mock`` and the tests stay silent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .profiles import PROFILES, Profile, RecordedRequest

if TYPE_CHECKING:
    import os
    from types import TracebackType

    from .server import GatewayServer

__all__ = [
    "PROFILES",
    "ListenError",
    "Profile",
    "RecordedRequest",
    "RunningGateway",
    "serve_forever",
    "start",
]

POLL_INTERVAL = 0.05  # seconds; bounds how long stop() waits for the serving loop


def _url(server: GatewayServer) -> str:
    host, port = server.server_address[:2]
    host = str(host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{server.profile.prefix.rstrip('/')}"


class ListenError(OSError):
    """The gateway cannot listen on its address (in use, not this machine's, unknown);
    ``message`` says so in one line: ``cannot listen on 127.0.0.1:8765: address already
    in use``."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        reason = cause.strerror or str(cause)
        shown = f"[{host}]" if ":" in host else host
        message = f"cannot listen on {shown}:{port}: {reason[:1].lower()}{reason[1:]}"
        super().__init__(cause.errno, message)
        self.message = message


def _server(
    profile: str | Profile,
    host: str,
    port: int,
    faults: str | None,
    batch_dir: str | os.PathLike[str] | None,
    batch_seconds: float,
    replay: str | os.PathLike[str] | None = None,
) -> GatewayServer:
    from .faults import parse
    from .profiles import resolve
    from .server import GatewayServer

    answers, spec = resolve(profile), parse(faults)
    if not batch_seconds > 0:
        raise ValueError(f"batch_seconds: must be above 0, got {batch_seconds}")
    cassette = None
    if replay is not None:  # loaded only then: start-up of -g mock stays light
        from .replay import Replay

        cassette = Replay.load(replay)
    try:
        server = GatewayServer((host, port), answers, spec)
    except OSError as e:
        raise ListenError(host, port, e) from e
    server.batch_dir, server.batch_seconds = batch_dir, batch_seconds
    server.replay = cassette
    return server


class RunningGateway:
    """A gateway serving in a daemon thread, its batch APIs included; also a context
    manager that stops it."""

    def __init__(self, server: GatewayServer) -> None:
        self._server = server
        self.port: int = int(server.server_address[1])
        self.base_url: str = _url(server)
        self.profile: Profile = server.profile
        #: every request, in arrival order; appended under the server's lock, so a read
        #: while requests are in flight sees a consistent prefix (copy it: list(...))
        self.requests: list[RecordedRequest] = server.records
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"llmcli-gateway-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def url(self, endpoint: str) -> str:
        """The full URL of ``endpoint`` (``chat``, ``models``, ``embeddings``, ``messages``,
        ``responses``); ``ValueError`` when the profile does not serve it."""
        path = self.profile.path(endpoint)
        if path is None:
            raise ValueError(f"profile {self.profile.name!r} has no {endpoint} endpoint")
        return self.base_url + path

    def set_faults(self, faults: str | None) -> None:
        """Replace the server-wide fault spec (``None`` for none)."""
        from .faults import parse

        self._server.faults = parse(faults)

    def fault_count(self, spec: str) -> int:
        """How many requests carried the gated spec ``spec`` (``times``/``every``) so far."""
        return self._server.counters.count(spec)

    def advance_clock(self, seconds: float) -> None:
        """Move the gateway's clock ``seconds`` on: its batches progress, and its ``budget``
        windows pass, as if that much time had gone by (``delay`` and the other transport
        faults still take real time). A test makes a batch with a long ``batch_seconds``
        (sure to be running when it looks), then moves it to its end instead of sleeping;
        a process polling over HTTP sees the batch end at its next poll. ``ValueError``
        for a negative ``seconds``."""
        self._server.clock.advance(seconds)

    @property
    def body_bytes_sent(self) -> int:
        """Response body bytes written to clients so far (chunk framing included): what a
        client that hangs up early has not been made to read stays far below a big body."""
        with self._server.lock:
            return self._server.body_bytes

    @property
    def connections_accepted(self) -> int:
        """How many connections clients have opened so far (keep-alive reuses one)."""
        with self._server.lock:
            return self._server.accepted

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._server.lock:
            self.requests.clear()

    def stop(self) -> None:
        """Stop serving, close every connection and remove the temporary batch directory
        (a ``batch_dir`` given is kept); safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=1.0)
        self._server.close_batches()

    def __enter__(self) -> RunningGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningGateway({self.base_url!r})"


def start(
    profile: str | Profile = "mock",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: str | None = None,
    batch_dir: str | os.PathLike[str] | None = None,
    batch_seconds: float = 3.0,
    replay: str | os.PathLike[str] | None = None,
) -> RunningGateway:
    """Serve in a daemon thread; port 0 = a free port. Returns once listening.

    The batch APIs keep their files and batches in ``batch_dir`` (created when first
    needed; None: a temporary directory, removed by ``stop``), and a batch created here
    runs ``batch_seconds`` from ``validating``/``in_progress`` to its end, on the
    gateway's clock (``RunningGateway.advance_clock`` moves it on).

    ``replay`` names a cassette (see ``cassette``): every API request is then answered
    from it (``replay``), whatever the profile, faults and batches say.

    Raises ``ValueError`` for an unknown profile, a bad fault spec (``FaultError``), a
    ``batch_seconds`` not above 0 or a bad cassette line (``CassetteError``), ``OSError``
    when the cassette cannot be read, ``ListenError`` (an ``OSError``) when the address
    cannot be bound.
    """
    server = _server(profile, host, port, faults, batch_dir, batch_seconds, replay)
    return RunningGateway(server)


def serve_forever(
    profile: str | Profile = "mock",
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: str | None = None,
    ready: Callable[[str], None] | None = None,
    log: Callable[[str], None] | None = None,
    batch_dir: str | os.PathLike[str] | None = None,
    batch_seconds: float = 3.0,
    replay: str | os.PathLike[str] | None = None,
) -> None:
    """Serve in this thread, for ``llmcli serve``; calls ``ready(base_url)`` once
    listening, and ``log(line)`` after each request when given (``POST
    /v1/chat/completions 200 3 ms model=echo``: method, path without the query, status,
    milliseconds, the body's model), from the request's thread, so it must be
    thread-safe and quick; returns on KeyboardInterrupt. ``batch_dir``,
    ``batch_seconds`` and ``replay`` as for ``start``. Raises as ``start`` does."""
    server = _server(profile, host, port, faults, batch_dir, batch_seconds, replay)
    server.log = log
    try:
        if ready is not None:
            ready(_url(server))
        server.serve_forever(poll_interval=POLL_INTERVAL)
    except KeyboardInterrupt:
        pass
    finally:
        server.close_connections()
        server.server_close()
        server.close_batches()
