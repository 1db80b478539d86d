"""``llmcli responses``: the Responses API (``POST /responses``), whole or ``--stream``ed."""

import dataclasses
from typing import Annotated, Any

import typer

from llmcli.cli.chat import ReasoningFlag, check_text
from llmcli.cli.chat_params import reply_format, tool_files, tools_from
from llmcli.cli.options import (
    Answering,
    Caching,
    Common,
    Param,
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
from llmcli.protocol.responses import RESPONSES
from llmcli.protocol.responses import shapes as responses_shapes

#: ``--previous-response-id last``: the id of the last response the -c file recorded
LAST = "last"
ENCRYPTED_REASONING = "reasoning.encrypted_content"


@dataclasses.dataclass(frozen=True, slots=True)
class ResponsesParams:
    """Responses API parameters; ``-p`` passes anything else."""

    max_output_tokens: Annotated[
        int | None,
        typer.Option("--max-output-tokens", metavar="N", help="Most tokens to generate."),
    ] = None
    reasoning_effort: Annotated[
        str | None,
        typer.Option(
            "--reasoning-effort",
            metavar="none|minimal|low|medium|high|xhigh",
            help="reasoning.effort.",
        ),
    ] = None
    reasoning_summary: Annotated[
        str | None,
        typer.Option(
            "--reasoning-summary",
            metavar="auto|concise|detailed",
            help="reasoning.summary: ask for summaries of the reasoning (--reasoning shows them).",
        ),
    ] = None
    store: Annotated[
        bool | None,
        typer.Option(
            "--store/--no-store",
            help="Whether the server keeps the response (default: the server's). --no-store "
            "asks for encrypted reasoning, so that -c can send it back.",
            show_default=False,
        ),
    ] = None
    previous_response_id: Annotated[
        str | None,
        typer.Option(
            "--previous-response-id",
            metavar="ID|last",
            help="Continue on the server from this response (stateful): only the new input "
            "is sent. 'last': the last response the -c file recorded.",
        ),
    ] = None
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            metavar="FIELD",
            help="Extra output to include, e.g. reasoning.encrypted_content; repeatable.",
        ),
    ] = None
    temperature: Temperature = None
    top_p: TopP = None
    tools: Tools = None
    tool: Tool = None
    tool_choice: Annotated[
        str | None,
        typer.Option("--tool-choice", metavar="auto|none|required|NAME", help="Which tool to use."),
    ] = None
    metadata: Annotated[
        str | None, typer.Option("--metadata", metavar="JSON", help='e.g. \'{"run": "r1"}\'.')
    ] = None
    json_mode: Annotated[
        bool,
        typer.Option(
            "--json",
            help='The reply must be JSON (text.format {"type": "json_object"}): one that '
            "does not parse exits 3.",
        ),
    ] = False
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            metavar="FILE",
            help="Structured output: a JSON Schema, sent as text.format; a reply that does "
            "not match exits 3.",
        ),
    ] = None
    param: Param = None


def _instructions(items: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """A history's leading system (or developer) message, as ``instructions``, and the
    items after it."""
    if items and items[0].get("role") in ("system", "developer") and "type" not in items[0]:
        return items[0].get("content"), items[1:]
    return None, items


def _last_stored(prompt: Prompt, history: list[dict[str, Any]]) -> str:
    """``--previous-response-id last``: the id of the last response the -c file recorded,
    which the server must have stored."""
    where = prompt.continue_
    if where is None:
        raise UsageError("--previous-response-id last needs -c FILE: the file it is in")
    last = responses_shapes.last_response(history)
    if last is None:
        raise UsageError(f"--previous-response-id last: {where} holds no response yet")
    if last.get("stored") is False:
        raise UsageError(
            f"--previous-response-id last: the last response in {where} was not stored "
            "(--no-store): continue without --previous-response-id, which sends it all"
        )
    return str(last["id"])


class ResponsesTurn(Turn[ResponsesParams]):
    """The Responses API: input items, ``instructions``, output items."""

    endpoint = "responses"
    dialect = RESPONSES
    sse_hint = "-o sse needs a stream: add --stream"

    def named_files(self, params: ResponsesParams) -> list[str | None]:
        return [*tool_files(params.tools, params.tool), params.schema]

    def user_message(self, gathered: Gathered) -> dict[str, Any] | None:
        parts = [
            responses_shapes.attachment_part(att.mime, att.filename, att.url or att.token)
            for att in gathered.attachments
        ]
        content = responses_shapes.user_content(gathered.text, parts)
        return None if content is None else {"role": "user", "content": content}

    def build_body(
        self,
        gathered: Gathered,
        prompt: Prompt,
        params: ResponsesParams,
        stdin: inputs.Stdin,
        client: Client,
        model: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {**client.gateway.params, **gathered.body}
        given = body.pop("input", None)
        history = [{"role": "user", "content": given}] if isinstance(given, str) else []
        history += given if isinstance(given, list) else []
        history += gathered.history
        previous = params.previous_response_id
        if previous == LAST:
            previous = _last_stored(prompt, gathered.history)
        instructions, history = _instructions(responses_shapes.from_chat(history))
        if previous is not None and prompt.continue_ is not None:
            history = responses_shapes.after_last_response(history)  # the server has the rest
        items = responses_shapes.for_sending(history)
        if params.store is False:  # what the server would have to look up: never sent
            items = responses_shapes.without_unkept_reasoning(items)
        new = self.user_message(gathered)
        if new is not None:
            items.append(new)
        if not items:
            raise UsageError(NO_PROMPT)
        simple = len(items) == 1 and new is not None and isinstance(new["content"], str)
        body["input"] = new["content"] if simple and new is not None else items
        if prompt.system is not None or instructions is not None:
            body["instructions"] = prompt.system if prompt.system is not None else instructions
        if model:
            body["model"] = model
        options: dict[str, Any] = {
            f.name: getattr(params, f.name) for f in dataclasses.fields(params)
        }
        options["previous_response_id"] = previous
        if options["metadata"] is not None:
            options["metadata"] = inputs.parse_json(options["metadata"], "--metadata")
        options["tools"] = tools_from(params.tool or [], stdin, params.tools)
        if params.store is False:  # stateless reasoning goes back only encrypted
            options["include"] = [*(params.include or []), ENCRYPTED_REASONING]
        options["format"] = reply_format(
            params.json_mode, params.schema, stdin, responses_shapes.schema_format
        )
        if params.schema is not None:
            from llmcli.protocol import schemas  # jsonschema only when a schema is given

            schemas.check(options["format"].get("schema"), params.schema)
        responses_shapes.apply_options(body, options)
        for item in params.param or []:
            path, value = inputs.parse_param(item)
            inputs.set_path(body, path, value)
        return client.body("responses", body)

    def blobs(self, gathered: Gathered) -> list[Blob]:
        files = [a for a in gathered.attachments if not a.url]
        return [a.blob(f"data:{a.mime};base64,".encode()) for a in files]

    def checks_reply(self, params: ResponsesParams) -> bool:
        return bool(params.json_mode or params.schema)

    def check(self, reply: dict[str, Any], params: ResponsesParams, body: dict[str, Any]) -> None:
        if not (params.json_mode or params.schema):
            return
        text = responses_shapes.output_text(reply)
        if not text and responses_shapes.tool_calls(reply):
            return
        flag = "--json" if params.json_mode else f"--schema {params.schema}"
        check_text(text, flag, responses_shapes.schema_of(body), params.schema)

    def waiting(
        self, gathered: Gathered, body: dict[str, Any]
    ) -> tuple[list[tool_turns.Call], int] | None:
        """Continued on the server (``previous_response_id``), the input starts after the
        last stored response: calls that response made and nothing answered go first."""
        if not body.get("previous_response_id") or not gathered.history:
            return None
        items = responses_shapes.from_chat(gathered.history)
        calls, _ = tool_turns.unanswered("responses", {"input": items})
        return calls, 0

    def finished(self, reply: dict[str, Any]) -> str | None:
        reason = responses_shapes.incomplete_reason(reply)
        return None if reason is None else f"the response is incomplete: {reason}"

    def recorded(self, reply: dict[str, Any]) -> list[dict[str, Any]]:
        output = reply.get("output")
        items = [i for i in output if isinstance(i, dict)] if isinstance(output, list) else []
        if isinstance(reply.get("id"), str):
            stored = reply.get("store") is not False
            items.append(
                {"type": responses_shapes.RESPONSE_ID, "id": reply["id"], "stored": stored}
            )
        return items


TURN = ResponsesTurn()


@grouped
def responses(
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
    params: ResponsesParams,
) -> None:
    """Send a prompt to a /responses endpoint (OpenAI's Responses API, Open Responses) and
    print the output text, whole or, with --stream, as it arrives. Input is gathered as
    for chat; -s becomes instructions; --messages gives input items (chat-shaped messages
    are converted). Reasoning summaries go to stderr with --reasoning (ask for them with
    --reasoning-summary auto); function calls are printed as JSON lines after the text.
    -o json is the response object (for a stream, the one its terminal event carries,
    checked against the deltas), -o jsonl {event, data} for each event of a stream, -o
    sse the raw bytes. An incomplete response exits 0 with a line on stderr saying why.
    -c FILE continues statelessly (every item sent again; with --no-store the reasoning
    goes back encrypted), or on the server with --previous-response-id last. At a
    terminal the text is rendered as Markdown (--no-render: as sent); --cache and
    --fallback work as for chat.

    \b
    Examples:
      llmcli responses -g openai -m gpt-5-mini "why is the sky blue?"
      git diff | llmcli responses --stream --reasoning-summary auto --reasoning "review" 2>why.txt
      llmcli responses --stream -o jsonl hi | jq -c 'select(.event == "response.output_text.delta")'
    """
    TURN.run(common, prompt, params, reasoning, stream, running, caching, answering)
