"""The ``llmcli.Client`` a command makes from its shared flags, and what every command
does around its request: ``--dry-run``, ``--verbose``, ``--usage``.

``-g mock`` starts the offline gateway in this process on a free loopback port (the
library does that), so the whole real HTTP path runs without a network; so does
``--replay FILE``, the gateway then answering from a cassette.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from llmcli.cli.options import Caching, Connection
from llmcli.client import Client
from llmcli.config.file import load as load_config
from llmcli.errors import UsageError
from llmcli.io.inputs import parse_header
from llmcli.io.outputs import Output, Terminal

if TYPE_CHECKING:
    from llmcli.http.cache import ResponseCache
    from llmcli.http.governor import Governor
    from llmcli.http.request import Request


def output() -> Output:
    """The process's one ``Output`` (made by the error boundary in ``app.run``), so the
    error line knows whether stdout was left mid-line or reasoning was open."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.obj, Output):
        return ctx.obj
    return Output(Terminal.detect())


@contextlib.contextmanager
def open_client(
    common: Connection,
    *,
    require_key: bool = True,
    fallback: str = "openai",
    governor: Governor | None = None,
    caching: Caching | None = None,
) -> Iterator[Client]:
    """The command's client: the gateway, key and model its flags, the environment and
    the config file ask for. Every secret it holds is kept from stderr. ``caching``: the
    command's --cache flags (a command without them uses no cache)."""
    out = output()
    cache = _cache(caching) if caching is not None and not common.dry_run else False
    for warning in load_config(os.environ).warnings:
        out.note(f"llmcli: {warning}")
    headers = dict(parse_header(item) for item in common.header or [])
    client = Client(
        common.gateway,
        base_url=common.base_url,
        model=common.model,
        headers=headers,
        timeout=common.timeout,
        connect_timeout=common.connect_timeout,
        retries=common.retries,
        verbose=common.verbose,
        log=out.note,
        governor=governor,
        require_key=require_key,
        fallback=fallback,
        record=common.record,
        replay=common.replay,
        cache=cache,
    )
    out.keep_secret(*client.secrets)
    with client:
        yield client


def _cache(caching: Caching) -> ResponseCache | bool:
    """The cache the flags and ``LLMCLI_CACHE`` ask for (False: none)."""
    from llmcli.http.cache import chosen

    if caching.cache is False and caching.refresh_cache:
        raise UsageError("--no-cache and --refresh-cache cannot be used together")
    cache = chosen(
        caching.cache,
        os.environ.get("LLMCLI_CACHE"),
        ttl=caching.cache_ttl,
        refresh=caching.refresh_cache,
    )
    return cache if cache is not None else False


def dry_run(request: Request) -> None:
    """``--dry-run``: the request as one JSON object, every secret as ``***``."""
    from llmcli.http.request import Body
    from llmcli.redaction import redact_url, redacted_headers

    raw = request.body.to_bytes() if isinstance(request.body, Body) else request.body
    body = orjson.loads(raw) if raw is not None else None
    output().json(
        {
            "method": request.method,
            "url": redact_url(request.url),
            "headers": redacted_headers(request.headers, request.secrets),
            "body": body,
        }
    )


def report_usage(
    common: Connection,
    client: Client,
    reply: Mapping[str, Any] | None,
    *,
    model: str | None = None,
) -> None:
    """``--usage``: token usage, what it cost (USD, ``null`` when no price is known) and
    where the price came from, time to first byte and total time, one line on stderr.
    ``model``: the model asked for (priced first; then the one the reply names)."""
    timing = client.timing
    if not common.usage or timing is None:
        return
    from llmcli.prices import PriceBook
    from llmcli.protocol.pricing import COST_HEADER

    end = timing.end or timing.start
    usage = (reply or {}).get("usage")
    header = timing.headers.get(COST_HEADER) if timing.headers is not None else None
    answered = (reply or {}).get("model")
    cost: float | None
    if timing.cache == "hit":  # nothing was asked, nothing paid
        cost, source = 0.0, "cache"
    else:
        cost, source = PriceBook(client, refresh=common.refresh_prices).cost(
            usage, (model, answered if isinstance(answered, str) else None), header
        )
    line: dict[str, Any] = {"usage": usage, "cost": cost, "cost_source": source}
    if timing.cache is not None:
        line["cache"] = timing.cache
    if usage is None:  # a stream whose server ignored stream_options.include_usage, say
        line["note"] = "the server sent no usage"
    for key in ("context_left", "context_total"):
        if reply and key in reply:
            line[key] = reply[key]
    if timing.first_byte is not None:
        line["ttfb_ms"] = round((timing.first_byte - timing.start) * 1000, 1)
    line["total_ms"] = round((end - timing.start) * 1000, 1)
    output().usage_line(line)
