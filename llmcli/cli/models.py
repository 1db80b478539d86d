"""``llmcli models``: what a gateway serves — ids for pipes, a table for people."""

from typing import Annotated, Any

import typer

from llmcli.cli.client import dry_run, open_client, output, report_usage
from llmcli.cli.options import Common, grouped
from llmcli.errors import DataError, UsageError
from llmcli.http.request import parse_reply
from llmcli.io.outputs import Output
from llmcli.protocol import model_list as catalog

JSON = dict[str, Any]


@grouped
def models(
    model_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Show this one model.", show_default=False)
    ] = None,
    common: Common = Common(),
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag",
            metavar="TAG",
            help="Only models with this tag (vision, tools, "
            "reasoning, streaming …); repeatable: all must match.",
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", metavar="TEXT", help="Only ids or names containing TEXT."),
    ] = None,
) -> None:
    """List the gateway's models: one id per line on a pipe, a table on a terminal (owner,
    context window, pricing, tags from _meta). -o jsonl keeps every field; -o json is the
    body as sent; with an ID, that one model as JSON (65 when there is none).

    \b
    Examples:
      llmcli models -g lumyxai --tag vision | xargs -I{} llmcli chat -g lumyxai -m {} -a cat.png hi
      llmcli models -o jsonl | jq -r 'select(._meta.contextWindow > 100000) | .id'
      llmcli models -g openrouter -q claude | head
    """
    fmt = common.output.value if common.output else "text"
    if fmt == "sse":
        raise UsageError("-o sse needs a stream; models is not one")
    out = output()
    with open_client(common, require_key=not common.dry_run) as client:
        request = client.request("GET", "models")
        if common.dry_run:
            dry_run(request)
            return
        first = client.send(request)
        if fmt == "json" and not (tag or search or model_id):
            # the body as sent, once it is known to be a list (an error sent with a 200 raises)
            catalog.model_list(parse_reply(first.body, request), client.gateway.name)
            out.data(first.body if first.body.endswith(b"\n") else first.body + b"\n")
            return
        found = [
            m
            for m in client.model_pages(request, first.body)
            if catalog.matches(m, tag or [], search)
        ]
        report_usage(common, client, None)
    if model_id is not None:
        found = [m for m in found if catalog.model_id(m) == model_id]
        if not found:
            where = client.gateway.name
            raise DataError(
                f"no model {model_id!r} at {where} (`llmcli models -g {where}` lists them)"
            )
    _print(out, found, fmt, single=model_id is not None)


def _print(out: Output, found: list[dict[str, Any]], fmt: str, *, single: bool) -> None:
    if fmt == "json":
        out.json(found[0] if single else {"object": "list", "data": found})
    elif fmt == "jsonl":
        for model in found:
            out.jsonl(model)
    elif single:
        out.json(found[0])
    elif out.terminal.stdout_tty:
        _table(out, found)
    else:
        out.data(b"".join(catalog.model_id(m).encode() + b"\n" for m in found))


def _table(out: Output, found: list[dict[str, Any]]) -> None:
    rows = [catalog.row(m) for m in found]
    columns = [
        c
        for c in ("id", "owner", "context", "pricing", "tags")
        if c == "id" or any(r[c] for r in rows)
    ]
    out.table(
        [catalog.pricing_header(rows) if c == "pricing" else c.upper() for c in columns],
        [[r[c] for c in columns] for r in rows],
        right=frozenset(i for i, c in enumerate(columns) if c == "context"),
    )
