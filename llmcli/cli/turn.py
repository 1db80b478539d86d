"""One turn of a conversation, the skeleton every conversation command shares (``chat``,
``stream``, ``messages``, ``responses``): flags -> the library's request and exchange ->
a writer.

What differs between the APIs is a ``Turn``: how the body is built from the gathered
input and the flags, what a streamed body adds, which attachments travel as blobs, how a
reply is checked (``--json``/``--schema``) and which assistant message a conversation
file records.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from llmcli.cli import fallback, template_use, tool_flags
from llmcli.cli.client import dry_run, open_client, output, report_usage
from llmcli.cli.prompt import gather
from llmcli.cli.tool_flags import ToolFlags
from llmcli.errors import LlmcliError, UsageError
from llmcli.io import conversation, inputs, outputs

if TYPE_CHECKING:
    from llmcli.cli.options import Answering, Caching, Common
    from llmcli.cli.prompt import Gathered, Prompt
    from llmcli.client import Client
    from llmcli.http.request import Blob
    from llmcli.protocol.dialect import Dialect
    from llmcli.protocol.tool_turns import Call
    from llmcli.spend import Spend
    from llmcli.tools.loop import Toolbox

JSON = dict[str, Any]
P = TypeVar("P")


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

    def waiting(self, gathered: Gathered, body: JSON) -> tuple[list[Call], int] | None:
        """Calls the conversation left unanswered that the body does not show (and where
        their results go), or None: the loop reads them from the body."""
        return None

    def finished(self, reply: JSON) -> str | None:
        """A line for stderr about how the reply ended (an incomplete response), or None."""
        return None

    def run(
        self,
        common: Common,
        prompt: Prompt,
        params: P,
        reasoning: bool,
        stream: bool,
        tools: ToolFlags | None = None,
        caching: Caching | None = None,
        answering: Answering | None = None,
    ) -> None:
        fmt = common.output.value if common.output else "text"
        if fmt == "sse" and not stream:
            raise UsageError(self.sse_hint)
        flags = tools or ToolFlags()
        tool_flags.check(flags)
        template = template_use.chosen(prompt)
        if template is not None:
            prompt, common, params = template_use.defaults(template, prompt, common, params)
        if prompt.continue_ is not None:
            conversation.check_writable(prompt.continue_)
        stdin = inputs.Stdin.from_process(ignore=prompt.no_stdin)
        gathered = gather(prompt, stdin, also_named=self.named_files(params), api=self.endpoint)
        if template is not None:
            gathered = template_use.applied(template, prompt, gathered)
        out = output()
        log = out.note if common.verbose else None
        with contextlib.ExitStack() as stack:  # and the fallbacks' clients, when asked
            client = stack.enter_context(
                open_client(
                    common, require_key=not common.dry_run, fallback=self.fallback, caching=caching
                )
            )
            body = self.build_body(gathered, prompt, params, stdin, client, common.model)
            if stream:
                body["stream"] = True
                self.streaming(body, fmt == "json" or common.usage)
            blobs = self.blobs(gathered)
            with tool_flags.toolbox(
                flags, self.endpoint, body, client.secrets, log, common.dry_run
            ) as box:
                if box is not None:
                    body = box.offer(self.endpoint, body)
                if common.dry_run:
                    dry_run(client.request("POST", self.endpoint, body, stream=stream, blobs=blobs))
                    return
                kind = outputs.WRITERS[fmt]
                render = answering.render if answering is not None else None
                if fmt == "text" and outputs.renders(render, out):
                    kind = outputs.MarkdownWriter
                writer = kind(out, self.dialect, reasoning)
                writer.tools_run = box is not None
                writer.hold = box is not None and not stream
                # a step's reply goes back whole (its text, its signed thinking): kept
                keep = bool(prompt.continue_ or self.checks_reply(params) or box)
                keep = keep or writer.keep_text
                spend = None
                if prompt.max_cost is not None:
                    from llmcli.prices import PriceBook
                    from llmcli.spend import Spend

                    book = PriceBook(client, refresh=common.refresh_prices)
                    spend = Spend(prompt.max_cost, book)
                send = self._sender(client, common, writer, stream, keep, blobs, spend)
                chain = fallback.chain(answering.fallback if answering else None, client.gateway)
                if chain:
                    step = self._sender
                    send = fallback.Falling(
                        chain, client, send, common, caching, self.endpoint, out, stack
                    ).sender(lambda c: step(c, common, writer, stream, keep, blobs, spend))
                if box is None:
                    reply = send(body)
                    added: tuple[list[JSON], list[JSON]] = ([], self.recorded(reply))
                else:
                    reply, added = self._loop(box, send, body, prompt, gathered, blobs, fmt)
        if (line := self.finished(reply)) is not None:
            out.note(f"llmcli: {line}")
        self.check(reply, params, body)
        if prompt.continue_ is not None:
            self._record(prompt, gathered, blobs, *added)

    def _sender(
        self,
        client: Client,
        common: Common,
        writer: outputs.Writer,
        stream: bool,
        keep: bool,
        blobs: list[Blob],
        spend: Spend | None,
    ) -> Callable[[JSON], JSON]:
        """One request of the turn to ``client``, its reply written as it arrives; under
        ``--max-cost`` (``spend``) each goes out only if its worst case fits what is left
        of the cap (priced at ``client``'s gateway)."""
        if spend is not None and spend.book.client is not client:
            from llmcli.prices import PriceBook

            spend.book = PriceBook(client, refresh=common.refresh_prices)

        def send(body: JSON) -> JSON:
            request = client.request("POST", self.endpoint, body, stream=stream, blobs=blobs)
            worst = 0.0
            if spend is not None and client.cached(request) is None:  # a kept answer is free
                size = len(request.body) if request.body is not None else 0
                worst = spend.worst(body, size)
                spend.reserve(worst)
            exchange = client.exchange(
                request, self.dialect, stream=stream, keep_text=keep, lines=writer.lines
            )
            try:
                reply = outputs.write(exchange, writer)
            except LlmcliError as e:
                if spend is not None:
                    spend.settle(worst, None)  # it may have been billed: at its worst
                self.explain(e)
                raise
            report_usage(common, client, reply, model=body.get("model"))
            if spend is not None:
                cost = spend.book.cost(reply.get("usage"), (body.get("model"), None))[0]
                hit = client.timing is not None and client.timing.cache == "hit"
                spend.settle(worst, 0.0 if hit else cost)
            return reply

        return send

    def _loop(
        self,
        box: Toolbox,
        send: Callable[[JSON], JSON],
        body: JSON,
        prompt: Prompt,
        gathered: Gathered,
        blobs: list[Blob],
        fmt: str,
    ) -> tuple[JSON, tuple[list[JSON], list[JSON]]]:
        """The tool loop over ``send``; a run that stops (75, 77, a later request that
        failed) still records what it added to a conversation file, and prints what a
        script needs on stdout."""
        from llmcli.protocol import tool_turns
        from llmcli.tools.loop import Loop, StepsReached, ToolsPending

        out = output()

        def results(done: list[tool_turns.Result]) -> None:
            if fmt == "jsonl":
                for item in tool_turns.result_items(self.endpoint, done):
                    out.jsonl(item)
                out.flush()

        loop = Loop(self.endpoint, box, send, results, self.recorded)
        try:
            reply = loop.run(body, self.waiting(gathered, body))
        except (LlmcliError, KeyboardInterrupt) as e:
            stopped = isinstance(e, StepsReached | ToolsPending)
            if isinstance(e, ToolsPending) and fmt == "text":  # the calls, for a script
                out.end_text()
                for call in e.calls:
                    out.jsonl(call.raw)
            elif stopped and fmt == "json":  # the last reply (its calls), or the calls
                last = getattr(e, "reply", None)
                out.json(last if last is not None else [c.raw for c in getattr(e, "calls", [])])
            out.flush()
            # what completed is kept (calls that ran are not run again): a stop at the
            # step limit, at unapproved calls, or a failure of a later request
            if prompt.continue_ is not None and (loop.turns or loop.before):
                self._record(prompt, gathered, blobs, loop.before, loop.turns)
            raise
        return reply, (loop.before, loop.turns)

    def _record(
        self,
        prompt: Prompt,
        gathered: Gathered,
        blobs: list[Blob],
        before: list[JSON],
        replies: list[JSON],
    ) -> None:
        assert prompt.continue_ is not None
        from llmcli.protocol import tool_turns

        conversation.record_turn(
            prompt.continue_,
            system=prompt.system if gathered.new_conversation else None,
            user=None,
            replies=replies,
            blobs=blobs,
            before=tool_turns.with_prompt(self.endpoint, before, self.user_message(gathered)),
        )
