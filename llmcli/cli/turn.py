"""One turn of a conversation, the skeleton every conversation command shares (``chat``,
``stream``, ``messages``, ``responses``): flags -> the library's request and exchange ->
a writer.

What differs between the APIs is a ``Turn``: how the body is built from the gathered
input and the flags, what a streamed body adds, which attachments travel as blobs, how a
reply is checked (``--json``/``--schema``) and which assistant message a conversation
file records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from llmcli.cli.client import dry_run, open_client, output, report_usage
from llmcli.cli.prompt import gather
from llmcli.errors import LlmcliError, UsageError
from llmcli.io import conversation, inputs, outputs

if TYPE_CHECKING:
    from llmcli.cli.options import Common
    from llmcli.cli.prompt import Gathered, Prompt
    from llmcli.client import Client
    from llmcli.http.request import Blob, Request
    from llmcli.protocol.dialect import Dialect

JSON = dict[str, Any]
P = TypeVar("P")


def _within(cap: float, client: Client, body: JSON, request: Request, refresh: bool) -> None:
    """``--max-cost``: the request goes out only if its worst case is within the cap."""
    from llmcli.prices import PriceBook
    from llmcli.spend import Spend

    size = len(request.body) if request.body is not None else 0
    spend = Spend(cap, PriceBook(client, refresh=refresh))
    spend.reserve(spend.worst(body, size))


class Turn(ABC, Generic[P]):
    """One API's part in a turn; ``run`` is the rest, the same for every API."""

    endpoint: Literal["chat", "messages", "responses"]
    dialect: Dialect
    fallback: str = "openai"  # the gateway a flagless run talks to
    sse_hint: str  # the usage error of -o sse without a stream

    @abstractmethod
    def named_files(self, params: P) -> list[str | None]:
        """The files the flags read (stdin, when one is '-')."""

    @abstractmethod
    def user_message(self, gathered: Gathered) -> JSON | None:
        """The new user message: the prompt, with attachments."""

    @abstractmethod
    def build_body(
        self,
        gathered: Gathered,
        prompt: Prompt,
        params: P,
        stdin: inputs.Stdin,
        client: Client,
        model: str | None,
    ) -> JSON:
        """The request body: gateway defaults < --body < history and prompt < flags < -p."""

    def streaming(self, body: JSON, want_usage: bool) -> None:
        """What a body adds to stream (``stream: true`` is already set)."""

    @abstractmethod
    def blobs(self, gathered: Gathered) -> list[Blob]:
        """The attachments sent as blobs (files, not URLs)."""

    @abstractmethod
    def checks_reply(self, params: P) -> bool:
        """Whether the reply's text is checked (--json, --schema): it is then kept."""

    @abstractmethod
    def check(self, reply: JSON, params: P, body: JSON) -> None:
        """--json / --schema: the reply parses and matches (else exit 3)."""

    @abstractmethod
    def recorded(self, reply: JSON) -> list[JSON]:
        """What a conversation file records of the reply (the assistant message)."""

    def explain(self, error: LlmcliError) -> None:
        """Add what to do to a failure's message, where the API's words leave it unsaid."""

    def finished(self, reply: JSON) -> str | None:
        """A line for stderr about how the reply ended (an incomplete response), or None."""
        return None

    def run(self, common: Common, prompt: Prompt, params: P, reasoning: bool, stream: bool) -> None:
        fmt = common.output.value if common.output else "text"
        if fmt == "sse" and not stream:
            raise UsageError(self.sse_hint)
        if prompt.continue_ is not None:
            conversation.check_writable(prompt.continue_)
        stdin = inputs.Stdin.from_process(ignore=prompt.no_stdin)
        gathered = gather(prompt, stdin, also_named=self.named_files(params), api=self.endpoint)
        with open_client(common, require_key=not common.dry_run, fallback=self.fallback) as client:
            body = self.build_body(gathered, prompt, params, stdin, client, common.model)
            if stream:
                body["stream"] = True
                self.streaming(body, fmt == "json" or common.usage)
            blobs = self.blobs(gathered)
            request = client.request("POST", self.endpoint, body, stream=stream, blobs=blobs)
            if prompt.max_cost is not None and not common.dry_run:
                _within(prompt.max_cost, client, body, request, common.refresh_prices)
            if common.dry_run:
                dry_run(request)
                return
            writer = outputs.WRITERS[fmt](output(), self.dialect, reasoning)
            keep = bool(prompt.continue_ or self.checks_reply(params)) or writer.keep_text
            exchange = client.exchange(
                request, self.dialect, stream=stream, keep_text=keep, lines=writer.lines
            )
            try:
                reply = outputs.write(exchange, writer)
            except LlmcliError as e:
                self.explain(e)
                raise
            report_usage(common, client, reply, model=body.get("model"))
        if (line := self.finished(reply)) is not None:
            output().note(f"llmcli: {line}")
        self.check(reply, params, body)
        if prompt.continue_ is not None:
            conversation.record_turn(
                prompt.continue_,
                system=prompt.system if gathered.new_conversation else None,
                user=self.user_message(gathered),
                replies=self.recorded(reply),
                blobs=blobs,
            )
