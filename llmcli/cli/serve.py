"""``llmcli serve``: the offline gateway on 127.0.0.1, for tests, demos and CI.

A mistake on the command line (an unknown profile, a bad ``--fault`` spec) is a usage
error (exit 2) naming what is valid, found before anything listens; an address that
cannot be bound is exit 69. ``EPILOG`` lists every fault with its units, for ``--help``.

Each request is logged on stderr, one line (``POST /v1/chat/completions 200 3 ms
model=echo``), unless ``--quiet``: a parent that pipes stderr and never reads it would
otherwise stall the gateway once the pipe is full.

``--batch-dir`` and ``--batch-seconds`` set where the batch APIs keep their objects and
how long a batch runs; a bad ``--batch-seconds`` is a usage error, a ``--batch-dir``
that cannot be made exit 73. ``--replay FILE`` answers from a cassette (``--record``);
one that cannot be read is exit 66, a bad line 65.

The default port, 8765, is none of the local servers' llmcli knows (llama.cpp's 8080,
vLLM's 8000, Ollama's 11434, LM Studio's 1234), so both can run at once.
"""

import contextlib
import os
import sys
from typing import Annotated

import typer

from llmcli.errors import DataError, InputFileError, OutputFileError, UsageError

# each key of llmcli.mock.faults.SYNTAX with its value, and what it does (units)
FAULTS: tuple[tuple[str, str], ...] = (
    ("status=CODE", "answer this HTTP status, an error in the profile's shape"),
    ("times=N", "apply the spec to the first N requests carrying it only"),
    ("every=N", "apply it to every Nth request carrying it only"),
    ("share=P", "apply it to a share P (0<P<=1) of them, evenly spread"),
    ("budget=N:SECONDS", "N requests per SECONDS window, then 429 till it ends"),
    ("retry_after=TEXT", "send Retry-After: TEXT as given (percent-decoded)"),
    ("reset=SECONDS", "send x-ratelimit-*-requests headers, reset in SECONDS"),
    ("cost=USD", "send x-litellm-response-cost: USD on a 2xx"),
    ("html", "answer a proxy's HTML error page"),
    ("body=TEXT", "answer this body (percent-decoded), as text/plain"),
    ("content_type=TYPE", "the Content-Type of body= (percent-decoded)"),
    ("redirect=URL", "answer 307 (or status=3xx) to URL, any scheme"),
    ("delay=MS", "wait MS milliseconds before each status line"),
    ("jitter=MS", "wait 0..MS ms more, fixed per request number"),
    ("slow=BYTES:MS", "write BYTES bytes at a time, MS milliseconds apart"),
    ("split_utf8", "split writes inside UTF-8 characters"),
    ("cut=N", "hang up after N stream events (a whole body: halfway)"),
    ("eof=N", "end the stream cleanly after N events"),
    ("no_done", "drop [DONE], message_stop or response.completed"),
    ("malformed=N", "make event N invalid JSON (bare: the whole body)"),
    ("error_after=N", "send an error event after N events, then hang up"),
    ("failed", "end a /responses stream with response.failed"),
    ("comment", "send a comment line before each event"),
    ("crlf", "end stream lines with CRLF"),
    ("echo_headers", "an error repeating every request header, keys included"),
    ("endless=SIZE", "a 200 body of SIZE bytes without a newline, chunked"),
    ("huge_line=SIZE", "first stream event: one data: line of SIZE bytes"),
    ("huge_event=SIZE", "a stream event of SIZE bytes in 1 KiB data: lines"),
    ("huge_body=SIZE", "a whole reply whose content is SIZE bytes"),
    ("gzip_bomb=SIZE", "a gzip body that inflates to SIZE bytes"),
    ("error_body=SIZE", "an error (status=, default 400) of SIZE bytes"),
    ("silent", "read the request, never answer"),
    ("hang_after=SIZE", "send SIZE bytes of the reply, then stall"),
    ("hold=SECONDS", "how long silent/hang_after stall (default 120 s)"),
    ("empty_data", "empty data: events between stream events"),
    ("no_final_blank", "the last event lacks the blank line ending it"),
    ("done_first", "a stream of only [DONE] / message_stop"),
    ("burst", "write a stream's events all at once, at its end"),
    ("hangup", "close the connection after the answer, unannounced"),
    ("raw=TEXT", "send TEXT (percent-decoded) as it is, then hang up"),
    ("slow_head=MS", "write the head a byte at a time, MS milliseconds apart"),
    ("interim=N", "send N interim responses (100, 103) before the answer"),
    ("drop", "read the request, then close without a byte"),
)


def _epilog() -> str:
    width = max(len(item) for item, _ in FAULTS)
    return "\n".join(
        [
            "\b",
            "Faults: --fault SPEC, or the X-Mock-Fault header of one request; SPEC is",
            "';'-separated items, e.g. 'status=429;every=2;retry_after=1'.",
            *(f"  {item:<{width}}  {meaning}" for item, meaning in FAULTS),
            "",
            "\b",
            "SIZE is bytes, or with a suffix k, M or G (KiB, MiB, GiB): endless=300M.",
            "budget= counts every request carrying its spec (the server's, or one",
            "header's) and sends x-ratelimit-*-requests headers (anthropic-ratelimit-*",
            "on /messages); the other items apply to the requests it lets through.",
            "Every answer carries x-request-id and request-id: req_1, req_2 ...",
        ]
    )


EPILOG = _epilog()


def serve(
    port: Annotated[
        int,
        typer.Option(
            "--port", metavar="PORT", min=0, max=65535, help="Port to listen on (0: any free port)."
        ),
    ] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    profile: Annotated[str, typer.Option("--profile", help="Which gateway to imitate.")] = "mock",
    fault: Annotated[
        str | None,
        typer.Option(
            "--fault",
            metavar="SPEC",
            help="Inject faults, e.g. 'status=429;times=1'; --help lists them all.",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Do not log each request on stderr.")
    ] = False,
    batch_dir: Annotated[
        str | None,
        typer.Option(
            "--batch-dir",
            metavar="DIR",
            help="Keep the batch APIs' files and batches in DIR, shared with every gateway "
            "given it (default: a temporary directory, removed on exit).",
        ),
    ] = None,
    batch_seconds: Annotated[
        float,
        typer.Option(
            "--batch-seconds",
            metavar="S",
            help="How long a batch runs, from created to completed or ended.",
        ),
    ] = 3.0,
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            metavar="FILE",
            help="Answer every request from the cassette FILE (made with --record) instead.",
        ),
    ] = None,
    latency: Annotated[
        float | None,
        typer.Option(
            "--latency",
            metavar="SECONDS",
            min=0,
            help="For load tests: answer every request after SECONDS, however many at once, "
            "with fixed replies (chat, embeddings, models); GET /v1/_stats counts them.",
        ),
    ] = None,
) -> None:
    """Run the offline gateway until interrupted: deterministic models (echo, lorem, think,
    tools, unicode, embed-small, embed-large), the wire format of a seed gateway with
    --profile, and injectable faults. Prints its base URL on stdout once it listens,
    then logs each request on stderr (method, path, status, milliseconds, model). The
    tools model calls every function tool a request offers (arguments made from each
    schema; mock_tool_rounds=N: N rounds), then quotes the results it is sent.
    -g mock runs the same gateway in-process, silently, without serve. It also serves
    the batch APIs (OpenAI's /files and /batches, Anthropic's /messages/batches; the
    anthropic profile only the latter): each batch runs for a few seconds, kept in
    --batch-dir, its results in shuffled order; a custom_id starting with "expire"
    expires, as does every row of an OpenAI batch with metadata {"mock_expire": "true"}.
    With --replay it answers from a cassette instead: each recorded request gets its
    recorded answers in order; any other is a 404 naming the nearest recorded one. With
    --latency S every request is answered after S seconds by one event loop, however
    many are in flight (fixed replies; GET /v1/_stats: in flight, the most, answered).

    \b
    Examples:
      llmcli serve &
      seq 3 | xargs -I{} llmcli chat --base-url http://127.0.0.1:8765/v1 -m lorem 'item {}'
      llmcli serve 2>&1 >/dev/null | grep ' 5[0-9][0-9] ' & # the failing requests
    """
    from llmcli import mock
    from llmcli.mock.cassette import CassetteError
    from llmcli.mock.faults import FaultError, parse

    if profile not in mock.PROFILES:
        known = ", ".join(mock.PROFILES)
        raise UsageError(f"unknown profile {profile!r} (choose from: {known})")
    try:
        parse(fault)
    except FaultError as e:
        raise UsageError(f"--fault: {e}") from None
    if not batch_seconds > 0:
        raise UsageError(f"--batch-seconds: must be above 0, got {batch_seconds:g}")
    if batch_dir is not None:
        try:
            os.makedirs(batch_dir, exist_ok=True)
        except OSError as e:
            raise OutputFileError(f"--batch-dir: cannot create {batch_dir}: {e.strerror}") from None

    def ready(base_url: str) -> None:
        sys.stdout.write(base_url + "\n")
        sys.stdout.flush()

    def log(line: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # stderr closed: serve on, unheard
            sys.stderr.write(line + "\n")

    if latency is not None:  # one event loop: thousands in flight, none the slower
        from llmcli.mock import latency as fixed

        try:
            fixed.serve_forever(latency, port, ready, host)
        except OSError as e:
            raise UsageError(
                f"cannot listen on {host}:{port}: {e.strerror or e}: choose another with "
                "--port N (0: any free one)"
            ) from None
        return

    try:
        mock.serve_forever(
            profile,
            host=host,
            port=port,
            faults=fault,
            ready=ready,
            log=None if quiet else log,
            batch_dir=batch_dir,
            batch_seconds=batch_seconds,
            replay=replay,
        )
    except mock.ListenError as e:  # the flags asked for it: a usage error, as a bad flag is
        raise UsageError(f"{e.message}: choose another with --port N (0: any free one)") from None
    except CassetteError as e:
        raise DataError(str(e)) from None
    except OSError as e:
        if replay is None:
            raise
        raise InputFileError(f"cannot read cassette {replay}: {e.strerror or e}") from None
