"""What the man pages say that has no home in the code: environment, output, configuration.

Where the code does hold it, it is read from there: the built-in gateways' key variables
from ``llmcli.config.builtin``, the config file's shape from ``llmcli.config.file``'s docstring.
"""

from __future__ import annotations

import re
import textwrap
from typing import Literal

from llmcli.docgen.model import Command

CONFIG_PATH = "$XDG_CONFIG_HOME/llmcli/config.toml"
CONFIG_FILE = (
    "The user's gateways and the default one (~/.config/llmcli/config.toml when "
    "XDG_CONFIG_HOME is unset; LLMCLI_CONFIG names another file). Its shape is in llmcli(1)."
)

Scope = Literal["all", "request", "config", "embed", "cache", "render", "many"]


def applies(scope: Scope, cmd: Command) -> bool:
    """Whether an environment variable of this scope matters to the command.

    A group (``llmcli batch``) reads what any of its subcommands reads: its page is where
    a reader looks before choosing one.
    """
    if cmd.subcommands:
        return any(applies(scope, sub) for sub in cmd.subcommands)
    sends = any(o.name == "gateway" for o in cmd.options)
    return {
        "all": True,
        "request": sends,
        "config": sends or cmd.path == ("gateways",),
        "embed": cmd.path == ("embed",),
        "cache": any(o.name == "cache" for o in cmd.options),
        "render": any(o.name == "render" for o in cmd.options),
        "many": cmd.path in (("embed",), ("batch", "run")),
    }[scope]


def environment() -> list[tuple[str, Scope, str]]:
    from llmcli.config.builtin import BUILTINS

    own = sorted(
        {v for g in BUILTINS.values() for v in g.key_env} - {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}
    )
    return [
        ("LLMCLI_GATEWAY", "request", "The gateway to use when -g is not given."),
        (
            "LLMCLI_BASE_URL",
            "request",
            "The server to use when neither -g nor --base-url is given; it does not move "
            "a gateway named with -g.",
        ),
        ("LLMCLI_MODEL", "request", "The model when -m is not given, before the gateway's."),
        (
            "LLMCLI_API_KEY",
            "config",
            "The API key, for any gateway; tried before the gateway's own variable ("
            + ", ".join(own)
            + " for the built-in ones). Never printed, not even by --verbose or --dry-run.",
        ),
        ("LLMCLI_CONFIG", "config", f"The config file, instead of {CONFIG_PATH}."),
        (
            "LLMCLI_EMBEDDING_MODEL",
            "embed",
            "The model of llmcli embed when -m is not given, before the gateway's embedding model.",
        ),
        ("LLMCLI_DEBUG", "all", "When set and not empty: tracebacks for internal errors."),
        (
            "LLMCLI_CACHE",
            "cache",
            "1: --cache, in $XDG_CACHE_HOME/llmcli/responses; 0 or unset: no cache; anything "
            "else: --cache, in that folder. --cache and --no-cache win over it.",
        ),
        (
            "LLMCLI_RENDER",
            "render",
            "0: show the reply's Markdown as sent at a terminal too (--no-render); 1: render "
            "it there (the default). A pipe or a file always gets the text as sent.",
        ),
        (
            "LLMCLI_ENGINE",
            "many",
            "threads: a thread for each request in flight instead of one event loop for "
            "them all (--record, --replay, a proxy and a URL with a password use it anyway).",
        ),
        (
            "XDG_CACHE_HOME",
            "cache",
            "Where answers are kept with --cache: $XDG_CACHE_HOME/llmcli/responses/.",
        ),
        ("XDG_CONFIG_HOME", "config", "Where the config file is: $XDG_CONFIG_HOME/llmcli/."),
        (
            "OPENAI_API_KEY",
            "config",
            "The key of the openai gateway, and of a --base-url server when set.",
        ),
        (
            "OPENAI_BASE_URL",
            "request",
            "Moves the openai gateway; with no gateway chosen anywhere, the server to use.",
        ),
        ("ANTHROPIC_API_KEY", "config", "The key of the anthropic gateway."),
        ("ANTHROPIC_BASE_URL", "request", "Moves the anthropic gateway."),
        (
            "NO_COLOR",
            "all",
            "When set and not empty: no ANSI colours, not even on a terminal.",
        ),
    ]


OUTPUT = (
    "-o/--output picks what stdout gets; stdout carries only that data. Everything "
    "for people (reasoning, usage, retries, warnings, errors) goes to stderr, and "
    "streamed text reaches stdout as soon as it arrives."
)
OUTPUT_FORMATS = {
    "text": "The assistant's text only (the default). models: one id per line, or a table "
    "on a terminal.",
    "json": "The whole response body. For a stream: the stream assembled into the object "
    "the same request returns without streaming (content, every reasoning field, "
    "complete tool calls, finish reason, usage).",
    "jsonl": "One compact JSON per line: each event's data for a stream ({event, data} "
    "for messages), each model for models, each input's vector for embed (its default).",
    "sse": "The bytes of a stream exactly as the server sent them.",
}
CONFIGURATION = (
    "A gateway is a base URL (the version prefix included: each endpoint's path is "
    "appended to it), how to authenticate, where the key comes from, a default model, "
    "headers and body parameters. Built-in ones cover the usual providers and local "
    "servers (llmcli gateways lists them); more are defined in the config file. Flags "
    "beat the environment, which beats the config file, which beats the built-ins.",
)


def _config_doc() -> tuple[list[str], str]:
    """The literal block of ``llmcli.config.file``'s docstring, and the text after it."""
    from llmcli.config import file as configfile

    lines = (configfile.__doc__ or "").partition("::\n")[2].splitlines()
    end = next((i for i, line in enumerate(lines) if line and not line[0].isspace()), len(lines))
    block = textwrap.dedent("\n".join(lines[:end])).strip("\n")
    if not block:
        raise ValueError("llmcli.config.file's docstring has no example config file")
    return block.splitlines(), " ".join(" ".join(lines[end:]).split())


def config_example() -> list[str]:
    """The config file's shape, as ``llmcli.config.file`` documents it."""
    return _config_doc()[0]


def config_notes() -> str:
    return re.sub(r"``([^`]*)``", r"\1", _config_doc()[1])


def listing(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)
