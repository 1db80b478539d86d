"""``llmcli messages``: the Anthropic Messages API, whole or ``--stream``ed."""

import dataclasses
from typing import Annotated, Any

import typer

from llmcli import anthropic, inputs
from llmcli.cli.chat import Prompt, ReasoningFlag
from llmcli.cli.options import Common, grouped
from llmcli.cli.replies import MESSAGES, print_completion, print_stream
from llmcli.cli.session import open_session
from llmcli.errors import UsageError


@dataclasses.dataclass(frozen=True, slots=True)
class MessagesParams:
    """Messages API parameters; ``-p`` passes anything else."""

    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            metavar="N",
            help=f"Most tokens to generate (the API requires it; default "
            f"{anthropic.DEFAULT_MAX_TOKENS}).",
            show_default=False,
        ),
    ] = None
    thinking_budget: Annotated[
        int | None,
        typer.Option(
            "--thinking-budget",
            metavar="N",
            help="Extended thinking: thinking {type: enabled, budget_tokens: N}.",
        ),
    ] = None
    temperature: Annotated[float | None, typer.Option("--temperature", metavar="T")] = None
    top_p: Annotated[float | None, typer.Option("--top-p", metavar="P")] = None
    top_k: Annotated[int | None, typer.Option("--top-k", metavar="K")] = None
    stop: Annotated[
        list[str] | None,
        typer.Option("--stop", metavar="TEXT", help="Stop sequence; repeatable."),
    ] = None
    tools: Annotated[
        str | None,
        typer.Option(
            "--tools", metavar="FILE", help="JSON array of tools (Anthropic or OpenAI shape)."
        ),
    ] = None
    tool_choice: Annotated[
        str | None,
        typer.Option("--tool-choice", metavar="auto|none|any|NAME", help="Which tool to use."),
    ] = None
    metadata: Annotated[
        str | None, typer.Option("--metadata", metavar="JSON", help='e.g. \'{"user_id": "u1"}\'.')
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


def build_body(
    prompt: Prompt,
    params: MessagesParams,
    stdin: inputs.Stdin,
    *,
    model: str | None,
    default_model: str | None,
) -> dict[str, Any]:
    """The request body: --body < --messages/prompt < flags < -p."""
    explicit = "-" in (prompt.file or []) or inputs.STDIN in (prompt.messages, prompt.body)
    body: dict[str, Any] = {}
    if prompt.body is not None:
        loaded = inputs.load_json(prompt.body, stdin)
        if not isinstance(loaded, dict):
            raise UsageError(f"--body {prompt.body}: expected a JSON object")
        body.update(loaded)
    history = body.get("messages") or []
    if prompt.messages is not None:
        history = inputs.load_messages(prompt.messages, stdin)
    system, history = anthropic.split_system(history)
    text = inputs.compose_prompt(
        prompt.prompt or [], prompt.file or [], stdin, implicit_stdin=not explicit
    )
    messages = anthropic.build_messages(history, text)
    if not messages:
        raise UsageError("no prompt: give PROMPT words, -f FILE, --messages FILE, or pipe stdin")
    body["messages"] = messages
    if prompt.system is not None or system is not None:
        body["system"] = prompt.system if prompt.system is not None else system
    if model or "model" not in body:
        body["model"] = model or default_model
    options = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    if options["metadata"] is not None:
        options["metadata"] = inputs.parse_json(options["metadata"], "--metadata")
    if options["tools"] is not None:
        options["tools"] = inputs.load_json(options["tools"], stdin)
        if not isinstance(options["tools"], list):
            raise UsageError(f"--tools {params.tools}: expected a JSON array of tools")
    anthropic.apply_options(body, options)
    if "max_tokens" not in body:
        budget = params.thinking_budget or 0
        # the API wants max_tokens above the thinking budget
        body["max_tokens"] = anthropic.DEFAULT_MAX_TOKENS + (budget if budget else 0)
    for item in params.param or []:
        path, value = inputs.parse_param(item)
        inputs.set_path(body, path, value)
    if not body.get("model"):
        raise UsageError("no model: pass -m MODEL or set LLMCLI_MODEL")
    return body


@grouped
def messages(
    prompt: Prompt,
    common: Common,
    stream: Annotated[bool, typer.Option("--stream", help="Stream the reply (stream: true).")] = (
        False
    ),
    reasoning: ReasoningFlag = False,
    *,
    params: MessagesParams,
) -> None:
    """Send a prompt to an Anthropic-compatible /messages endpoint and print the reply.
    -s becomes the top-level system; thinking goes to stderr with --reasoning; tool_use
    blocks are printed as JSON lines after the text.

    \b
    Examples:
      cat report.md | llmcli messages -g anthropic "three risks, one line each"
      llmcli messages --stream --thinking-budget 2000 --reasoning "why is the sky blue?"
      llmcli messages --stream -o json hi | jq '.content[] | select(.type == "tool_use")'
    """
    fmt = common.output.value if common.output else "text"
    if fmt == "sse" and not stream:
        raise UsageError("-o sse needs a stream: add --stream")
    stdin = inputs.Stdin.from_process(ignore=prompt.no_stdin)
    with open_session(common, require_key=not common.dry_run) as session:
        body = build_body(prompt, params, stdin, model=common.model, default_model=session.model)
        if stream:
            body["stream"] = True
        request = session.request(
            "POST",
            "messages",
            body,
            stream=stream,
            defaults={"anthropic-version": anthropic.ANTHROPIC_VERSION},
        )
        if common.dry_run:
            session.dry_run(request)
            return
        with session.client() as client:
            printer = print_stream if stream else print_completion
            reply = printer(session, client, request, fmt, reasoning=reasoning, dialect=MESSAGES)
            session.report_usage(client, reply)
