"""Option groups shared by commands, each defined once as a dataclass of Typer options.

A command declares a parameter typed with a group (``common: Common``); ``@grouped``
spreads the group's fields into the command's signature, so Typer sees ordinary options,
and gathers them back into the dataclass before the command body runs. This keeps every
flag of DESIGN.md's "Flags every command shares" in one place, and command signatures
short (STYLE.md: no 33-parameter commands).
"""

import dataclasses
import inspect
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

_F = TypeVar("_F", bound=Callable[..., Any])


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    sse = "sse"


@dataclasses.dataclass(frozen=True, slots=True)
class Connection:
    """Flags every command shares (DESIGN.md), but -o: which gateway, how to reach it."""

    gateway: Annotated[
        str | None,
        typer.Option(
            "-g",
            "--gateway",
            metavar="NAME",
            help="Gateway: built-in or from config.toml [env: LLMCLI_GATEWAY]; `mock` is offline.",
        ),
    ] = None
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help="Any compatible server, version prefix included, e.g. "
            "http://127.0.0.1:8080/v1 [env: LLMCLI_BASE_URL].",
        ),
    ] = None
    model: Annotated[
        str | None,
        typer.Option("-m", "--model", metavar="ID", help="Model [env: LLMCLI_MODEL]."),
    ] = None
    header: Annotated[
        list[str] | None,
        typer.Option(
            "-H", "--header", metavar="'NAME: VALUE'", help="Extra request header; repeatable."
        ),
    ] = None
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="S",
            help="Deadline of the whole request in seconds: every retry and wait included.",
        ),
    ] = 600.0
    connect_timeout: Annotated[
        float,
        typer.Option("--connect-timeout", metavar="S", help="Time limit to connect, in seconds."),
    ] = 10.0
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            metavar="N",
            min=0,
            help="Retries of a request that failed before any output (connection errors, "
            "408, 429, 5xx), honouring Retry-After.",
        ),
    ] = 2
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the request as JSON {method, url, headers, body}, key redacted; "
            "send nothing.",
        ),
    ] = False
    verbose: Annotated[
        bool,
        typer.Option(
            "-v", "--verbose", help="Request and response lines, timing, retries on stderr."
        ),
    ] = False
    usage: Annotated[
        bool,
        typer.Option(
            "--usage", help="One JSON line on stderr: token usage, time to first byte, total."
        ),
    ] = False
    refresh_prices: Annotated[
        bool,
        typer.Option(
            "--refresh-prices",
            help="Fetch the gateway's price list again for --usage costs (else cached 24 h).",
        ),
    ] = False
    debug: Annotated[bool, typer.Option("--debug", help="Tracebacks for internal errors.")] = False
    record: Annotated[
        str | None,
        typer.Option(
            "--record",
            metavar="FILE",
            help="Append each request and answer to FILE, a JSONL cassette; keys left out "
            "[env: LLMCLI_RECORD].",
        ),
    ] = None
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            metavar="FILE",
            help="Answer from the cassette FILE instead of the network; no key needed "
            "[env: LLMCLI_REPLAY].",
        ),
    ] = None


@dataclasses.dataclass(frozen=True, slots=True)
class Common(Connection):
    """Flags every command shares (DESIGN.md): the connection, and -o FORMAT."""

    output: Annotated[
        OutputFormat | None,
        typer.Option("-o", "--output", help="Output format (default: text)."),
    ] = None


@dataclasses.dataclass(frozen=True, slots=True)
class Caching:
    """--cache and its kin: the commands that ask a model (chat, stream, messages,
    responses, embed, batch run)."""

    cache: Annotated[
        bool | None,
        typer.Option(
            "--cache/--no-cache",
            help="Answer a request identical to one answered before from disk, and keep "
            "this answer [env: LLMCLI_CACHE=1|0|DIR].",
            show_default=False,
        ),
    ] = None
    cache_ttl: Annotated[
        float | None,
        typer.Option(
            "--cache-ttl",
            metavar="SECONDS",
            min=0,
            help="With --cache: an answer kept longer ago is asked again (default: no expiry).",
        ),
    ] = None
    refresh_cache: Annotated[
        bool,
        typer.Option("--refresh-cache", help="Ask again, and keep the new answer in the cache."),
    ] = False


@dataclasses.dataclass(frozen=True, slots=True)
class Answering:
    """How a conversation command shows its answer, and which gateways may give it when
    the first one fails (chat, stream, messages, responses)."""

    render: Annotated[
        bool | None,
        typer.Option(
            "--render/--no-render",
            help="Render the reply's Markdown at a terminal (the default there), never into "
            "a pipe or a file; --no-render: the text as sent [env: LLMCLI_RENDER=1|0].",
            show_default=False,
        ),
    ] = None
    fallback: Annotated[
        list[str] | None,
        typer.Option(
            "--fallback",
            metavar="GATEWAY[:MODEL]",
            help="When the request fails before any output (no connection, 5xx, 429 after "
            "retries), ask this gateway instead; repeatable, tried in order.",
        ),
    ] = None


# Request flags that chat, stream and messages share, each defined once.
Temperature = Annotated[
    float | None, typer.Option("--temperature", metavar="T", help="Sampling temperature, 0-2.")
]
TopP = Annotated[
    float | None, typer.Option("--top-p", metavar="P", help="Nucleus sampling mass, 0-1.")
]
Stop = Annotated[
    list[str] | None,
    typer.Option("--stop", metavar="TEXT", help="Stop sequence; repeatable (up to 4)."),
]
Tools = Annotated[
    str | None,
    typer.Option(
        "--tools", metavar="FILE", help="JSON array of tools (OpenAI or Anthropic shape)."
    ),
]
Tool = Annotated[
    list[str] | None,
    typer.Option(
        "--tool",
        metavar="NAME=SCHEMA_FILE",
        help="One tool: its name and a JSON Schema file for its input; repeatable.",
    ),
]
TemplateVar = Annotated[
    list[str] | None,
    typer.Option("-V", "--var", metavar="NAME=VALUE", help="A template variable; repeatable."),
]
Param = Annotated[
    list[str] | None,
    typer.Option(
        "-p",
        "--param",
        metavar="KEY=VALUE",
        help="Any other body field; JSON value; dotted keys nest.",
    ),
]


def _group_params(group: type[Any]) -> list[inspect.Parameter]:
    hints = get_type_hints(group, include_extras=True)
    return [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name], default=f.default
        )
        for f in dataclasses.fields(group)
    ]


def grouped(fn: _F) -> _F:
    """Spread dataclass-typed parameters of ``fn`` into options; rebuild them on call."""
    signature = inspect.signature(fn)
    hints = get_type_hints(fn, include_extras=True)
    groups: dict[str, type[Any]] = {}
    params: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        hint = hints.get(param.name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            groups[param.name] = hint
            params.extend(_group_params(hint))
        else:
            params.append(
                param.replace(
                    kind=inspect.Parameter.KEYWORD_ONLY, annotation=hint or param.annotation
                )
            )

    def command(**kwargs: Any) -> Any:
        for name, group in groups.items():
            names = [f.name for f in dataclasses.fields(group)]
            kwargs[name] = group(**{n: kwargs.pop(n) for n in names})
        return fn(**kwargs)

    command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    command.__name__ = fn.__name__
    command.__doc__ = fn.__doc__
    return command  # type: ignore[return-value]
