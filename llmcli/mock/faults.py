"""Fault injection for the offline gateway: parse a fault spec and count its requests.

A spec is ``;``-separated ``key=value`` items (a bare ``key`` means true), given to the
server as a whole (``start(faults=…)``, ``llmcli serve --fault SPEC``) or per request in
the ``X-Mock-Fault`` header, which wins. ``SYNTAX`` lists every key and its value.

Gates: ``times=N`` / ``every=N`` / ``share=P`` gate the whole spec: a request carrying it
is faulty only while the spec's counter says so (the first N requests; requests N, 2N…;
a share P, 0 < P <= 1, spread evenly: request n when floor(nP) > floor((n-1)P), so
``share=0.3`` hits requests 4, 7, 10 … — deterministic, unlike a coin). Several gates:
all must agree. Counters are kept per spec string, across the server's threads, under a
lock (``gates``).

Rate limit (``budget``): ``budget=N:SECONDS`` lets the first N requests of each window of
SECONDS through and answers the others ``429`` (``Retry-After``: the window's remaining
whole seconds, rounded up; ``retry-after-ms``: the same in milliseconds). Every answer
under a budget carries ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``
and ``x-ratelimit-reset-requests`` (a Go duration, ``1.5s``), and on ``/messages`` also
``anthropic-ratelimit-requests-limit``, ``-remaining`` and ``-reset`` (RFC 3339), so a
client can slow down before the 429. The window is the spec string's: a server-wide spec
(``--fault``, ``start(faults=…)``) is one budget for the whole server; a header spec has
its own. The budget is not gated by ``times``/``every``/``share``; the rest of the spec
is, and applies to the requests the budget lets through (module ``budget``).

Replies instead of the answer (before any auth check): ``status=CODE`` an error in the
profile's shape; ``html`` a proxy's HTML page; ``body=TEXT`` (percent-decoded) that body,
of Content-Type ``content_type=TYPE`` (percent-decoded); ``redirect=URL`` (percent-decoded,
any scheme: ``file:``, ``ftp:``) ``307`` (or ``status=3xx``) to it, which a client must
not follow to another host with its credentials. ``retry_after=TEXT`` (percent-decoded)
sends ``Retry-After: TEXT`` as given, valid or not (``-5``, ``nan``, a date in the past);
``reset=SECONDS`` rate-limit headers. ``cost=USD`` sends LiteLLM proxy's
``x-litellm-response-cost: USD`` (the number as given) on a 2xx answer, whole or
streamed, on any profile.

Hostile replies (``hostile``), generated 1 MiB at a time so the gateway stays small; a
SIZE is bytes with an optional ``k``/``M``/``G`` suffix (KiB, MiB, GiB). A request with
``"stream": true`` gets them as ``text/event-stream``, any other as JSON:
``echo_headers`` an error whose message repeats every request header, credentials
included (a 200 JSON error; for a stream request, an error event after one content chunk,
Anthropic's ``event: error`` on ``/messages``; with ``status=``, a JSON error of that
status); ``endless=SIZE`` a body of SIZE bytes without a newline, chunked (no
Content-Length); ``huge_body=SIZE`` a whole chat completion (a message on ``/messages``)
whose content is SIZE bytes; ``gzip_bomb=SIZE`` a ``Content-Encoding: gzip`` body that
inflates to SIZE bytes (a reply opened, then spaces); ``error_body=SIZE`` an error of
status ``status=`` (default 400) whose message is SIZE bytes; ``silent`` reads the
request and never answers; ``raw=TEXT`` sends TEXT (percent-decoded to bytes) as it is,
status line and headers included or not (with ``slow=``, in flushed pieces), and closes
the connection: any framing a broken server could send. ``status=`` also replaces the
200 of the others.

Stream faults (streamed replies only): ``cut=N`` closes the connection after N events
(non-streamed: half the body); ``eof=N`` ends the stream cleanly after N events;
``no_done`` drops ``[DONE]``/``message_stop``; ``malformed=N`` makes event N invalid JSON
(bare ``malformed``: the non-streamed body); ``error_after=N`` an error event after N
events, then hangs up (on ``/responses`` OpenAI's ``error`` event, numbered N);
``failed`` ends a ``/responses`` stream with ``response.failed`` (status ``failed``,
``error: {code: server_error, message}``) instead of ``response.completed`` (other
streams: no effect); ``comment`` a comment before each event; ``crlf`` CRLF line ends;
``huge_line=SIZE`` a content delta of SIZE bytes in one ``data:`` line, first (chat) or
inside the first block (Anthropic), then the normal stream; ``huge_event=SIZE`` there
instead a content delta whose JSON is padded with whitespace to SIZE bytes (rounded up to
whole lines) in ``data:`` lines of 1 KiB; ``empty_data`` keep-alive events of empty data
(``data:``, ``data: ``) between events; ``no_final_blank`` the last event without the
blank line that dispatches it (WHATWG: discarded); ``done_first`` only the terminator
(``[DONE]``, ``message_stop``).

Transport: ``delay=MS`` before the status line, per request: each request the spec
applies to waits, in its own thread (a stream: before its first byte); ``jitter=MS`` adds
0 to MS ms more, pseudo-random but fixed by the request's number (``x-request-id``), so
parallel answers finish out of order, the same way every run; ``slow=BYTES:MS`` writes
of BYTES bytes MS ms apart; ``split_utf8`` splits writes inside UTF-8 characters;
``hang_after=SIZE`` sends SIZE bytes of the body, then stalls; ``hold=SECONDS`` (default
120) bounds how long ``silent`` and ``hang_after`` hold a connection the client keeps
open; ``burst`` writes a stream's events (each its own chunk) in one go at its end, so a
client reads many in one read; ``hangup`` closes the connection after the answer
without saying so (``Connection: close``), as a server whose keep-alive ran out does.

Heads (``writer``, ``heads``): ``slow_head=MS`` writes status lines and headers a byte
at a time, MS ms apart (0: no pause), so a client's deadline must hold while a head
trickles in; ``interim=N`` sends N interim responses (``100 Continue``, ``103 Early
Hints``, alternating) before the answer and its ``delay``, or before ``silent``'s
silence; ``drop`` reads the request and closes the connection without a byte (after
``delay``), e.g. the second request of a keep-alive connection with ``every=2``.
``redirect=`` carries the body of ``body=``, ``huge_body=``, ``gzip_bomb=`` or
``endless=``, paced by ``slow=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_to_bytes

from .fault_values import FaultError, integer, number, share, size

if TYPE_CHECKING:
    from fractions import Fraction

__all__ = ["NO_FAULTS", "SYNTAX", "FaultError", "Faults", "parse", "size"]

HOLD_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Faults:
    """One parsed fault spec; the defaults mean "no fault"."""

    spec: str = ""
    status: int | None = None
    times: int | None = None
    every: int | None = None
    share: Fraction | None = None
    budget: tuple[int, float] | None = None
    retry_after: str | None = None
    reset: str | None = None
    cost: str | None = None
    html: bool = False
    body: str | None = None
    content_type: str | None = None
    slow_bytes: int | None = None
    slow_ms: float = 0.0
    cut: int | None = None
    eof: int | None = None
    no_done: bool = False
    malformed: int | None = None
    error_after: int | None = None
    failed: bool = False
    split_utf8: bool = False
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    comment: bool = False
    crlf: bool = False
    redirect: str | None = None
    echo_headers: bool = False
    endless: int | None = None
    huge_line: int | None = None
    huge_event: int | None = None
    huge_body: int | None = None
    gzip_bomb: int | None = None
    error_body: int | None = None
    silent: bool = False
    hang_after: int | None = None
    hold: float = HOLD_SECONDS
    empty_data: bool = False
    no_final_blank: bool = False
    done_first: bool = False
    burst: bool = False
    hangup: bool = False
    raw: bytes | None = None
    slow_head_ms: float | None = None
    interim: int = 0
    drop: bool = False

    @property
    def gated(self) -> bool:
        """Whether a counter decides which requests the spec applies to."""
        return self.times is not None or self.every is not None or self.share is not None

    @property
    def hostile(self) -> bool:
        """Whether the response is one of the hostile replies of ``hostile.answer``."""
        simple = self.echo_headers or self.silent or self.raw is not None
        return simple or self.big_body or self.error_body is not None

    @property
    def big_body(self) -> bool:
        """Whether a generated body is asked for, which a redirect carries too."""
        return any(size is not None for size in (self.endless, self.huge_body, self.gzip_bomb))

    @property
    def redirect_status(self) -> int:
        """The status of ``redirect=``: ``status=`` when it is a 3xx, else 307."""
        status = self.status
        return status if status is not None and 300 <= status < 400 else 307

    @property
    def replaces_body(self) -> bool:
        """Whether the response is an injected error/replacement instead of a reply."""
        return (
            self.status is not None
            or self.html
            or self.body is not None
            or self.redirect is not None
            or self.hostile
        )

    @property
    def pause_ms(self) -> float:
        """Milliseconds to sleep between two writes of a response body."""
        if self.slow_bytes is not None:
            return self.slow_ms
        return 2.0 if self.split_utf8 else 0.0

    def headers(self, status: int = 200) -> list[tuple[str, str]]:
        """Extra response headers this spec asks for on an answer of ``status``
        (Retry-After, rate-limit reset; the response cost on a 2xx)."""
        out: list[tuple[str, str]] = []
        if self.cost is not None and 200 <= status < 300:
            out.append(("x-litellm-response-cost", self.cost))
        if self.retry_after is not None:
            out.append(("Retry-After", self.retry_after))
        if self.reset is not None:
            out.append(("x-ratelimit-limit-requests", "60"))
            out.append(("x-ratelimit-remaining-requests", "0"))
            out.append(("x-ratelimit-reset-requests", f"{self.reset}s"))
        return out


NO_FAULTS = Faults()

#: every key of a spec and the form of its value ("" for a flag), in the order of --help
SYNTAX: dict[str, str] = {
    "status": "CODE",
    "times": "N",
    "every": "N",
    "share": "P",
    "budget": "N:SECONDS",
    "retry_after": "TEXT",
    "reset": "SECONDS",
    "cost": "USD",
    "html": "",
    "body": "TEXT",
    "content_type": "TYPE",
    "redirect": "URL",
    "delay": "MS",
    "jitter": "MS",
    "slow": "BYTES:MS",
    "split_utf8": "",
    "cut": "N",
    "eof": "N",
    "no_done": "",
    "malformed": "N",
    "error_after": "N",
    "failed": "",
    "comment": "",
    "crlf": "",
    "echo_headers": "",
    "endless": "SIZE",
    "huge_line": "SIZE",
    "huge_event": "SIZE",
    "huge_body": "SIZE",
    "gzip_bomb": "SIZE",
    "error_body": "SIZE",
    "silent": "",
    "hang_after": "SIZE",
    "hold": "SECONDS",
    "empty_data": "",
    "no_final_blank": "",
    "done_first": "",
    "burst": "",
    "hangup": "",
    "raw": "TEXT",
    "slow_head": "MS",
    "interim": "N",
    "drop": "",
}
_COUNTS = {"times", "every", "cut", "eof", "malformed", "error_after", "interim"}
_TRUE = {"", "1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _item(key: str, eq: str, value: str) -> dict[str, object]:
    """The ``Faults`` fields one ``key=value`` item sets."""
    form = SYNTAX.get(key)
    if form is None:
        raise FaultError(f"unknown fault {key!r} (known: {', '.join(SYNTAX)})")
    if not form:
        if value.lower() not in _TRUE | _FALSE:
            raise FaultError(f"{key}: expected a boolean, got {value!r}")
        return {key: value.lower() in _TRUE}
    if key == "malformed" and not eq:
        return {key: 1}
    if not eq or (not value and key != "retry_after"):
        raise FaultError(f"{key} needs a value ({key}={form})")
    if key == "status":
        if not value.isdigit() or not 100 <= int(value) <= 599:
            raise FaultError(f"status: expected an HTTP status from 100 to 599, got {value!r}")
        return {key: int(value)}
    if key in _COUNTS:
        return {key: integer(key, value, 1 if key in {"times", "every", "malformed"} else 0)}
    if form == "SIZE":
        return {key: size(key, value)}
    if key == "retry_after":
        if any(c in unquote(value) for c in "\r\n"):
            raise FaultError("retry_after: a header value cannot contain a line break")
        return {key: unquote(value)}
    if key in {"reset", "hold", "cost"}:
        checked = number(key, value)
        return {key: checked if key == "hold" else value}
    if key in {"body", "content_type", "redirect"}:
        return {key: unquote(value)}
    if key == "raw":
        return {key: unquote_to_bytes(value)}
    if key == "slow":
        bytes_, colon, ms = value.partition(":")
        return {"slow_bytes": integer(key, bytes_, 1), "slow_ms": number(key, ms) if colon else 0.0}
    if key == "share":
        return {key: share(value)}
    if key == "budget":
        n, colon, span = value.partition(":")
        window = number(key, span) if colon else 0.0
        if not window:
            raise FaultError(f"budget: expected N:SECONDS, SECONDS above 0, got {value!r}")
        return {key: (integer(key, n, 1), window)}
    return {f"{key}_ms": number(key, value)}  # delay, jitter, slow_head


def parse(spec: str | None) -> Faults:
    """Parse a fault spec; ``None`` or an empty spec gives ``NO_FAULTS``."""
    spec = (spec or "").strip()
    if not spec:
        return NO_FAULTS
    values: dict[str, object] = {"spec": spec}
    for raw in spec.split(";"):
        item = raw.strip()
        if item:
            key, eq, value = item.partition("=")
            values.update(_item(key.strip().lower().replace("-", "_"), eq, value.strip()))
    return Faults(**values)  # type: ignore[arg-type]
