"""Responses (``POST /responses``: OpenAI's newest API, the Open Responses
specification): request shapes and whole responses (``shapes``), stream assembly
(``stream``). No I/O."""

from __future__ import annotations

from typing import Any

from llmcli.protocol.dialect import Dialect
from llmcli.protocol.responses import shapes
from llmcli.protocol.responses.stream import ResponseStream


def event_line(name: str, data: Any) -> Any:
    """``-o jsonl``: ``{event, data}`` as ``messages`` prints its events; the event's name
    is its ``type`` when the server sent no ``event:`` line."""
    if name == "message" and isinstance(data, dict) and isinstance(data.get("type"), str):
        name = data["type"]
    return {"event": name, "data": data}


RESPONSES = Dialect(
    name="responses",
    assembler=lambda keep, where, secrets: ResponseStream(keep, where, secrets),
    add=lambda assembly, name, data: assembly.add(name, data),
    check=shapes.check_response,
    pieces=shapes.iter_pieces,
    tools=shapes.tool_calls,
    event_line=event_line,
    terminator="no response.completed or response.incomplete",
    done_ends=False,
)
