"""The Typer app and the one error boundary that turns exceptions into exit codes."""

import contextlib
import os
import re
import sys

import click
import typer

from llmcli.cli import (  # noqa: F401  (they add batch's commands)
    batch,
    batch_fetch,
    chat,
    embed,
    gateways,
    mcp,
    messages,
    models,
    provider_batch,
    responses,
    serve,
    templates,
)
from llmcli.errors import EXIT_INTERRUPTED, EXIT_PIPE, LlmcliError
from llmcli.io.outputs import Output, Terminal, silence_stdout
from llmcli.version import __version__

app = typer.Typer(
    name="llmcli",
    add_completion=False,
    pretty_exceptions_enable=False,  # no rich traceback can print a secret
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# short_help: the one line `llmcli --help` and the man pages' NAME give each command
app.command("chat", short_help="Send a prompt, print the reply (Chat Completions).")(chat.chat)
app.command("stream", short_help="Send a prompt, print the reply as it arrives.")(chat.stream)
app.command("messages", short_help="Send a prompt to an Anthropic-compatible /messages API.")(
    messages.messages
)
app.command("responses", short_help="Send a prompt to a /responses API (OpenAI Responses).")(
    responses.responses
)
app.command("models", short_help="List a gateway's models: ids on a pipe, a table on a tty.")(
    models.models
)
app.command("embed", short_help="Embed texts: one JSON line of floats per input.")(embed.embed)
# in the order a user meets them: run here; or submit, follow up, fetch
_BATCH_ORDER = ("run", "submit", "status", "fetch", "cancel", "list")
batch.app.registered_commands.sort(key=lambda c: _BATCH_ORDER.index(c.name or ""))
app.add_typer(
    batch.app,
    name="batch",
    short_help="Many requests from JSONL: run here, or submit to a batch API.",
)
app.add_typer(templates.app, name="templates", short_help="Prompt templates for -t NAME.")
app.add_typer(mcp.app, name="mcp", short_help="What an MCP server offers as tools.")
app.command("gateways", short_help="List the built-in and configured gateways.")(gateways.gateways)
app.command(
    "serve",
    short_help="Run the offline gateway on 127.0.0.1, for tests and demos.",
    epilog=serve.EPILOG,
)(serve.serve)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"llmcli {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """A pipe-first client for OpenAI- and Anthropic-compatible LLM gateways.

    Prompts come from piped stdin, -f files and PROMPT words; replies go to stdout as
    text, JSON, JSONL or the raw SSE bytes, and everything meant for people (reasoning,
    usage, warnings, errors) to stderr, so llmcli fits between jq, grep, tee and xargs.
    Run 'llmcli COMMAND --help' for a command's options and examples.

    \b
    Examples:
      echo 'why is the sky blue?' | llmcli chat -g openai
      llmcli models -g ollama | xargs -I{} llmcli chat -g ollama -m {} 'hi in 5 words'
      llmcli stream -o json 'plan a trip' | tee reply.json | jq -r '.usage.total_tokens'
    """


def _wants_debug(argv: list[str]) -> bool:
    return "--debug" in argv or bool(os.environ.get("LLMCLI_DEBUG"))


def run(argv: list[str]) -> int:
    """Run one command; every failure becomes one line on stderr and an exit code."""
    command = typer.main.get_command(app)
    out = Output(Terminal.detect())
    try:
        # Not command.main(): click's main turns EPIPE into exit 1 and ^C into a message.
        with command.make_context("llmcli", list(argv), obj=out) as ctx:
            command.invoke(ctx)
    except LlmcliError as e:
        if _wants_debug(argv):
            out.traceback()
        out.error(str(e))
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.NoArgsIsHelpError as e:
        out.help(e.format_message())
        return 2
    except click.ClickException as e:
        out.error(_usage_message(e, command, argv))
        return 2
    except (KeyboardInterrupt, click.exceptions.Abort):
        with contextlib.suppress(OSError, ValueError):
            out.flush()
            out.new_line()
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        silence_stdout()
        return EXIT_PIPE
    except Exception as e:
        if _wants_debug(argv):
            out.traceback()
        else:
            out.error(f"internal error: {type(e).__name__}: {e} (run with --debug for a traceback)")
        return 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return EXIT_PIPE
    return 0


def _usage_message(e: click.ClickException, root: click.Command, argv: list[str]) -> str:
    if isinstance(e, click.NoSuchOption):
        # click offers every option a little alike (--modle: --file, --model, --tool);
        # one close match is a suggestion, three are noise
        import difflib

        close = difflib.get_close_matches(e.option_name, e.possibilities or [], n=1, cutoff=0.8)
        message = f"No such option '{e.option_name}'"
        if close:
            message += f". Did you mean '{close[0]}'?"
    else:
        # typer adds its own "Did you mean …?" to click's, which already has one
        message = re.sub(r"( Did you mean [^?]*\?)\1+", r"\1", e.format_message()).rstrip(".")
    ctx = getattr(e, "ctx", None)
    path = ctx.command_path if ctx is not None else _command_path(root, argv)
    return f"{message} (see '{path} --help')"


def _command_path(root: click.Command, argv: list[str]) -> str:
    """``llmcli batch run``: the command that argv names, for an error click raised
    before it made the command's context (an option missing its value)."""
    words, command = ["llmcli"], root
    for word in argv:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        words.append(word)
        command = command.commands[word]
    return " ".join(words)
