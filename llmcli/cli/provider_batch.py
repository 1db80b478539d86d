"""``llmcli batch submit|status|fetch|cancel|list``: the providers' own batch APIs, from
the same input file as ``batch run`` and back in its output shape (DESIGN.md, "Batch
runs"). Flags -> ``llmcli.batch`` (submission, provider, fetch, manifests) -> JSON lines.

A gateway offers the batch APIs its ``batch_apis`` names (built-ins: openai, anthropic,
mock; config: ``batch_api``); any other is exit 78 before anything is sent. A batch id
goes to the API its manifest names, or that its shape says (``msgbatch_…``: Anthropic).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmcli.cli.batch import MaxTokens, System, app, input_texts, open_input
from llmcli.cli.client import open_client, output
from llmcli.cli.options import Connection, Param, Temperature, grouped
from llmcli.errors import ConfigError, DataError, LlmcliError, ProtocolError, UsageError
from llmcli.io import inputs

if TYPE_CHECKING:
    from llmcli.batch.fetch import Batch
    from llmcli.batch.lines import Endpoint
    from llmcli.batch.provider import Provider
    from llmcli.client import Client

Ids = Annotated[list[str], typer.Argument(metavar="ID...", help="Batch ids.", show_default=False)]
#: polling --wait: first interval, growth, longest interval (seconds)
POLL_FIRST, POLL_GROWTH, POLL_MOST = 1.0, 1.5, 60.0


#: the price of a provider batch against the same requests sent one by one (OpenAI's and
#: Anthropic's batch APIs both document half)
BATCH_DISCOUNT = 0.5


def _measured(rows: Iterator[Any], measured: dict[str, Any]) -> Iterator[Any]:
    """The rows as they go by, what each sendable one's estimate needs kept by custom_id."""
    from llmcli.batch.estimate import measure

    for row in rows:
        if row.problem is None:
            measured[row.custom_id] = measure(row.body)
        yield row


def _with_gateway_params(client: Client, row: Any) -> Any:
    """A row's body with the gateway's default params below it, as ``batch run`` sends
    it (``Client.body``)."""
    if row.problem is not None:
        return row
    return dataclasses.replace(row, body=client.body(row.endpoint, row.body))


def _apis(client: Client) -> frozenset[str]:
    apis = client.gateway.batch_apis
    if not apis:
        raise ConfigError(
            f"gateway {client.gateway.name!r} has no batch API that llmcli knows; "
            "'llmcli batch run' sends the same file from here",
            hint='if it has one, set batch_api = "openai" (or "anthropic") in its config',
        )
    return apis


def _provider(client: Client, api: str) -> Provider:
    from llmcli.batch.provider import Provider

    if api not in _apis(client):
        raise ConfigError(f"gateway {client.gateway.name!r} has no {api} batch API")
    return Provider(client, api)


def check_ids(ids: list[str]) -> list[str]:
    """The ids, each once, in the order given; a usage error for one that is no id."""
    from llmcli.batch.manifests import ID

    for batch_id in ids:
        if not ID.fullmatch(batch_id):
            raise UsageError(f"{batch_id!r} is not a batch id")
    return list(dict.fromkeys(ids))


def connection_for(conn: Connection, ids: list[str]) -> Connection:
    """With neither -g nor --base-url, the gateway the ids were submitted to."""
    from llmcli.batch.manifests import gateways_of

    if conn.gateway or conn.base_url or os.environ.get("LLMCLI_GATEWAY"):
        return conn
    names = set().union(*(gateways_of(batch_id) for batch_id in ids))
    if len(names) == 1:
        return dataclasses.replace(conn, gateway=names.pop())
    return conn


def origin(client: Client) -> str:
    """Where this gateway's manifests are kept (see ``llmcli.batch.manifests``)."""
    from llmcli.batch.manifests import origin

    gateway = client.gateway
    return origin(gateway.name, gateway.base_url, gateway.source != "custom")


def batches_of(client: Client, ids: list[str]) -> Iterator[tuple[Batch, Provider]]:
    from llmcli.batch import outcomes
    from llmcli.batch.fetch import Batch
    from llmcli.batch.manifests import load

    apis = _apis(client)
    for batch_id in ids:
        manifest = load(batch_id, origin(client))
        if manifest is not None:
            api = str(manifest["api"])
        elif len(apis) == 1:  # ids are the provider's to shape: trust the gateway first
            api = next(iter(apis))
        else:
            api = outcomes.api_of_id(batch_id)
        yield Batch(batch_id, api, manifest), _provider(client, api)


def dry_run_all(client: Client, calls: list[tuple[Provider, str, str]]) -> None:
    """``--dry-run``: each request (method, path) as JSON, secrets as ***; none is sent."""
    from llmcli.cli.client import dry_run

    for provider, method, path in calls:
        dry_run(client.api_request(method, path, api=provider.api))


def _prompt_endpoint(client: Client, apis: frozenset[str]) -> Endpoint:
    """Where prompt lines go: as batch run sends them (to /messages on a gateway with no
    chat), unless the gateway's batch API takes only the other."""
    endpoints = client.gateway.endpoints
    chosen: Endpoint = "messages" if "chat" not in endpoints and "messages" in endpoints else "chat"
    if chosen == "chat" and "openai" not in apis:
        return "messages"
    if chosen == "messages" and "anthropic" not in apis:
        return "chat"
    return chosen


def _line(value: Any) -> None:
    out = output()
    out.jsonl(value)
    out.flush()


@app.command("submit", short_help="Send a JSONL file to the gateway's own batch API.")
@grouped
def submit(
    file: Annotated[
        str | None,
        typer.Argument(metavar="[FILE]", help="JSONL input, as batch run takes; stdin when '-'."),
    ] = None,
    conn: Connection = Connection(),
    system: System = None,
    max_tokens: MaxTokens = None,
    temperature: Temperature = None,
    param: Param = None,
) -> None:
    """Upload the lines batch run takes to the gateway's batch API (OpenAI: /files, then
    /batches, one batch per endpoint, split at 50,000 lines or 200 MB; Anthropic:
    /messages/batches, split at 100,000 requests or 256 MB) and print one JSON line per
    batch created: {id, api, gateway, endpoint, status, rows, …}. custom_ids must be
    unique (Anthropic: 1-64 letters, digits, _ or -), checked before anything is sent. A
    manifest of each batch (ids, input order) is kept in $XDG_STATE_HOME/llmcli/batches/
    for fetch. --dry-run prints the batches it would create.

    \b
    Examples:
      llmcli batch submit rows.jsonl -g openai -m gpt-5-mini | jq -r .id > ids
      cut -f2 q.tsv | llmcli batch submit - -g anthropic -m claude-sonnet-4-5 | jq -c .
      llmcli batch submit rows.jsonl -g openai --dry-run | jq -s 'map(.rows) | add'
    """
    import tempfile

    from llmcli.batch import lines, manifests, outcomes, runner, submission

    options = {"max_tokens": max_tokens, "temperature": temperature}
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(open_client(conn, require_key=not conn.dry_run))
        apis = _apis(client)
        defaults = lines.Defaults(
            model=client.model,
            system=system,
            params=[inputs.parse_param(item) for item in param or []],
            options={k: v for k, v in options.items() if v is not None},
            endpoint=_prompt_endpoint(client, apis),
        )
        name = file if file not in (None, "-") else "<stdin>"
        source = open_input(file)
        spool = stack  # each batch's payload in a file of its own
        read = runner.rows_of(input_texts(source, name), defaults)
        rows: Iterator[Any] = (_with_gateway_params(client, row) for row in read)
        measured: dict[str, Any] = {}
        if conn.dry_run:  # each row's size, tokens out and model, for each batch's estimate
            rows = _measured(rows, measured)
        plan = submission.plan(
            rows,
            apis,
            client.gateway.name,
            name,
            store=lambda: spool.enter_context(tempfile.TemporaryFile()),
        )
        out = output()
        for _, _, problem in plan.invalid:
            out.note(f"llmcli: {name}: {problem} (not sent; fetch answers it as an error)")
        if not plan.parts:
            raise DataError(f"{name}: no line to submit")
        gateway = client.gateway.name
        if conn.dry_run:
            from llmcli.batch.estimate import Estimate
            from llmcli.prices import PriceBook

            book = PriceBook(client, refresh=conn.refresh_prices, fetch=conn.refresh_prices)
            for part in plan.parts:
                shown = {"id": None, "api": part.api, "gateway": gateway, "endpoint": part.endpoint}
                estimate = Estimate(book, discount=BATCH_DISCOUNT)  # at the batch price
                for _, custom_id in part.rows:
                    estimate.add_measured(measured[custom_id])
                _line(
                    {
                        **shown,
                        "status": "planned",
                        "rows": len(part.rows),
                        "bytes": part.size,
                        "estimate": estimate.as_json(),
                    }
                )
            return
        submission_id, submitted = os.urandom(8).hex(), time.time()
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.splitext(os.path.basename(name))[0])
        for number, part in enumerate(plan.parts):
            created = _provider(client, part.api).create(part, f"{stem}.{number + 1}.jsonl")
            if not isinstance(created.get("id"), str):
                raise ProtocolError(f"{gateway} answered a new batch without an id")
            manifests.save(
                {
                    "id": created["id"],
                    "api": part.api,
                    # a --base-url server has no name to find it by again
                    "gateway": gateway if client.gateway.source != "custom" else None,
                    "endpoint": part.endpoint,
                    "submission": submission_id,
                    "part": number + 1,
                    "submitted": submitted,  # the same for every batch of the file
                    "input": name,
                    "rows": part.rows,
                    "invalid": plan.invalid if number == 0 else [],
                },
                origin(client),
            )
            _line({**outcomes.summary(part.api, gateway, created), "rows": len(part.rows)})


@app.command("status", short_help="One JSON line per batch: status and counts.")
@grouped
def status(ids: Ids, conn: Connection = Connection()) -> None:
    """Print one JSON line per batch: {id, api, gateway, endpoint, status, ended, rows,
    succeeded, failed, counts} (counts as the provider gives them). Without -g or
    --base-url, the gateway the batches were submitted to.

    \b
    Examples:
      llmcli batch status $(cat ids) | jq -r 'select(.ended|not).id'
      llmcli batch status batch_abc | jq '.succeeded / .rows'
    """
    from llmcli.batch import outcomes

    ids = check_ids(ids)
    with open_client(connection_for(conn, ids), require_key=not conn.dry_run) as client:
        pairs = list(batches_of(client, ids))
        if conn.dry_run:
            dry_run_all(client, [(p, "GET", p.path(b.id)) for b, p in pairs])
            return
        for batch, provider in pairs:
            _line(outcomes.summary(batch.api, client.gateway.name, provider.get(batch.id)))


@app.command("cancel", short_help="Cancel batches; one JSON line each.")
@grouped
def cancel(ids: Ids, conn: Connection = Connection()) -> None:
    """Ask the provider to cancel each batch and print its status line. Requests already
    answered keep their answers; fetch gives the rest as batch_cancelled errors.

    \b
    Examples:
      llmcli batch cancel batch_abc msgbatch_def | jq -r .status
      llmcli batch list -g openai | jq -r 'select(.ended|not).id' | xargs llmcli batch cancel
    """
    from llmcli.batch import outcomes

    ids = check_ids(ids)
    with open_client(connection_for(conn, ids), require_key=not conn.dry_run) as client:
        pairs = list(batches_of(client, ids))
        if conn.dry_run:
            dry_run_all(client, [(p, "POST", p.path(b.id, "cancel")) for b, p in pairs])
            return
        for batch, provider in pairs:
            _line(outcomes.summary(batch.api, client.gateway.name, provider.cancel(batch.id)))


@app.command("list", short_help="The gateway's batches, newest first; one JSON line each.")
@grouped
def list_(
    conn: Connection = Connection(),
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="At most N batches per API.")
    ] = 20,
) -> None:
    """Print the gateway's batches, newest first, one status line each: {id, api, gateway,
    endpoint, status, ended, rows, succeeded, failed, counts}, both APIs on a gateway that
    offers both.

    \b
    Examples:
      llmcli batch list -g openai --limit 5 | jq -r .id
      llmcli batch list -g anthropic | jq -r 'select(.status == "ended") | .id'
    """
    from llmcli.batch import outcomes

    with open_client(conn, require_key=not conn.dry_run) as client:
        apis = sorted(_apis(client), reverse=True)
        if conn.dry_run:
            found = [_provider(client, api) for api in apis]
            dry_run_all(client, [(p, "GET", p.list_path(min(limit, 100))) for p in found])
            return
        guessed = client.gateway.source == "custom"  # a --base-url server: both are guesses
        for api in apis:
            try:
                for n, batch in enumerate(_provider(client, api).list(min(limit, 100))):
                    if n >= limit:
                        break
                    _line(outcomes.summary(api, client.gateway.name, batch))
            except LlmcliError as e:
                if not (guessed and e.status in (404, 405) and len(apis) > 1):
                    raise
