"""Messages (``POST /messages``, Anthropic's API): request shapes and whole replies
(``shapes``), stream assembly (``stream``). No I/O."""

from __future__ import annotations

from llmcli.protocol.dialect import Dialect
from llmcli.protocol.messages import shapes
from llmcli.protocol.messages.stream import MessageStream

MESSAGES = Dialect(
    name="messages",
    assembler=lambda keep, where, secrets: MessageStream(keep_text=keep, where=where),
    add=lambda assembly, name, data: assembly.add(name, data),
    check=shapes.check_message,
    pieces=shapes.iter_pieces,
    tools=shapes.tool_uses,
    event_line=lambda name, data: {"event": name, "data": data},
    terminator="no message_stop",
)
