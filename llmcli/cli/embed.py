"""``llmcli embed``: one JSON line per input, in input order, at corpus scale.

Inputs stream in (one per line, or one per file with ``--whole``, or JSONL with
``--jsonl-in``), go out in batches with several in flight, and come back out in input
order, so memory stays flat however long the input. Each batch has the core's retries,
so a 429 in the middle of a long run slows it down instead of ending it.
"""

import dataclasses
import itertools
import os
import time
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmcli.cli.client import dry_run, open_client, output, report_usage
from llmcli.cli.options import Caching, Common, Param, grouped
from llmcli.errors import DataError, UsageError
from llmcli.io import inputs

if TYPE_CHECKING:
    from llmcli.batch.embed import Embedded


class OnEmpty(StrEnum):
    skip = "skip"
    error = "error"


class Encoding(StrEnum):
    float = "float"
    base64 = "base64"


@dataclasses.dataclass(frozen=True, slots=True)
class Item:
    text: str
    position: int
    carry: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EmbedInputs:
    text: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TEXT]...", help="Texts to embed, one input each.", show_default=False
        ),
    ] = None
    file: Annotated[
        list[str] | None,
        typer.Option("-f", "--file", metavar="PATH", help="One input per line ('-' is stdin)."),
    ] = None
    whole: Annotated[
        bool, typer.Option("--whole", help="Each file (or stdin) is one input, not one per line.")
    ] = False
    jsonl_in: Annotated[
        bool,
        typer.Option("--jsonl-in", help="Lines are JSON objects: embed --field, carry the rest."),
    ] = False
    field: Annotated[
        str, typer.Option("--field", metavar="NAME", help="With --jsonl-in: the text's field.")
    ] = "text"
    empty: Annotated[
        OnEmpty, typer.Option("--empty", help="An empty input is skipped, or an error (65).")
    ] = OnEmpty.skip
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not read piped stdin.")] = False
    body: Annotated[
        str | None,
        typer.Option(
            "--body",
            metavar="FILE",
            help="A whole embeddings request body; its input is embedded, flags override "
            "its fields.",
        ),
    ] = None


def _items(spec: EmbedInputs, stdin: inputs.Stdin, given: list[str]) -> Iterator[Item]:
    """Every input in order; ``position`` counts the empty ones too, so an output line's
    ``index`` is its input's place (0-based) even when empty lines are skipped. ``given``
    are the inputs of a --body file."""
    files = list(spec.file or [])
    if not files and not spec.text and not given and stdin.piped and spec.body != "-":
        files = [inputs.STDIN]

    def candidates() -> Iterator[tuple[str, int, str, dict[str, Any] | None]]:
        for path in files:
            if spec.whole:
                yield path, 1, inputs.read_text(path, stdin).rstrip("\r\n"), None
                continue
            for name, number, line in inputs.iter_lines([path], stdin):
                if not spec.jsonl_in:
                    yield name, number, line, None
                elif line.strip():
                    record = inputs.json_object(line, name, number)
                    text = record.pop(spec.field, None)
                    if not isinstance(text, str):
                        raise DataError(f'{name}:{number}:1: no string "{spec.field}" field')
                    yield name, number, text, record
        for number, text in enumerate(given, start=1):
            yield f"--body {spec.body}", number, text, None
        for number, text in enumerate(spec.text or [], start=1):
            yield "TEXT", number, text, None

    for position, (name, number, text, carry) in enumerate(candidates()):
        if text.strip():
            yield Item(text, position, carry)
        elif spec.empty == OnEmpty.error:
            raise DataError(f"{name}:{number}:1: empty input (--empty skip passes over it)")


def _body(spec: EmbedInputs, stdin: inputs.Stdin) -> tuple[dict[str, Any], list[str]]:
    """The fields of a --body file, and its inputs (a string or a list of strings)."""
    if spec.body is None:
        return {}, []
    loaded = inputs.load_json(spec.body, stdin)
    if not isinstance(loaded, dict):
        raise DataError(f"--body {spec.body}: expected a JSON object")
    given = loaded.pop("input", None)
    if isinstance(given, str):
        given = [given]
    if given is not None and not (
        isinstance(given, list) and all(isinstance(t, str) for t in given)
    ):
        raise DataError(f'--body {spec.body}: "input" must be a string or a list of strings')
    return loaded, given or []


def _batches(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    """Batches of ``size``; a read error still yields the batch of lines before it."""
    while True:
        batch: list[Item] = []
        try:
            batch.extend(itertools.islice(items, size))
        except DataError:
            if batch:
                yield batch
            raise
        if not batch:
            return
        yield batch


@grouped
def embed(
    spec: EmbedInputs,
    common: Common,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, metavar="N", help="Inputs per request.")
    ] = 100,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, metavar="N", help="Requests in flight at once.")
    ] = 4,
    dimensions: Annotated[
        int | None, typer.Option("--dimensions", min=1, metavar="N", help="Vector size.")
    ] = None,
    encoding_format: Annotated[
        Encoding | None,
        typer.Option(
            "--encoding-format",
            help="base64: smaller answers, decoded to floats here; same output.",
        ),
    ] = None,
    param: Param = None,
    caching: Caching = Caching(),
) -> None:
    """Embed texts: one JSON line per input, in input order, {"index": i, "embedding":
    [...]} plus the fields carried from --jsonl-in. Inputs are TEXT arguments, or the
    lines of -f files or piped stdin; empty lines are skipped unless --empty error. Batches
    go out --parallel at a time, each with retries, and memory stays flat. The model is
    -m, then --body's model, then LLMCLI_EMBEDDING_MODEL, then the gateway's.

    \b
    Examples:
      cut -f2 docs.tsv | llmcli embed > vectors.jsonl
      llmcli embed --jsonl-in --field body -f docs.jsonl | jq -c '{id, n: (.embedding|length)}'
      seq 1 100000 | llmcli embed -g mock --batch-size 256 --parallel 4 | wc -l
    """
    fmt = common.output.value if common.output else "jsonl"
    if fmt in ("sse", "text"):
        raise UsageError(f"-o {fmt} does not fit embeddings: use jsonl (default) or json")
    stdin = inputs.Stdin.from_process(ignore=spec.no_stdin)
    extra, given = _body(spec, stdin)
    for item in param or []:
        path, value = inputs.parse_param(item)
        inputs.set_path(extra, path, value)
    from llmcli.http.governor import Governor

    governor = Governor(parallel)
    with open_client(
        common, require_key=not common.dry_run, governor=governor, caching=caching
    ) as client:
        client.gateway.url("embeddings")  # a gateway without embeddings says so first
        model = (
            common.model
            or extra.pop("model", None)
            or os.environ.get("LLMCLI_EMBEDDING_MODEL")
            or client.gateway.embedding_model
        )
        if not model:
            raise UsageError("no embedding model: pass -m MODEL or set LLMCLI_EMBEDDING_MODEL")
        encoding = encoding_format.value if encoding_format else None
        from llmcli.batch.embed import Embedder, Totals  # threads only when embedding

        embedder = Embedder(client, model, dimensions, encoding, extra)
        batches = _batches(_items(spec, stdin, given), batch_size)
        if common.dry_run:
            first = next(batches, None)
            if first is None:
                raise UsageError("nothing to embed: give TEXT, -f FILE, or pipe lines in")
            dry_run(embedder.request([item.text for item in first]))
            return
        totals = Totals()
        done = _write(embedder.run(batches, text=_text, parallel=parallel, totals=totals), fmt)
        if done == 0:
            raise UsageError("nothing to embed: give TEXT, -f FILE, or pipe lines in")
        report_usage(common, client, {"usage": totals.usage or None}, model=model)


def _text(item: Item) -> str:
    return item.text


def _write(answers: "Iterator[tuple[Sequence[Item], Embedded]]", fmt: str) -> int:
    """Each answer as it comes: -o json its body as sent, -o jsonl a line per input
    (the fields carried from --jsonl-in, ``index``, ``embedding``); how many inputs."""
    out = output()
    done = 0
    started = time.monotonic()
    try:
        for batch, embedded in answers:
            if fmt == "json":  # each answer body as sent
                raw = embedded.raw
                out.data(raw if raw.endswith(b"\n") else raw + b"\n")
                done += len(batch)
            else:
                for item, vector in zip(batch, embedded.vectors, strict=True):
                    out.jsonl({**(item.carry or {}), "index": item.position, "embedding": vector})
                done += len(batch)
            out.flush()
            out.progress(f"{done:,} inputs · {done / max(time.monotonic() - started, 1e-9):,.0f}/s")
    finally:
        out.progress(None)
    return done
