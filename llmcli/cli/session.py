"""What every command does around its request: pick the gateway, build the HTTP request,
honour ``--dry-run``, ``--verbose`` and ``--usage``.

``-g mock`` starts the offline gateway in this process on a free loopback port, so the
whole real HTTP path runs without a network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from llmcli import __version__, config
from llmcli.cli.options import Common
from llmcli.config.file import load as load_config
from llmcli.errors import ConfigError
from llmcli.inputs import parse_header
from llmcli.outputs import Output, Terminal
from llmcli.wire import header_problem

if TYPE_CHECKING:
    from llmcli.governor import Governor
    from llmcli.http import Client
    from llmcli.wire import Blob, Request


@dataclasses.dataclass(slots=True)
class Session:
    common: Common
    out: Output
    resolved: config.Resolved

    @property
    def gateway(self) -> config.Gateway:
        return self.resolved.gateway

    @property
    def model(self) -> str | None:
        return self.resolved.model

    def headers(
        self,
        *,
        stream: bool = False,
        json_body: bool = True,
        defaults: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Ours, then the gateway's, then -H: a later one replaces an earlier of that name."""
        headers = {"User-Agent": f"llmcli/{__version__}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        headers["Accept"] = "text/event-stream" if stream else "application/json"
        key = self.resolved.key
        if key and self.gateway.auth == "bearer":
            headers["Authorization"] = f"Bearer {key}"
        elif key and self.gateway.auth == "x-api-key":
            headers["x-api-key"] = key
        extra = [*(defaults or {}).items(), *self.gateway.headers.items()]
        for name, value in self.gateway.headers.items():
            if problem := header_problem(name, value):
                raise ConfigError(f"gateway {self.gateway.name!r}: {problem}")
        extra += [parse_header(item) for item in self.common.header or []]
        for name, value in extra:
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = value
        return headers

    def request(
        self,
        method: str,
        endpoint: str,
        body: Mapping[str, Any] | None,
        *,
        stream: bool = False,
        defaults: Mapping[str, str] | None = None,
        blobs: Sequence[Blob] = (),
    ) -> Request:
        from llmcli.redaction import header_secrets, url_secrets
        from llmcli.wire import Request, serialize

        data = serialize(body, blobs) if body is not None else None
        url = self.gateway.url(endpoint)
        headers = self.headers(stream=stream, json_body=body is not None, defaults=defaults)
        found = [self.resolved.key or "", *header_secrets(headers), *url_secrets(url)]
        secrets = tuple(dict.fromkeys(s for s in found if s))
        self.out.keep_secret(*secrets)
        return Request(method, url, headers, data, gateway=self.gateway.name, secrets=secrets)

    def dry_run(self, request: Request) -> None:
        from llmcli.redaction import redact_url, redacted_headers
        from llmcli.wire import Body

        raw = request.body.to_bytes() if isinstance(request.body, Body) else request.body
        body = orjson.loads(raw) if raw is not None else None
        self.out.json(
            {
                "method": request.method,
                "url": redact_url(request.url),
                "headers": redacted_headers(request.headers, request.secrets),
                "body": body,
            }
        )

    def client(self, governor: Governor | None = None) -> Client:
        from llmcli.http import Client, Limits

        limits = Limits(self.common.timeout, self.common.connect_timeout, self.common.retries)
        return Client(limits, self.out.note, verbose=self.common.verbose, governor=governor)

    def report_usage(self, client: Client, reply: Mapping[str, Any] | None) -> None:
        if not self.common.usage:
            return
        timing = client.timing
        end = timing.end or timing.start
        line: dict[str, Any] = {"usage": (reply or {}).get("usage")}
        for key in ("context_left", "context_total"):
            if reply and key in reply:
                line[key] = reply[key]
        if timing.first_byte is not None:
            line["ttfb_ms"] = round((timing.first_byte - timing.start) * 1000, 1)
        line["total_ms"] = round((end - timing.start) * 1000, 1)
        self.out.usage_line(line)


def output() -> Output:
    """The process's one ``Output`` (made by the error boundary in ``app.run``), so the
    error line knows whether stdout was left mid-line or reasoning was open."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.obj, Output):
        return ctx.obj
    return Output(Terminal.detect())


@contextlib.contextmanager
def open_session(
    common: Common, *, require_key: bool = True, fallback: str = "openai"
) -> Iterator[Session]:
    """Resolve the gateway (starting the offline one for ``-g mock``) for one command."""
    out = output()
    for warning in load_config(os.environ).warnings:
        out.note(f"llmcli: {warning}")
    resolved = config.resolve(
        common.gateway,
        common.base_url,
        common.model,
        require_key=require_key,
        fallback=fallback,
    )
    if resolved.gateway.name == config.MOCK and not resolved.gateway.base_url:
        from llmcli import mock as offline

        # Serves from a daemon thread until this process exits; stopping it would only
        # add the server's shutdown poll to every run.
        running = offline.start()
        moved = dataclasses.replace(resolved.gateway, base_url=running.base_url)
        resolved = dataclasses.replace(resolved, gateway=moved)
    yield Session(common, out, resolved)
