"""``llmcli gateways``: every gateway llmcli knows, where its key comes from — never the key."""

import os
from typing import Annotated, Any

import typer

from llmcli import config
from llmcli.cli.client import output as current_output
from llmcli.cli.names import write_names
from llmcli.cli.options import OutputFormat
from llmcli.config.keys import describe_sources, key_status
from llmcli.errors import ConfigError, UsageError
from llmcli.redaction import redact_url


def describe(gateway: config.Gateway, env: dict[str, str]) -> dict[str, Any]:
    urls: dict[str, str | None] = {}
    for endpoint in sorted(gateway.endpoints):
        try:
            urls[endpoint] = redact_url(gateway.url(endpoint))
        except ConfigError:  # the offline gateway's URL exists once it is started
            urls[endpoint] = None
    return {
        "name": gateway.name,
        "base_url": redact_url(gateway.base_url) or None,
        "urls": urls,
        "auth": gateway.auth,
        "batch_apis": sorted(gateway.batch_apis),
        "key": key_status(gateway, env),
        "key_sources": describe_sources(gateway),
        "model": gateway.model,
        "from": gateway.source,
        "description": gateway.description,
    }


def gateways(
    output: Annotated[
        OutputFormat | None, typer.Option("-o", "--output", help="text (default), json or jsonl.")
    ] = None,
    names: Annotated[
        bool,
        typer.Option(
            "--names",
            help="Only the names, one per line, for scripts and shell completion; with a "
            "broken config file, the built-in ones and a warning (exit 0).",
        ),
    ] = False,
) -> None:
    """List every gateway llmcli knows, built-in and from config.toml, with its URLs, auth
    style, and where its key comes from and whether it is set; never the key itself. -o
    json or -o jsonl gives the same as objects; --names only the names.

    \b
    Examples:
      llmcli gateways -o json | jq -r '.[] | select(.key.set) | .name'
      llmcli gateways -o jsonl | jq -r 'select(.key.set == false) | .key.source' | sort -u
      llmcli gateways --names | grep -qx work || echo 'no gateway "work" in config.toml'
    """
    if names:
        if output is not None:
            raise UsageError("--names prints plain names: drop -o")
        write_names(current_output())
        return
    if output is not None and output.value == "sse":
        raise UsageError("-o sse needs a stream; gateways is not one")
    env = dict(os.environ)
    out = current_output()
    from llmcli.config.resolve import moved_by_env

    known = config.known_gateways(env).values()
    rows = [describe(moved_by_env(g, env), env) for g in known]
    fmt = output.value if output else "text"
    if fmt == "json":
        out.json(rows)
    elif fmt == "jsonl":
        for row in rows:
            out.jsonl(row)
    else:
        out.text(_table(rows))


def _table(rows: list[dict[str, Any]]) -> str:
    def key(row: dict[str, Any]) -> str:
        status = row["key"]
        if status["source"] is None:
            return "-"
        state = {True: "set", False: "unset", None: "cmd"}[status["set"]]
        return f"{status['source'].removeprefix('env:')} ({state})"

    lines = [("NAME", "URL", "AUTH", "KEY", "MODEL")]
    for row in rows:
        url = row["urls"].get("chat") or next(iter(row["urls"].values()), None)
        url = url or ("(in-process)" if row["name"] == config.MOCK else "-")
        lines.append((row["name"], url, row["auth"], key(row), row["model"] or "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line[:4], widths, strict=True))
        + "  "
        + line[4]
        + "\n"
        for line in lines
    )
