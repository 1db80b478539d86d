"""``llmcli models``: what a gateway serves — ids for pipes, a table for people."""

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmcli import models as catalog
from llmcli.cli.options import Common, grouped
from llmcli.cli.session import Session, open_session
from llmcli.errors import DataError, UsageError
from llmcli.wire import Request, parse_reply

if TYPE_CHECKING:
    from llmcli.http import Client

JSON = dict[str, Any]

MAX_PAGES = 50


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
    with open_session(common, require_key=not common.dry_run) as session:
        request = session.request("GET", "models", None)
        if common.dry_run:
            session.dry_run(request)
            return
        with session.client() as client:
            first = client.send(request)
            if fmt == "json" and not (tag or search or model_id):
                session.out.data(first.body if first.body.endswith(b"\n") else first.body + b"\n")
                return
            found = [
                m
                for m in _all_models(session, client, request, first.body)
                if catalog.matches(m, tag or [], search)
            ]
            session.report_usage(client, None)
    if model_id is not None:
        found = [m for m in found if catalog.model_id(m) == model_id]
        if not found:
            raise DataError(
                f"no model {model_id!r} at {session.gateway.name} "
                f"(`llmcli models -g {session.gateway.name}` lists them)"
            )
    _print(session, found, fmt, single=model_id is not None)


def _all_models(session: Session, client: "Client", request: Request, body: bytes) -> list[JSON]:
    """Every page of the list (Anthropic pages it; OpenAI-style lists come whole)."""
    import urllib.parse

    where = session.gateway.name
    parsed = parse_reply(body, request)
    found = catalog.model_list(parsed, where)
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        after = catalog.next_page(parsed)
        if after is None or after in seen:  # a server repeating itself gets no loop
            break
        seen.add(after)
        parts = urllib.parse.urlsplit(request.url)
        query = urllib.parse.urlencode([*urllib.parse.parse_qsl(parts.query), ("after_id", after)])
        page = dataclasses.replace(request, url=parts._replace(query=query).geturl())
        parsed = parse_reply(client.send(page).body, page)
        found.extend(catalog.model_list(parsed, where))
    return found


def _print(session: Session, found: list[dict[str, Any]], fmt: str, *, single: bool) -> None:
    out = session.out
    if fmt == "json":
        out.json(found[0] if single else {"object": "list", "data": found})
    elif fmt == "jsonl":
        for model in found:
            out.jsonl(model)
    elif single:
        out.json(found[0])
    elif out.terminal.stdout_tty:
        _table(session, found)
    else:
        out.data(b"".join(catalog.model_id(m).encode() + b"\n" for m in found))


def _table(session: Session, found: list[dict[str, Any]]) -> None:
    rows = [catalog.row(m) for m in found]
    columns = [
        c
        for c in ("id", "owner", "context", "pricing", "tags")
        if c == "id" or any(r[c] for r in rows)
    ]
    session.out.table(
        [c.upper() for c in columns],
        [[r[c] for c in columns] for r in rows],
        right=frozenset(i for i, c in enumerate(columns) if c == "context"),
    )
