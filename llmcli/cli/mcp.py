"""``llmcli mcp list-tools SERVER``: the tools an MCP server offers, one JSON line each."""

from typing import Annotated

import typer

from llmcli.cli.client import output
from llmcli.cli.tool_flags import MIB

app = typer.Typer(
    name="mcp",
    help="""What an MCP server offers: the tools --mcp would give a model (chat, stream,
    messages and responses take --mcp 'COMMAND ARGS' or --mcp URL). Needs the MCP SDK:
    pip install 'llmcli[mcp]'.

    \b
    Examples:
      llmcli mcp list-tools 'uvx mcp-server-time' | jq -r .name
      llmcli mcp list-tools http://127.0.0.1:8000/mcp | jq .inputSchema
    """,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.command("list-tools", short_help="The tools an MCP server offers: one JSON line each.")
def list_tools(
    server: Annotated[
        str,
        typer.Argument(
            metavar="SERVER",
            help="A stdio server's command line ('COMMAND ARGS', no shell) or a streamable "
            "HTTP URL.",
            show_default=False,
        ),
    ],
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="S", min=0.001, help="Time limit (s).")
    ] = 60.0,
) -> None:
    """Start (or reach) an MCP server and print each tool it offers as one JSON line:
    {name, description, inputSchema, ...} as the server sent it. The same servers --mcp
    offers to a model; needs the MCP SDK (pip install 'llmcli[mcp]').

    \b
    Examples:
      llmcli mcp list-tools 'uvx mcp-server-time' | jq -r .name
      llmcli mcp list-tools 'npx -y @modelcontextprotocol/server-everything' | jq -c .inputSchema
    """
    from llmcli.tools.mcp import Servers

    out = output()
    with Servers([server], timeout, MIB, ()) as servers:
        for _, tool in servers.listed():
            out.jsonl(tool.model_dump(by_alias=True, exclude_none=True, mode="json"))
    out.flush()
