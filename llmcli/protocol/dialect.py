"""What differs between the dialects an exchange speaks. No I/O.

Each dialect package (``llmcli.protocol.chat``, ``llmcli.protocol.messages``,
``llmcli.protocol.responses``) makes one
``Dialect``: how its streams are assembled, how a whole reply is checked, which pieces of
text and which tool calls a reply holds, what ``-o jsonl`` prints for one event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from llmcli.protocol.pieces import Piece

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Dialect:
    """One API's wire format, as the exchange needs it."""

    name: str
    #: a stream's assembler: (keep the text, where the stream comes from, the secrets the
    #: session scrubs from the bytes) -> assembly
    assembler: Callable[[bool, str, tuple[str, ...]], Any]
    add: Callable[[Any, str, Any], list[Piece]]  # (assembly, event name, data)
    check: Callable[[Any, str], JSON]  # a whole reply, or the error it carries
    pieces: Callable[[Mapping[str, Any]], Iterator[Piece]]  # of a whole reply
    tools: Callable[[Mapping[str, Any]], list[JSON]]  # tool calls of a reply, as JSON lines
    event_line: Callable[[str, Any], Any]  # what -o jsonl prints for one stream event
    terminator: str  # what a finished stream ends with, for the error of one that did not
    #: whether ``data: [DONE]`` ends a stream (Chat Completions); where it only trails the
    #: terminal event (Responses), a stream without that event is cut however it ended
    done_ends: bool = True
