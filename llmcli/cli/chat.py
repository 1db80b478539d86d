"""``llmcli chat`` and ``llmcli stream``: one Chat Completions request, printed.

Both share every flag; ``stream`` sets ``stream: true`` and prints text as it arrives.
"""

import dataclasses
from enum import StrEnum
from typing import Annotated, Any

import typer

from llmcli import inputs, openai
from llmcli.cli.options import Common, grouped
from llmcli.cli.replies import print_completion, print_stream
from llmcli.cli.session import open_session
from llmcli.errors import UsageError


class Effort(StrEnum):
    none = "none"
    minimal = "minimal"
    low = "low"
    medium = "medium"
    high = "high"
    xhigh = "xhigh"


@dataclasses.dataclass(frozen=True, slots=True)
class Prompt:
    """Where the conversation comes from (DESIGN.md, "Input")."""

    prompt: Annotated[
        list[str] | None,
        typer.Argument(
            help="Prompt words; joined after piped stdin and -f files.", show_default=False
        ),
    ] = None
    file: Annotated[
        list[str] | None,
        typer.Option(
            "-f",
            "--file",
            metavar="PATH",
            help="Add a file to the prompt ('-' is stdin); repeatable.",
        ),
    ] = None
    system: Annotated[
        str | None, typer.Option("-s", "--system", metavar="TEXT", help="System prompt.")
    ] = None
    messages: Annotated[
        str | None,
        typer.Option(
            "--messages",
            metavar="FILE",
            help="Conversation so far: JSON array or JSONL of messages.",
        ),
    ] = None
    body: Annotated[
        str | None,
        typer.Option(
            "--body", metavar="FILE", help="A whole request body; flags override its fields."
        ),
    ] = None
    no_stdin: Annotated[
        bool, typer.Option("--no-stdin", help="Do not read piped stdin (e.g. inside `while read`).")
    ] = False


@dataclasses.dataclass(frozen=True, slots=True)
class ChatParams:
    """A flag for every Chat Completions parameter the seed gateways document."""

    temperature: Annotated[
        float | None, typer.Option("--temperature", metavar="T", help="Sampling temperature, 0-2.")
    ] = None
    top_p: Annotated[
        float | None, typer.Option("--top-p", metavar="P", help="Nucleus sampling mass, 0-1.")
    ] = None
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
    stop: Annotated[
        list[str] | None,
        typer.Option("--stop", metavar="TEXT", help="Stop sequence; repeatable (up to 4)."),
    ] = None
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
    tools: Annotated[
        str | None, typer.Option("--tools", metavar="FILE", help="JSON array of function tools.")
    ] = None
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
    param: Annotated[
        list[str] | None,
        typer.Option(
            "-p",
            "--param",
            metavar="KEY=VALUE",
            help="Any other body field; JSON value; dotted keys nest.",
        ),
    ] = None


_JSON_FLAGS = {
    "chat_template_kwargs": "--chat-template-kwargs",
    "stream_options": "--stream-options",
}


def build_body(
    prompt: Prompt,
    params: ChatParams,
    stdin: inputs.Stdin,
    *,
    model: str | None,
    default_model: str | None,
    style: str,
    defaults: dict[str, Any],
) -> dict[str, Any]:
    """The request body: gateway defaults < --body < --messages/prompt < flags < -p."""
    explicit = "-" in (prompt.file or []) or inputs.STDIN in (prompt.messages, prompt.body)
    body: dict[str, Any] = dict(defaults)
    if prompt.body is not None:
        loaded = inputs.load_json(prompt.body, stdin)
        if not isinstance(loaded, dict):
            raise UsageError(f"--body {prompt.body}: expected a JSON object")
        body.update(loaded)
    history = body.get("messages") or []
    if prompt.messages is not None:
        history = inputs.load_messages(prompt.messages, stdin)
    text = inputs.compose_prompt(
        prompt.prompt or [], prompt.file or [], stdin, implicit_stdin=not explicit
    )
    messages = openai.build_messages(history, prompt.system, text)
    if not messages or messages[-1].get("role") == "system":
        raise UsageError("no prompt: give PROMPT words, -f FILE, --messages FILE, or pipe stdin")
    body["messages"] = messages
    if model or "model" not in body:
        body["model"] = model or default_model
    options = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    for key, flag in _JSON_FLAGS.items():
        if options[key] is not None:
            options[key] = inputs.parse_json(options[key], flag)
    if options["response_format"] and options["response_format"].lstrip().startswith("{"):
        options["response_format"] = inputs.parse_json(
            options["response_format"], "--response-format"
        )
    if options["tools"] is not None:
        options["tools"] = inputs.load_json(options["tools"], stdin)
    if options["reasoning_effort"] is not None:
        options["reasoning_effort"] = options["reasoning_effort"].value
    openai.apply_options(body, options, reasoning_style=style)
    for item in params.param or []:
        path, value = inputs.parse_param(item)
        inputs.set_path(body, path, value)
    if not body.get("model"):
        raise UsageError("no model: pass -m MODEL or set LLMCLI_MODEL")
    return body


def _run(common: Common, prompt: Prompt, params: ChatParams, reasoning: bool, stream: bool) -> None:
    fmt = common.output.value if common.output else "text"
    if fmt == "sse" and not stream:
        raise UsageError("-o sse needs a stream: use `llmcli stream -o sse`")
    stdin = inputs.Stdin.from_process(ignore=prompt.no_stdin)
    with open_session(common, require_key=not common.dry_run) as session:
        body = build_body(
            prompt,
            params,
            stdin,
            model=common.model,
            default_model=session.model,
            style=session.gateway.reasoning_style,
            defaults=dict(session.gateway.params),
        )
        if stream:
            body["stream"] = True
            if fmt == "json" or common.usage:
                body.setdefault("stream_options", {}).setdefault("include_usage", True)
        request = session.request("POST", "chat", body, stream=stream)
        if common.dry_run:
            session.dry_run(request)
            return
        with session.client() as client:
            if stream:
                reply = print_stream(session, client, request, fmt, reasoning=reasoning)
            else:
                reply = print_completion(session, client, request, fmt, reasoning=reasoning)
            session.report_usage(client, reply)


ReasoningFlag = Annotated[
    bool, typer.Option("--reasoning", help="Show reasoning on stderr as it arrives.")
]


@grouped
def chat(
    prompt: Prompt, common: Common, reasoning: ReasoningFlag = False, *, params: ChatParams
) -> None:
    """Send a prompt and print the reply.

    \b
    Examples:
      cat notes.md | llmcli chat "summarise in 3 bullets"
      llmcli chat -g mock -m echo -o json hi | jq -r '.choices[0].message.content'
      git diff | llmcli chat -s "You review code." -f - "what breaks?"
    """
    _run(common, prompt, params, reasoning, stream=False)


@grouped
def stream(
    prompt: Prompt, common: Common, reasoning: ReasoningFlag = False, *, params: ChatParams
) -> None:
    """Send a prompt and print the reply as it arrives (stream: true).

    \b
    Examples:
      llmcli stream "write a haiku about pipes" | tee haiku.txt
      llmcli stream -o sse hi > raw.sse          # the bytes exactly as sent
      llmcli stream -o jsonl hi | jq -c '.choices[0].delta'
    """
    _run(common, prompt, params, reasoning, stream=True)
