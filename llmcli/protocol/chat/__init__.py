"""Chat Completions (``POST /chat/completions``), the dialect most gateways speak:
request shapes and whole replies (``shapes``), stream assembly (``stream``). No I/O."""

from __future__ import annotations

from typing import Any

from llmcli.protocol.chat import shapes
from llmcli.protocol.chat.stream import ChatStream
from llmcli.protocol.dialect import Dialect
from llmcli.protocol.pieces import Piece


def _add(assembly: ChatStream, name: str, chunk: Any) -> list[Piece]:
    if name == "error" and isinstance(chunk, dict) and not chunk.get("error"):
        chunk = {"error": chunk}
    return assembly.add(chunk)


CHAT = Dialect(
    name="chat",
    assembler=lambda keep, where, secrets: ChatStream(keep_text=keep, where=where),
    add=_add,
    check=shapes.check_completion,
    pieces=shapes.iter_pieces,
    tools=shapes.tool_calls,
    event_line=lambda name, data: data,
    terminator="no [DONE] and no finish_reason",
)
