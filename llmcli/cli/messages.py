"""``llmcli messages``: the Anthropic Messages API, whole or ``--stream``ed."""

import dataclasses
from typing import Annotated, Any

import typer

from llmcli.cli.chat import ReasoningFlag, check_text
from llmcli.cli.chat_params import tool_files, tools_from
from llmcli.cli.options import (
    Answering,
    Caching,
    Common,
    Param,
    Stop,
    Temperature,
    Tool,
    Tools,
    TopP,
    grouped,
)
from llmcli.cli.prompt import NO_PROMPT, Gathered, Prompt
from llmcli.cli.tool_flags import ToolFlags
from llmcli.cli.turn import Turn
from llmcli.client import Client
from llmcli.errors import UsageError
from llmcli.http.request import Blob
from llmcli.io import inputs
from llmcli.protocol import tool_turns
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


def _schema(body: dict[str, Any]) -> Any:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    return fmt.get("schema") if isinstance(fmt, dict) else None


class MessagesTurn(Turn[MessagesParams]):
    """Anthropic Messages: a top-level system, content blocks, ``max_tokens`` required."""

    endpoint = "messages"
    dialect = MESSAGES
    fallback = "anthropic"
    sse_hint = "-o sse needs a stream: add --stream"

    def named_files(self, params: MessagesParams) -> list[str | None]:
        return [*tool_files(params.tools, params.tool), params.schema]

    def user_message(self, gathered: Gathered) -> dict[str, Any] | None:
        blocks = [
            messages_shapes.attachment_block(att.mime, att.url, None if att.url else att.token)
            for att in gathered.attachments
        ]
        content = messages_shapes.user_content(gathered.text, blocks)
        return None if content is None else {"role": "user", "content": content}

    def build_body(
        self,
        gathered: Gathered,
        prompt: Prompt,
        params: MessagesParams,
        stdin: inputs.Stdin,
        client: Client,
        model: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {**client.gateway.params, **gathered.body}
        system, history = messages_shapes.split_system(
            messages_shapes.from_openai(gathered.history)
        )
        messages = list(history)
        if (new := self.user_message(gathered)) is not None:
            messages.append(new)
        if not messages:
            raise UsageError(NO_PROMPT)
        body["messages"] = messages
        if prompt.system is not None or system is not None:
            body["system"] = prompt.system if prompt.system is not None else system
        if model:
            body["model"] = model
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
        return client.body("messages", body)

    def blobs(self, gathered: Gathered) -> list[Blob]:
        return [a.blob(b"") for a in gathered.attachments if not a.url]

    def checks_reply(self, params: MessagesParams) -> bool:
        return bool(params.json_mode or params.schema)

    def check(self, reply: dict[str, Any], params: MessagesParams, body: dict[str, Any]) -> None:
        if not (params.json_mode or params.schema):
            return
        content = reply.get("content") or []
        text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
        flag = "--json" if params.json_mode else f"--schema {params.schema}"
        check_text(text, flag, _schema(body), params.schema)

    def recorded(self, reply: dict[str, Any]) -> list[dict[str, Any]]:
        return tool_turns.assistant_turn("messages", reply)


TURN = MessagesTurn()


@grouped
def messages(
    prompt: Prompt,
    common: Common,
    stream: Annotated[bool, typer.Option("--stream", help="Stream the reply (stream: true).")] = (
        False
    ),
    reasoning: ReasoningFlag = False,
    *,
    running: ToolFlags,
    caching: Caching,
    answering: Answering,
    params: MessagesParams,
) -> None:
    """Send a prompt to an Anthropic-compatible /messages endpoint and print the reply,
    whole or, with --stream, as it arrives. Input is gathered as for chat; -s becomes the
    top-level system; thinking goes to stderr with --reasoning; tool_use blocks are
    printed as JSON lines after the text. --schema asks for structured output
    (output_config.format) and checks the reply: one that does not match exits 3. -o
    json is the Anthropic message (assembled from the events with --stream), -o jsonl
    compact JSON lines ({event, data} for each event of a stream), -o sse the raw bytes
    of a stream. At a terminal the text is rendered as Markdown (--no-render: as sent);
    --cache and --fallback work as for chat.

    \b
    Examples:
      cat report.md | llmcli messages -g anthropic "three risks, one line each"
      llmcli messages --stream --thinking-budget 2000 --reasoning "why?" 2>thinking.txt | tee a.txt
      llmcli messages --stream -o json hi | jq '.content[] | select(.type == "tool_use")'
    """
    TURN.run(common, prompt, params, reasoning, stream, running, caching, answering)
