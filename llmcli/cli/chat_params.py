"""The Chat Completions flags: one for every parameter the seed gateways document."""

import dataclasses
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from llmcli.cli.options import Param, Stop, Temperature, Tool, Tools, TopP
from llmcli.errors import DataError, UsageError
from llmcli.io import inputs
from llmcli.protocol.chat import shapes as chat_shapes


class Effort(StrEnum):
    none = "none"
    minimal = "minimal"
    low = "low"
    medium = "medium"
    high = "high"
    xhigh = "xhigh"


@dataclasses.dataclass(frozen=True, slots=True)
class ChatParams:
    """A flag for every Chat Completions parameter the seed gateways document."""

    temperature: Temperature = None
    top_p: TopP = None
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", metavar="N", help="Most tokens to generate.")
    ] = None
    max_completion_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-completion-tokens",
            metavar="N",
            help="Most tokens incl. reasoning (reasoning models).",
        ),
    ] = None
    stop: Stop = None
    seed: Annotated[
        int | None, typer.Option("--seed", metavar="N", help="Seed for deterministic sampling.")
    ] = None
    frequency_penalty: Annotated[
        float | None, typer.Option("--frequency-penalty", metavar="X", help="-2.0 to 2.0.")
    ] = None
    presence_penalty: Annotated[
        float | None, typer.Option("--presence-penalty", metavar="X", help="-2.0 to 2.0.")
    ] = None
    response_format: Annotated[
        str | None,
        typer.Option(
            "--response-format", metavar="TYPE|JSON", help="json_object, text, or a JSON object."
        ),
    ] = None
    tools: Tools = None
    tool_choice: Annotated[
        str | None,
        typer.Option(
            "--tool-choice", metavar="auto|none|required|NAME", help="Which tool to call."
        ),
    ] = None
    reasoning_effort: Annotated[
        Effort | None, typer.Option("--reasoning-effort", help="Reasoning depth.")
    ] = None
    reasoning_budget: Annotated[
        int | None,
        typer.Option(
            "--reasoning-budget", metavar="N", help="Most reasoning tokens (reasoning.max_tokens)."
        ),
    ] = None
    reasoning_exclude: Annotated[
        bool, typer.Option("--reasoning-exclude", help="Ask the gateway not to return reasoning.")
    ] = False
    reasoning_enabled: Annotated[
        bool | None,
        typer.Option(
            "--reasoning-enabled/--reasoning-disabled",
            help="reasoning.enabled: turn reasoning on with default settings, or off.",
            show_default=False,
        ),
    ] = None
    thinking: Annotated[
        bool | None,
        typer.Option(
            "--thinking/--no-thinking",
            help="chat_template_kwargs.enable_thinking.",
            show_default=False,
        ),
    ] = None
    chat_template_kwargs: Annotated[
        str | None,
        typer.Option(
            "--chat-template-kwargs", metavar="JSON", help="Object for the chat template."
        ),
    ] = None
    logprobs: Annotated[bool, typer.Option("--logprobs", help="Return log probabilities.")] = False
    top_logprobs: Annotated[
        int | None, typer.Option("--top-logprobs", metavar="N", help="0-20 alternatives per token.")
    ] = None
    user: Annotated[
        str | None, typer.Option("--user", metavar="ID", help="End-user identifier.")
    ] = None
    stream_options: Annotated[
        str | None,
        typer.Option("--stream-options", metavar="JSON", help="e.g. '{\"include_usage\": true}'."),
    ] = None
    conversation_id: Annotated[
        str | None,
        typer.Option(
            "--conversation-id", metavar="UUID", help="Continue a server-side conversation."
        ),
    ] = None
    memory: Annotated[
        bool | None,
        typer.Option(
            "--memory/--no-memory", help="Server-side memory (where offered).", show_default=False
        ),
    ] = None
    tool: Tool = None
    json_mode: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Ask for a JSON reply (response_format json_object); one that does not "
            "parse exits 3.",
        ),
    ] = False
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="FILE",
            help="Structured output: a JSON Schema (strict); a reply that does not parse exits 3.",
        ),
    ] = None
    param: Param = None


_JSON_FLAGS = {
    "chat_template_kwargs": "--chat-template-kwargs",
    "stream_options": "--stream-options",
}


def tools_from(files: list[str], stdin: inputs.Stdin, path: str | None) -> list[Any] | None:
    """``--tools FILE`` (an array) and each ``--tool NAME=SCHEMA_FILE``, as one list."""
    tools: list[Any] = []
    if path is not None:
        loaded = inputs.load_json(path, stdin)
        if not isinstance(loaded, list):
            raise DataError(f"--tools {path}: expected a JSON array of tools")
        tools.extend(loaded)
    for item in files:
        name, sep, schema_file = item.partition("=")
        if not sep or not name or not schema_file:
            raise UsageError(f"--tool {item!r}: expected NAME=SCHEMA_FILE")
        schema = inputs.load_json(schema_file, stdin)
        if not isinstance(schema, dict):
            raise DataError(f"--tool {item}: {schema_file} is not a JSON Schema object")
        tools.append(
            {"name": name, "description": schema.get("description", ""), "input_schema": schema}
        )
    return tools or None


def options(params: ChatParams, stdin: inputs.Stdin) -> dict[str, Any]:
    """The flags as body values, read and checked (JSON flags parse, files load)."""
    given = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    for key, flag in _JSON_FLAGS.items():
        if given[key] is not None:
            given[key] = inputs.parse_json(given[key], flag)
    fmt = given["response_format"]
    if fmt and fmt.lstrip().startswith("{"):
        given["response_format"] = inputs.parse_json(fmt, "--response-format")
    tools = tools_from(params.tool or [], stdin, params.tools)
    given["tools"] = [chat_shapes.tool(t) for t in tools] if tools else None
    if given["reasoning_effort"] is not None:
        given["reasoning_effort"] = given["reasoning_effort"].value
    fmt = reply_format(params.json_mode, params.schema, stdin, chat_shapes.schema_format)
    if fmt is not None and not (params.response_format and params.schema):
        given["response_format"] = fmt  # a --response-format given too is sent as given:
    return given  # (json_object with --schema: the schema is checked here, not sent)


def reply_format(
    json_mode: bool,
    schema: str | None,
    stdin: inputs.Stdin,
    schema_format: Callable[[Any, str], dict[str, Any]],
) -> dict[str, Any] | None:
    """--json or --schema FILE as the API's reply format (``schema_format`` makes the
    dialect's shape of a schema), or None when neither is given."""
    if json_mode and schema:
        raise UsageError("--json and --schema both set the reply format: pick one")
    if json_mode:
        return {"type": "json_object"}
    if schema is not None:
        return schema_format(inputs.load_json(schema, stdin), schema)
    return None


def tool_files(tools: str | None, tool: list[str] | None) -> list[str | None]:
    """The files --tools and --tool read (stdin, when one is '-')."""
    return [tools, *(t.partition("=")[2] for t in tool or [])]


def named_files(params: ChatParams) -> list[str | None]:
    """The files the chat flags read (stdin, when one is '-')."""
    return [*tool_files(params.tools, params.tool), params.schema]
