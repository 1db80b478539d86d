"""``llmcli batch run``: one request per input line, N in flight, one result line each.

Flags -> ``llmcli.batch`` -> result lines, flushed as each row is answered (a killed run
keeps what it paid for). See DESIGN.md, "Batch runs", and ``llmcli.batch``.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Annotated, Any

import orjson
import typer

from llmcli.cli import template_use, tool_flags
from llmcli.cli.client import open_client, output
from llmcli.cli.options import Caching, Connection, Param, Temperature, TemplateVar, grouped
from llmcli.cli.prompt import Prompt
from llmcli.cli.tool_flags import ToolFlags
from llmcli.errors import DataError, InputFileError, TemporaryError, UsageError
from llmcli.io import inputs

if TYPE_CHECKING:
    from llmcli.batch.results_file import ResultsFile
    from llmcli.batch.runner import Tally
    from llmcli.client import Client
    from llmcli.io.outputs import Output

app = typer.Typer(
    name="batch",
    help="""Many requests from JSONL, one result line per input line: batch run sends
    them from here, N in flight, paced by --rpm and --tpm, the whole run paused by a 429;
    -o FILE --resume completes a run that was stopped or that failed in part. batch
    submit sends the same file to the gateway's own batch API (OpenAI, Anthropic: half
    the price, within 24 hours); status, fetch, cancel and list follow it up, and fetch
    writes the same lines as batch run. Run 'llmcli batch COMMAND --help' for a command's
    options and examples.

    \b
    Examples:
      cut -f2 questions.tsv | llmcli batch run -g openai -m gpt-5-mini -P 16 -o answers.jsonl
      llmcli batch run rows.jsonl -g openai -m gpt-5-mini -o answers.jsonl --resume
      llmcli batch submit rows.jsonl -g openai -m m | jq -r .id | xargs llmcli batch fetch --wait
    """,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    index, sep, count = value.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 0 <= int(index) < int(count):
        raise UsageError(f"--shard {value!r}: expected K/N with 0 <= K < N, e.g. 0/4")
    return int(index), int(count)


def open_input(path: str | None) -> IO[bytes]:
    if path in (None, "-"):
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("no input: give FILE, or pipe JSONL lines in")
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as e:
        raise InputFileError(f"{path}: {e.strerror or e}") from None


def input_texts(source: IO[bytes], name: str) -> Any:
    """The input's lines, each read with a bound: a line over 64 MiB is exit 65."""
    number = 0
    while raw := source.readline(inputs.MAX_INPUT + 1):
        number += 1
        if len(raw) > inputs.MAX_INPUT:
            raise DataError(f"{name}:{number}: a line over 64 MiB")
        yield raw.decode("utf-8", "replace")


# the request flags every batch command that reads input lines takes
System = Annotated[
    str | None, typer.Option("-s", "--system", metavar="TEXT", help="System prompt.")
]
MaxTokens = Annotated[
    int | None, typer.Option("--max-tokens", metavar="N", help="Most tokens to generate.")
]


@app.command("run", short_help="Send JSONL rows, N in flight; one result line each.")
@grouped
def run(
    file: Annotated[
        str | None,
        typer.Argument(metavar="[FILE]", help="JSONL input; stdin when absent or '-'."),
    ] = None,
    conn: Connection = Connection(),
    out_file: Annotated[
        str | None,
        typer.Option("-o", "--output", metavar="FILE", help="Append result lines to FILE."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="With -o: skip rows FILE already has a 2xx answer for."),
    ] = False,
    parallel: Annotated[
        int, typer.Option("-P", "--parallel", min=1, metavar="N", help="Requests in flight.")
    ] = 8,
    rpm: Annotated[
        float | None, typer.Option("--rpm", min=0, metavar="N", help="At most N requests a minute.")
    ] = None,
    tpm: Annotated[
        float | None,
        typer.Option("--tpm", min=0, metavar="N", help="At most N tokens a minute (estimated)."),
    ] = None,
    max_wait: Annotated[
        float,
        typer.Option(
            "--max-wait", min=0, metavar="S", help="A row waits out 429/503 pauses this long."
        ),
    ] = 600.0,
    unordered: Annotated[
        bool, typer.Option("--unordered", help="Write rows as they finish, not in input order.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="K/N", help="Only rows whose custom_id hashes to K of N."),
    ] = None,
    system: System = None,
    max_tokens: MaxTokens = None,
    temperature: Temperature = None,
    param: Param = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            metavar="USD",
            min=0,
            help="Send no row whose worst case (spent, in flight, its input and max tokens) "
            "could pass USD; then stop (77, --resume continues).",
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "-t",
            "--template",
            metavar="NAME",
            help="A prompt template: its prompt around each prompt line; its system, model "
            "and params defaults of every row.",
        ),
    ] = None,
    var: TemplateVar = None,
    running: ToolFlags = ToolFlags(),
    caching: Caching = Caching(),
) -> None:
    """Send one request per input line, -P at a time, and write one result line per input
    line, in input order: OpenAI's batch output shape {id, custom_id, response:
    {status_code, request_id, body}, error}. Lines are OpenAI batch lines (chat,
    embeddings, messages urls), Anthropic {custom_id, params} lines, {custom_id, body} or
    bare chat bodies, or plain prompts; -m, -s, -p and the other request flags apply to
    every row that does not set them. A bad line becomes an error row and is never sent;
    a 429/503 pauses the whole run; 401/402/403 stop it. Exit 0 when every row succeeded,
    75 when some failed for a temporary reason (--resume completes them), else 65.
    Rows that declare tools bound with --tool-cmd (or every row, with --mcp) run the
    calls --approve approves (nobody is asked: a row calling another is an error row,
    tool_not_approved) and their lines hold the final replies.

    \b
    Examples:
      cut -f2 questions.tsv | llmcli batch run -g openai -m gpt-5-mini -P 32 -o out.jsonl --resume
      git ls-files '*.py' | llmcli batch run -g mock -m echo -s 'Review this path.' | jq -c .
      llmcli batch run rows.jsonl --shard "$SLURM_ARRAY_TASK_ID/8" -o "out.$SLURM_ARRAY_TASK_ID"
    """
    from llmcli.batch import runner
    from llmcli.batch.lines import Defaults
    from llmcli.batch.results_file import ResultsFile
    from llmcli.http.governor import Governor

    where = _shard(shard)
    tool_flags.check(running)
    chosen = template_use.named(template, var)
    fill = None
    if chosen is not None:
        values = template_use.variables(var)
        conn = template_use.defaults(chosen, Prompt(), conn, None)[1]
        system = system if system is not None else chosen.system
        if chosen.prompt is not None:
            fill = lambda text: chosen.fill(text, values) or ""  # noqa: E731
    if resume and out_file is None:
        raise UsageError("--resume needs -o FILE: the file whose answered rows are skipped")
    if not conn.dry_run:
        from llmcli.batch import descriptors

        descriptors.ensure(parallel)  # a connection for each request in flight
    governor = Governor(parallel, max_wait=max_wait)
    with open_client(
        conn, require_key=not conn.dry_run, governor=governor, caching=caching
    ) as client:
        options = {"max_tokens": max_tokens, "temperature": temperature}
        params = [inputs.parse_param(item) for item in param or []]
        if chosen is not None:  # under -p
            params += [([key], value) for key, value in chosen.params.items()]
        defaults = Defaults.of(client, system=system, params=params, options=options, prompt=fill)
        source = open_input(file)
        name = file if file not in (None, "-") else "<stdin>"
        if resume:  # a repeated custom_id would make --resume drop or resend answered rows
            source = _check_ids(source, name, defaults)
        # locked, and rewritten without the rows to send again, before anything is sent
        sink = ResultsFile(out_file, resume=resume) if out_file and not conn.dry_run else None
        done = sink.done if sink is not None else set()
        rows = runner.rows_of(input_texts(source, name), defaults, where, done.__contains__)
        if max_cost is not None:
            _check_priced(client, defaults.model, max_cost, conn.refresh_prices)
        if conn.dry_run:
            _plan(rows, where, len(done), client, conn.refresh_prices)
            return
        tally = runner.Tally()
        if conn.usage or output().terminal.stderr_tty:  # the running total: what it cost
            from llmcli.prices import PriceBook

            book = PriceBook(client, refresh=conn.refresh_prices)
            tally.price = lambda usage, model: book.cost(usage, (model,))
        total = _count_lines(file) if output().terminal.stderr_tty else None
        if total is not None:  # about: blank lines count, and a shard holds about 1/N
            total = max(total // (where[1] if where else 1) - len(done), 0)
        started = time.monotonic()
        log = output().note if conn.verbose else None
        with tool_flags.toolbox(running, "chat", {}, client.secrets, log, False, True) as box:
            answered = runner.groups(
                rows,
                client=client,
                parallel=parallel,
                ordered=not unordered,
                rpm=rpm,
                tpm=tpm,
                max_cost=max_cost,
                tools=box,
            )
            _write_rows(answered, sink, tally, started, total)
    _report(conn, tally, started, len(done))
    if tally.temporary:
        raise TemporaryError(
            f"{tally.temporary} of {tally.rows} rows failed for a temporary reason: run again "
            "with --resume to complete them"
        )
    if tally.rejected:
        raise DataError(tally.rejection())


def _write_rows(
    answered: Any, sink: ResultsFile | None, tally: Tally, started: float, total: int | None
) -> None:
    """Each result line to FILE (whole, or the run stops with 73) or stdout (flushed),
    counted, with progress on a terminal; the lines ready together with one write."""
    out = output()
    try:
        for group in answered:
            data = b"".join([orjson.dumps(row) + b"\n" for row in group])
            if sink is not None:
                sink.write(data)
            else:
                out.data(data)
                out.flush()
            for row in group:
                tally.count(row)
                _progress(out, tally, started, total)
    finally:
        out.progress(None)
        if sink is not None:
            sink.close()


def _check_ids(source: IO[bytes], name: str, defaults: Any) -> IO[bytes]:
    """The input, read once to check that no custom_id repeats (exit 65 naming both
    lines), then from its start again: stdin is kept in a temporary file for that."""
    from llmcli.batch import lines, runner

    if not source.seekable():
        import shutil
        import tempfile

        spool = tempfile.TemporaryFile()  # noqa: SIM115 (returned open)
        shutil.copyfileobj(source, spool, 1 << 20)
        spool.seek(0)
        source = spool
    start = source.tell()
    repeat = lines.repeated_id(runner.rows_of(input_texts(source, name), defaults))
    if repeat is not None:
        custom_id, first, again = repeat
        raise DataError(
            f"{name}:{again}: custom_id {custom_id!r} is also on line {first}; --resume "
            "needs each custom_id once (nothing was sent)"
        )
    source.seek(start)
    return source


def _plan(
    rows: Any, where: tuple[int, int] | None, skipped: int, client: Client, refresh: bool
) -> None:
    """``--dry-run``: what the run would send, and what it may cost (nothing is sent;
    prices from the config file or a cached price list, fetched only with
    --refresh-prices)."""
    from llmcli.batch.estimate import Estimate
    from llmcli.prices import PriceBook

    endpoints: dict[str, int] = {}
    invalid: list[str] = []
    estimate = Estimate(PriceBook(client, refresh=refresh, fetch=refresh))
    for row in rows:
        if row.problem is not None:
            invalid.append(row.problem)
        else:
            endpoints[row.endpoint] = endpoints.get(row.endpoint, 0) + 1
            estimate.add(client.body(row.endpoint, row.body))
    plan = {
        "rows": sum(endpoints.values()) + len(invalid),
        "endpoints": endpoints,
        "invalid": len(invalid),
        "shard": f"{where[0]}/{where[1]}" if where else None,
        "resume_skipped": skipped,
        "estimate": estimate.as_json(),
    }
    output().json(plan)
    for problem in invalid[:20]:
        output().note(f"llmcli: {problem}")


def _check_priced(client: Client, model: str | None, cap: float, refresh: bool) -> None:
    """--max-cost with no price for the run's model: a usage error, before anything."""
    from llmcli.prices import PriceBook
    from llmcli.spend import Spend

    if model:
        Spend(cap, PriceBook(client, refresh=refresh)).price(model)


def _count_lines(path: str | None) -> int | None:
    """Lines of an input file, for the ETA (None for stdin: it is read once)."""
    if path in (None, "-"):
        return None
    count = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
    return count


def _progress(out: Output, tally: Tally, started: float, total: int | None) -> None:
    if tally.rows % 64 and tally.rows > 64:
        return
    rate = tally.rows / max(time.monotonic() - started, 1e-9)
    failed = tally.rejected + tally.temporary
    done = f"{tally.rows:,}/{total:,}" if total else f"{tally.rows:,}"
    eta = f" · ETA {max(total - tally.rows, 0) / max(rate, 1e-9):,.0f}s" if total else ""
    spent = f" · ${tally.cost:,.4f}" if tally.price is not None and not tally.unpriced else ""
    out.progress(f"{done} rows · {rate:,.0f}/s · {failed:,} failed{spent}{eta}")


def _report(conn: Connection, tally: Tally, started: float, skipped: int) -> None:
    if not conn.usage:
        return
    seconds = time.monotonic() - started
    output().usage_line(
        {
            "rows": tally.rows,
            "ok": tally.ok,
            "failed": tally.rejected + tally.temporary,
            "rejected": tally.rejected,
            "temporary": tally.temporary,
            "skipped": skipped,
            "usage": tally.usage or None,
            # USD of the answered rows; null when one had no known cost (never a guess)
            "cost": round(tally.cost, 10) if tally.ok and not tally.unpriced else None,
            "unpriced_rows": tally.unpriced,
            "seconds": round(seconds, 3),
            "rows_per_s": round(tally.rows / max(seconds, 1e-9), 1),
        }
    )
