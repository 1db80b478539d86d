"""``llmcli templates`` (every template: name, where it is defined, description) and
``llmcli templates show NAME`` (one, as JSON)."""

import os
from typing import Annotated

import typer

from llmcli.cli.client import output

app = typer.Typer(
    name="templates",
    help="""Prompt templates for -t NAME: [templates.NAME] tables in the config file and
    NAME.toml files in $XDG_CONFIG_HOME/llmcli/templates/ (the config file's win). Each
    holds any of system, prompt ({input} where the input goes, {name} variables given
    with -V name=value), gateway, model, params, schema, tools and description; flags
    win over a template, a template over the gateway. With no command: one line per
    template: its name, where it is defined and its description, tab-separated.

    \b
    Examples:
      git diff | llmcli chat -t review -V lang=Python
      llmcli templates | cut -f1
      llmcli templates show review | jq -r .prompt
    """,
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def templates(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from llmcli.config import templates as found
    from llmcli.config.file import load

    writer = output()
    for name, template in found.every(load(os.environ).templates, os.environ).items():
        about = f"\t{template.description}" if template.description else ""
        writer.text(f"{name}\t{template.source}{about}\n")
    writer.flush()


@app.command("show", short_help="One template, as JSON.")
def show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The template's name.")],
) -> None:
    """Print the template NAME as one JSON object: its name, where it is defined (the
    config file and line, or its file), and each key it sets (system, prompt, gateway,
    model, params, schema, tools, description), as -t NAME would apply them.

    \b
    Examples:
      llmcli templates show review | jq -r .prompt
      llmcli templates show review | jq .params
    """
    from llmcli.config import templates as found
    from llmcli.config.file import load

    template = found.find(name, load(os.environ).templates, os.environ)
    writer = output()
    writer.json(template.shown())
    writer.flush()
