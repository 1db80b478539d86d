"""``llmcli messages``: the Anthropic Messages API, whole or ``--stream``ed."""

import dataclasses
from typing import Annotated, Any

import typer

from llmcli.cli.chat import ReasoningFlag, check_text
from llmcli.cli.chat_params import tool_files, tools_from
from llmcli.cli.client import dry_run, open_client, output, report_usage
from llmcli.cli.options import Common, Param, Stop, Temperature, Tool, Tools, TopP, grouped
from llmcli.cli.prompt import NO_PROMPT, Gathered, Prompt, gather
from llmcli.errors import UsageError
from llmcli.io import conversation, inputs, outputs
from llmcli.protocol.messages import MESSAGES
from llmcli.protocol.messages import shapes as messages_shapes


@dataclasses.dataclass(frozen=True, slots=True)
class MessagesParams:
    """Messages API parameters; ``-p`` passes anything else."""

    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            metavar="N",
            help=f"Most tokens to generate (the API requires it; default "
            f"{messages_shapes.DEFAULT_MAX_TOKENS}).",
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
    temperature: Temperature = None
    top_p: TopP = None
    top_k: Annotated[int | None, typer.Option("--top-k", metavar="K")] = None
    stop: Stop = None
    tools: Tools = None
    tool: Tool = None
    tool_choice: Annotated[
        str | None,
        typer.Option("--tool-choice", metavar="auto|none|any|NAME", help="Which tool to use."),
    ] = None
    metadata: Annotated[
        str | None, typer.Option("--metadata", metavar="JSON", help='e.g. \'{"user_id": "u1"}\'.')
    ] = None
    json_mode: Annotated[
        bool,
        typer.Option(
            "--json",
            help="The reply must be JSON: one that does not parse exits 3 (checked here: the "
            "API has no JSON mode without a schema).",
        ),
    ] = False
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="FILE",
            help="Structured output: a JSON Schema, sent as output_config.format; a reply "
            "that does not match exits 3.",
        ),
    ] = None
    param: Param = None


def user_message(gathered: Gathered) -> dict[str, Any] | None:
    blocks = [
        messages_shapes.attachment_block(att.mime, att.url, None if att.url else att.token)
        for att in gathered.attachments
    ]
    content = messages_shapes.user_content(gathered.text, blocks)
    return None if content is None else {"role": "user", "content": content}


def build_body(
    gathered: Gathered,
    prompt: Prompt,
    params: MessagesParams,
    stdin: inputs.Stdin,
    *,
    model: str | None,
    default_model: str | None,
    defaults: dict[str, Any],
) -> dict[str, Any]:
    """The request body: gateway defaults < --body < history and prompt < flags < -p."""
    body: dict[str, Any] = {**defaults, **gathered.body}
    system, history = messages_shapes.split_system(messages_shapes.from_openai(gathered.history))
    messages = list(history)
    if (new := user_message(gathered)) is not None:
        messages.append(new)
    if not messages:
        raise UsageError(NO_PROMPT)
    body["messages"] = messages
    if prompt.system is not None or system is not None:
        body["system"] = prompt.system if prompt.system is not None else system
    if model or "model" not in body:
        body["model"] = model or default_model
    options = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    if options["metadata"] is not None:
        options["metadata"] = inputs.parse_json(options["metadata"], "--metadata")
    options["tools"] = tools_from(params.tool or [], stdin, params.tools)
    if params.json_mode and params.schema:
        raise UsageError("--json and --schema both set the reply format: pick one")
    if params.schema is not None:  # Anthropic's structured outputs (generally available)
        from llmcli.protocol import schemas  # jsonschema only when a schema is given

        schema = schemas.unwrap(inputs.load_json(params.schema, stdin))
        schemas.check(schema, params.schema)
        config = body.setdefault("output_config", {})
        if isinstance(config, dict):
            config["format"] = {"type": "json_schema", "schema": schema}
    del options["json_mode"], options["schema"]
    messages_shapes.apply_options(body, options)
    if "max_tokens" not in body:
        # the API requires max_tokens, and wants it above any thinking budget
        body["max_tokens"] = messages_shapes.DEFAULT_MAX_TOKENS + (params.thinking_budget or 0)
    for item in params.param or []:
        path, value = inputs.parse_param(item)
        inputs.set_path(body, path, value)
    if not body.get("model"):
        raise UsageError("no model: pass -m MODEL or set LLMCLI_MODEL")
    return body


def _schema(body: dict[str, Any]) -> Any:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    return fmt.get("schema") if isinstance(fmt, dict) else None


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
    """Send a prompt to an Anthropic-compatible /messages endpoint and print the reply,
    whole or, with --stream, as it arrives. Input is gathered as for chat; -s becomes the
    top-level system; thinking goes to stderr with --reasoning; tool_use blocks are
    printed as JSON lines after the text. --schema asks for structured output
    (output_config.format) and checks the reply: one that does not match exits 3. -o
    json is the Anthropic message (assembled from the events with --stream), -o jsonl
    compact JSON lines ({event, data} for each event of a stream), -o sse the raw bytes
    of a stream.

    \b
    Examples:
      cat report.md | llmcli messages -g anthropic "three risks, one line each"
      llmcli messages --stream --thinking-budget 2000 --reasoning "why?" 2>thinking.txt | tee a.txt
      llmcli messages --stream -o json hi | jq '.content[] | select(.type == "tool_use")'
    """
    fmt = common.output.value if common.output else "text"
    if fmt == "sse" and not stream:
        raise UsageError("-o sse needs a stream: add --stream")
    if prompt.continue_ is not None:
        conversation.check_writable(prompt.continue_)
    stdin = inputs.Stdin.from_process(ignore=prompt.no_stdin)
    named = [*tool_files(params.tools, params.tool), params.schema]
    gathered = gather(prompt, stdin, also_named=named, api="messages")
    with open_client(common, require_key=not common.dry_run, fallback="anthropic") as client:
        body = build_body(
            gathered,
            prompt,
            params,
            stdin,
            model=common.model,
            default_model=client.model,
            defaults=dict(client.gateway.params),
        )
        if stream:
            body["stream"] = True
        blobs = [a.blob(b"") for a in gathered.attachments if not a.url]
        request = client.request("POST", "messages", body, stream=stream, blobs=blobs)
        if common.dry_run:
            dry_run(request)
            return
        writer = outputs.WRITERS[fmt](output(), MESSAGES, reasoning)
        exchange = client.exchange(
            request,
            MESSAGES,
            stream=stream,
            keep_text=bool(prompt.continue_ or params.json_mode or params.schema)
            or writer.keep_text,
            lines=writer.lines,
        )
        reply = outputs.write(exchange, writer)
        report_usage(common, client, reply)
    if params.json_mode or params.schema:
        text = "".join(
            b.get("text", "") for b in reply.get("content") or [] if b.get("type") == "text"
        )
        flag = "--json" if params.json_mode else f"--schema {params.schema}"
        check_text(text, flag, _schema(body), params.schema)
    if prompt.continue_ is not None:
        conversation.record_turn(
            prompt.continue_,
            system=prompt.system if gathered.new_conversation else None,
            user=user_message(gathered),
            assistant={"role": "assistant", "content": reply.get("content", [])},
            blobs=blobs,
        )
