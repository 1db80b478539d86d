"""``llmcli chat`` and ``llmcli stream``: one Chat Completions request, printed.

Both share every flag; ``stream`` sets ``stream: true`` and prints text as it arrives.
"""

from typing import Annotated, Any

import orjson
import typer

from llmcli.cli.chat_params import ChatParams, named_files, options
from llmcli.cli.options import Answering, Caching, Common, grouped
from llmcli.cli.prompt import NO_PROMPT, Gathered, Prompt
from llmcli.cli.tool_flags import ToolFlags
from llmcli.cli.turn import Turn
from llmcli.client import Client
from llmcli.errors import LlmcliError, NotJsonError, UsageError
from llmcli.http.request import Blob
from llmcli.io import inputs
from llmcli.protocol import tool_turns
from llmcli.protocol.chat import CHAT
from llmcli.protocol.chat import shapes as chat_shapes

ReasoningFlag = Annotated[
    bool, typer.Option("--reasoning", help="Show reasoning on stderr as it arrives.")
]


def check_text(text: str, flag: str, schema: Any, source: str | None) -> None:
    """The reply's text parses as JSON and, given a schema, matches it (else exit 3)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        asked = flag.split()[0]
        start = text.lstrip()[:1]
        if not start:
            raise NotJsonError(f"the reply is empty, not the JSON {asked} asked for") from None
        if start not in '{["-0123456789' and not text.lstrip().startswith(
            ("true", "false", "null")
        ):
            shown = text.strip()[:40] + ("…" if len(text.strip()) > 40 else "")
            raise NotJsonError(
                f"the reply is not JSON, which {asked} asked for: it is text ({shown!r})"
            ) from None
        raise NotJsonError(
            f"the reply is not valid JSON, which {asked} asked for: line {e.lineno} column "
            f"{e.colno}: {e.msg}"
        ) from None
    if schema is not None and source is not None:
        from llmcli.protocol import schemas

        if found := schemas.problem(value, schema, source):
            raise NotJsonError(f"the reply does not match {flag}: {found}")


def _schema_of(body: dict[str, Any]) -> Any:
    """The JSON Schema --schema put in the body (as json_schema.schema)."""
    response_format = body.get("response_format")
    spec = response_format.get("json_schema") if isinstance(response_format, dict) else None
    return spec.get("schema") if isinstance(spec, dict) else None


class ChatTurn(Turn[ChatParams]):
    """Chat Completions: messages, content parts, ``choices[].message``."""

    endpoint = "chat"
    dialect = CHAT
    sse_hint = "-o sse needs a stream: use `llmcli stream -o sse`"
    _schema: Any = None  # --schema's, as built into this run's body (or read for a check)

    def named_files(self, params: ChatParams) -> list[str | None]:
        return named_files(params)

    def user_message(self, gathered: Gathered) -> dict[str, Any] | None:
        parts = [
            chat_shapes.attachment_part(att.mime, att.filename, att.url or att.token)
            for att in gathered.attachments
        ]
        content = chat_shapes.user_content(gathered.text, parts)
        return None if content is None else {"role": "user", "content": content}

    def build_body(
        self,
        gathered: Gathered,
        prompt: Prompt,
        params: ChatParams,
        stdin: inputs.Stdin,
        client: Client,
        model: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {**client.gateway.params, **gathered.body}
        new = self.user_message(gathered)
        messages = chat_shapes.build_messages(gathered.history, prompt.system, None)
        if new is not None:
            messages.append(new)
        if not messages or messages[-1].get("role") == "system":
            raise UsageError(NO_PROMPT)
        body["messages"] = messages
        if model:
            body["model"] = model
        chat_shapes.apply_options(
            body, options(params, stdin), reasoning_style=client.gateway.reasoning_style
        )
        for item in params.param or []:
            path, value = inputs.parse_param(item)
            inputs.set_path(body, path, value)
        if params.schema:
            from llmcli.protocol import schemas

            self._schema = _schema_of(body)
            if self._schema is None:  # --response-format json_object: checked here only
                self._schema = schemas.unwrap(inputs.load_json(params.schema, stdin))
            schemas.check(self._schema, params.schema)  # a broken schema: nothing is sent
        return client.body("chat", body)

    def streaming(self, body: dict[str, Any], want_usage: bool) -> None:
        if want_usage:
            body.setdefault("stream_options", {}).setdefault("include_usage", True)

    def blobs(self, gathered: Gathered) -> list[Blob]:
        return [
            a.blob(f"data:{a.mime};base64,".encode()) for a in gathered.attachments if not a.url
        ]

    def explain(self, error: LlmcliError) -> None:
        """OpenAI's newest models answer only on /responses: say which command does."""
        if "v1/responses" in error.message and "only supported" in error.message:
            error.message += " (use `llmcli responses`, which speaks the Responses API)"

    def checks_reply(self, params: ChatParams) -> bool:
        return bool(params.json_mode or params.schema)

    def check(self, reply: dict[str, Any], params: ChatParams, body: dict[str, Any]) -> None:
        """With --json or --schema, the reply must parse as JSON, and with --schema match
        it (exit 3 when it does not; the reply is already on stdout)."""
        if not (params.json_mode or params.schema):
            return
        schema = self._schema if params.schema else None
        flag = "--json" if params.json_mode else f"--schema {params.schema}"
        for choice in reply.get("choices") or []:
            message = choice.get("message") or {}
            text = chat_shapes.message_text(message)
            if not text and message.get("tool_calls"):
                continue
            check_text(text, flag, schema, params.schema)

    def recorded(self, reply: dict[str, Any]) -> list[dict[str, Any]]:
        return tool_turns.assistant_turn("chat", reply)


TURN = ChatTurn()


@grouped
def chat(
    prompt: Prompt,
    common: Common,
    reasoning: ReasoningFlag = False,
    *,
    running: ToolFlags,
    caching: Caching,
    answering: Answering,
    params: ChatParams,
) -> None:
    """Send one Chat Completions request and print the reply. The user message is piped
    stdin, then each -f file, then the PROMPT words, separated by blank lines; -s adds a
    system prompt, --messages or -c the conversation so far, -a images or PDFs. stdout
    gets the reply's text (-o json: the whole response body); reasoning goes to stderr
    with --reasoning. With --json or --schema, a reply that is not JSON, or does not match
    the schema, exits 3 naming the JSON path of the first error. At a terminal the text
    is shown as rendered Markdown (--no-render: as sent; a pipe always gets it as sent).
    --cache answers a request asked before from disk; --fallback names the gateways to
    ask when this one fails before any output (no connection, 5xx, 429).

    \b
    Examples:
      cat notes.md | llmcli chat "summarise in 3 bullets"
      llmcli chat -g mock -m echo -o json hi | jq -r '.choices[0].message.content'
      git diff | llmcli chat -s "You review code." -f - "what breaks?"
    """
    TURN.run(
        common,
        prompt,
        params,
        reasoning,
        stream=False,
        tools=running,
        caching=caching,
        answering=answering,
    )


@grouped
def stream(
    prompt: Prompt,
    common: Common,
    reasoning: ReasoningFlag = False,
    *,
    running: ToolFlags,
    caching: Caching,
    answering: Answering,
    params: ChatParams,
) -> None:
    """Send a prompt with stream: true and print the reply as it arrives, flushed after
    every network read; input and flags are those of chat. -o json assembles the stream
    into the object chat would print (content, reasoning fields, tool calls,
    finish_reason, usage), -o jsonl prints each event's data on a line, -o sse the bytes
    exactly as sent. A stream cut before its end exits 76 after printing what arrived.

    \b
    Examples:
      llmcli stream "write a haiku about pipes" | tee haiku.txt
      llmcli stream -o sse hi > raw.sse          # the bytes exactly as sent
      llmcli stream -o jsonl hi | jq -c '.choices[0].delta'
    """
    TURN.run(
        common,
        prompt,
        params,
        reasoning,
        stream=True,
        tools=running,
        caching=caching,
        answering=answering,
    )
