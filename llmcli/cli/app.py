"""The Typer app and the one error boundary that turns exceptions into exit codes."""

import contextlib
import os
import re
import sys

import click
import typer

from llmcli.errors import EXIT_INTERRUPTED, EXIT_PIPE, LlmcliError
from llmcli.io.outputs import Output, Terminal, silence_stdout
from llmcli.version import __version__

#: llmcli's commands, in the order ``--help`` lists them: name, the modules that define
#: it (a group's first module holds its Typer app, the others add commands to it), the
#: function (None: a group), and the one line ``llmcli --help`` and the man pages' NAME
#: give it. A run imports and builds only the command it names (``build``): a tool run
#: thousands of times should not pay for the other commands' modules and options.
COMMANDS: tuple[tuple[str, tuple[str, ...], str | None, str], ...] = (
    ("chat", ("chat",), "chat", "Send a prompt, print the reply (Chat Completions)."),
    ("stream", ("chat",), "stream", "Send a prompt, print the reply as it arrives."),
    (
        "messages",
        ("messages",),
        "messages",
        "Send a prompt to an Anthropic-compatible /messages API.",
    ),
    (
        "responses",
        ("responses",),
        "responses",
        "Send a prompt to a /responses API (OpenAI Responses).",
    ),
    ("models", ("models",), "models", "List a gateway's models: ids on a pipe, a table on a tty."),
    ("embed", ("embed",), "embed", "Embed texts: one JSON line of floats per input."),
    (
        "batch",
        ("batch", "batch_fetch", "provider_batch"),
        None,
        "Many requests from JSONL: run here, or submit to a batch API.",
    ),
    ("templates", ("templates",), None, "Prompt templates for -t NAME."),
    ("mcp", ("mcp",), None, "What an MCP server offers as tools."),
    ("gateways", ("gateways",), "gateways", "List the built-in and configured gateways."),
    ("serve", ("serve",), "serve", "Run the offline gateway on 127.0.0.1, for tests and demos."),
)
# in the order a user meets them: run here; or submit, follow up, fetch
_BATCH_ORDER = ("run", "submit", "status", "fetch", "cancel", "list")


def build(only: str | None = None) -> typer.Typer:
    """The Typer app: every command, or only the one named ``only``."""
    import importlib

    app = typer.Typer(
        name="llmcli",
        add_completion=False,
        pretty_exceptions_enable=False,  # no rich traceback can print a secret
        rich_markup_mode=None,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name, modules, function, short_help in COMMANDS:
        if only is not None and name != only:
            continue
        loaded = [importlib.import_module(f"llmcli.cli.{m}") for m in modules]
        if function is not None:
            epilog = getattr(loaded[0], "EPILOG", None) if name == "serve" else None
            app.command(name, short_help=short_help, epilog=epilog)(getattr(loaded[0], function))
            continue
        group: typer.Typer = loaded[0].app
        if name == "batch":
            group.registered_commands.sort(key=lambda c: _BATCH_ORDER.index(c.name or ""))
        app.add_typer(group, name=name, short_help=short_help)
    return app


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"llmcli {__version__}\n")
        raise typer.Exit()


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


def _named(argv: list[str]) -> str | None:
    """The command argv names, when it is one of llmcli's (the root takes no option
    with a value, so it is the first word that is not an option)."""
    name = next((word for word in argv if not word.startswith("-")), None)
    return name if any(name == c[0] for c in COMMANDS) else None


def _wants_debug(argv: list[str]) -> bool:
    return "--debug" in argv or bool(os.environ.get("LLMCLI_DEBUG"))


def run(argv: list[str]) -> int:
    """Run one command; every failure becomes one line on stderr and an exit code."""
    command = typer.main.get_command(build(_named(argv)))
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
