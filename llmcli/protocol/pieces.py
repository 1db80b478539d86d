"""What arrives of a reply, whichever dialect sent it: one value both dialects make
(``llmcli.protocol.chat``, ``llmcli.protocol.messages``) and neither owns. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Piece"]


@dataclass(frozen=True, slots=True)
class Piece:
    """What arrived of a reply: ``kind`` "content" or "reasoning" with its ``text`` (of
    choice ``choice``), or, last of ``Client.stream``, "reply" with the reply in ``data``."""

    kind: str
    choice: int
    text: str
    data: Any = None
