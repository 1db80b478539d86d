"""A small MCP server for the tests (stdio; or streamable HTTP: ``mcp_server.py http
PORT``), written with the official SDK: ``lookup`` quotes its word, ``add`` adds, ``fail``
always fails, ``env`` lists the names of its environment."""

import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("llmcli-tests", log_level="WARNING")


@server.tool()
def lookup(word: str) -> str:
    """Look a word up."""
    return f"{word}: a word"


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ToolError(f"cannot: {reason}")


@server.tool()
def env() -> str:
    """The names and values of this server's environment, one per line."""
    return "\n".join(f"{k}={v}" for k, v in sorted(os.environ.items()))


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
