"""The conversation a request carries, gathered the same way for ``chat``, ``stream`` and
``messages`` (DESIGN.md, "Input"): ``--body``, then the history (``--messages`` or
``--continue``), then the prompt from piped stdin, ``-f`` files and words, then ``-a``
attachments. Everything is read and checked before anything is sent: each input within
its size limit, and every message of the history in a shape the command's API takes
(``llmcli.protocol.message_shapes``).
"""

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from llmcli.cli.options import TemplateVar
from llmcli.errors import DataError, UsageError
from llmcli.io import attachments, conversation, inputs
from llmcli.protocol.message_shapes import Api


@dataclasses.dataclass(frozen=True, slots=True)
class Prompt:
    """Where the conversation comes from."""

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
    attach: Annotated[
        list[str] | None,
        typer.Option(
            "-a",
            "--attach",
            metavar="PATH|URL",
            help="Attach an image (PNG, JPEG, GIF, WebP) or a PDF: a file, a URL, or '-'; "
            "repeatable.",
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
            help="Conversation so far: JSON array or JSONL of messages (tool results too).",
        ),
    ] = None
    continue_: Annotated[
        str | None,
        typer.Option(
            "-c",
            "--continue",
            metavar="FILE",
            help="Continue the conversation in this JSONL file, and append the prompt and "
            "reply to it when (and only when) the reply completes.",
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
    template: Annotated[
        str | None,
        typer.Option(
            "-t",
            "--template",
            metavar="NAME",
            help="A prompt template: [templates.NAME] in the config file, or "
            "templates/NAME.toml beside it; flags win over it.",
        ),
    ] = None
    var: TemplateVar = None
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            metavar="USD",
            min=0,
            help="Send nothing that could cost more: its input (bytes/4) and its max tokens "
            "at the model's price; over it, exit 77.",
        ),
    ] = None


@dataclasses.dataclass(slots=True)
class Gathered:
    body: dict[str, Any]  # from --body, without its messages
    history: list[dict[str, Any]]
    text: str | None
    attachments: list[attachments.Attachment]
    new_conversation: bool = False


NO_PROMPT = "no prompt: give PROMPT words, -f FILE, --messages FILE, or pipe stdin"


def gather(
    prompt: Prompt,
    stdin: inputs.Stdin,
    also_named: Sequence[str | None] = (),
    api: Api = "any",
) -> Gathered:
    """``also_named``: other flags' files, so that a ``-`` among them keeps stdin from
    being read as the prompt too. ``api``: the API the history goes to, ``chat`` or
    ``messages``; ``any`` takes what either takes."""
    if prompt.messages is not None and prompt.continue_ is not None:
        raise UsageError("--messages and --continue both give the history: pick one")
    named = [
        *(prompt.file or []),
        *(prompt.attach or []),
        prompt.messages,
        prompt.body,
        *also_named,
    ]
    body: dict[str, Any] = {}
    if prompt.body is not None:
        loaded = inputs.load_json(prompt.body, stdin)
        if not isinstance(loaded, dict):
            raise DataError(f"--body {prompt.body}: expected a JSON object")
        body = loaded
    history = inputs.check_messages(body.pop("messages", None) or [], f"--body {prompt.body}", api)
    new = False
    if prompt.messages is not None:
        history = inputs.load_messages(prompt.messages, stdin, api)
    elif prompt.continue_ is not None:
        saved = conversation.load(prompt.continue_)  # checked for either API, with lines
        new = not saved
        history = inputs.check_messages(conversation.for_sending(saved), prompt.continue_, api)
    attached = [attachments.load(source, stdin) for source in prompt.attach or []]
    text = inputs.compose_prompt(
        prompt.prompt or [], prompt.file or [], stdin, implicit_stdin=inputs.STDIN not in named
    )
    return Gathered(body, history, text, attached, new)
