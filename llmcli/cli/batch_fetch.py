"""``llmcli batch fetch``: the results of provider batches as ``batch run``'s output
lines, in the order of the submitted input, with the same exit statuses.

``-o FILE`` is written whole, then renamed into place: fetching again gives the same
file, never a doubled one. ``--wait`` polls every batch until it has ended (1 s, then
half as long again each time, at most 60 s apart), with a progress line on a terminal.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import IO, TYPE_CHECKING, Annotated

import orjson
import typer

from llmcli.cli.batch import app
from llmcli.cli.client import open_client, output
from llmcli.cli.options import Connection, grouped
from llmcli.cli.provider_batch import (
    POLL_FIRST,
    POLL_GROWTH,
    POLL_MOST,
    Ids,
    batches_of,
    check_ids,
    connection_for,
    dry_run_all,
)
from llmcli.errors import DataError, OutputFileError, TemporaryError

if TYPE_CHECKING:
    from llmcli.batch.fetch import Batch
    from llmcli.batch.provider import Provider
    from llmcli.io.outputs import Output


@app.command("fetch", short_help="Results of batches as batch run's lines, in input order.")
@grouped
def fetch(
    ids: Ids,
    conn: Connection = Connection(),
    out_file: Annotated[
        str | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write the result lines to FILE."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Poll until every batch has ended, then fetch.")
    ] = False,
) -> None:
    """Download the results of ended batches and write them in batch run's output shape
    {id, custom_id, response: {status_code, request_id, body}, error}, in the order of the
    input they were submitted from (lines that were not sent answered where they stood);
    Anthropic's succeeded/errored/canceled/expired results converted. A batch not ended
    is exit 75 unless --wait. Exit 0 when every row succeeded, 75 when some failed for a
    temporary reason (expired, cancelled), else 65 when some were rejected.

    \b
    Examples:
      llmcli batch fetch batch_abc --wait -o answers.jsonl
      llmcli batch fetch $(cat ids) | jq -r '.response.body.choices[0].message.content'
      jq -r .id submitted.jsonl | xargs llmcli batch fetch --wait | jq -c 'select(.error)'
    """
    from llmcli.batch import fetch as fetching
    from llmcli.batch import outcomes
    from llmcli.batch.runner import Tally

    ids = check_ids(ids)
    sink, temporary = _open(out_file) if not conn.dry_run else (None, None)  # 73 before sending
    try:
        with open_client(connection_for(conn, ids), require_key=not conn.dry_run) as client:
            pairs = list(batches_of(client, ids))
            if conn.dry_run:
                dry_run_all(client, [(p, "GET", p.path(b.id)) for b, p in pairs])
                return
            for batch, provider in pairs:
                batch.state = provider.get(batch.id)
            pending = [(b, p) for b, p in pairs if not outcomes.ended(b.api, b.state)]
            if pending and not wait:
                first = pending[0][0]
                raise TemporaryError(
                    f"batch {first.id} is {outcomes.progress(first.api, first.state)}: "
                    "fetch it again later, or add --wait"
                )
            out = output()
            try:
                if pending:
                    _wait(pending, out)
                providers = {p.api: p for _, p in pairs}
                tally = Tally()
                write = sink.write if sink is not None else out.data
                for row in fetching.rows([b for b, _ in pairs], providers.__getitem__):
                    write(orjson.dumps(row) + b"\n")
                    if sink is None:
                        out.flush()
                    tally.count(row)
                if sink is not None and out_file is not None and temporary is not None:
                    sink.flush()
                    os.fsync(sink.fileno())
                    sink.close()
                    os.replace(temporary, out_file)
                    temporary = None
            finally:
                out.progress(None)
    finally:
        _discard(sink, temporary)  # closes the file; removes it unless renamed into place
    if tally.temporary:
        raise TemporaryError(
            f"{tally.temporary} of {tally.rows} rows failed for a temporary reason "
            "(expired, cancelled or not answered): submit them again, or batch run --resume"
        )
    if tally.rejected:
        raise DataError(tally.rejection())


def _discard(sink: IO[bytes] | None, temporary: str | None) -> None:
    if sink is not None:
        sink.close()
    if temporary is not None:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _open(path: str | None) -> tuple[IO[bytes] | None, str | None]:
    """A temporary file beside ``path``, renamed onto it when every row is written."""
    if path is None:
        return None, None
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.llmcli-fetch.{os.getpid()}.tmp")
    try:
        return open(temporary, "wb"), temporary
    except OSError as e:
        raise OutputFileError(f"cannot write {path}: {e.strerror or e}") from None


def _wait(pending: list[tuple[Batch, Provider]], out: Output) -> None:
    from llmcli.batch import outcomes

    interval, started, total = POLL_FIRST, time.monotonic(), len(pending)
    while pending:
        batch = pending[0][0]
        elapsed = time.monotonic() - started
        out.progress(
            f"{total - len(pending)}/{total} batches ended · {batch.id}: "
            f"{outcomes.progress(batch.api, batch.state)} · {elapsed:,.0f}s"
        )
        time.sleep(interval)
        interval = min(interval * POLL_GROWTH, POLL_MOST)
        for batch, provider in pending:
            batch.state = provider.get(batch.id)
        pending = [(b, p) for b, p in pending if not outcomes.ended(b.api, b.state)]
