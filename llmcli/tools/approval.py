"""Whether a tool call may run: approved by name (``--approve NAME``, ``--approve all``),
or asked on the controlling terminal (``/dev/tty``, never stdin, which may be the pipe
the prompt came from), once per call. With neither, nothing runs: the caller stops with
the calls pending (exit 77).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from llmcli.protocol.tool_turns import Call
from llmcli.redaction import redact

SHOWN = 2000  # characters of a call's arguments shown on the terminal
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}

Ask = Callable[[Call], bool]


@dataclass(frozen=True, slots=True)
class Approval:
    """``names``: approved tools; ``everything``: ``--approve all``; ``ask``: a person
    to ask (a terminal), or None."""

    names: frozenset[str] = frozenset()
    everything: bool = False
    ask: Ask | None = field(default=None, compare=False)

    @classmethod
    def of(cls, approved: Iterable[str], ask: Ask | None) -> Approval:
        names = frozenset(approved)
        return cls(names - {"all"}, "all" in names, ask)

    def given(self, name: str) -> bool:
        """Approved without asking."""
        return self.everything or name in self.names


def shown(call: Call, secrets: tuple[str, ...]) -> str:
    """A call as a person sees it: its name and arguments, bounded, redacted, and with
    every control character escaped (a model's words cannot drive the terminal)."""
    arguments = call.arguments
    if len(arguments) > SHOWN:
        arguments = arguments[:SHOWN] + f"… ({len(call.arguments)} characters)"
    return f"{call.name} {redact(arguments, secrets)}".translate(_CONTROLS)


def terminal(secrets: tuple[str, ...] = ()) -> Ask | None:
    """A question asked on the controlling terminal, or None when the process has none."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None

    def ask(call: Call) -> bool:
        question = f"llmcli: the model calls the tool {shown(call, secrets)}\nRun it? [y/N] "
        os.write(fd, question.encode("utf-8"))
        answer = b""
        while not answer.endswith(b"\n"):
            got = os.read(fd, 1)
            if not got:  # end of input: no
                os.write(fd, b"\n")
                break
            answer += got
        return answer.decode("utf-8", "replace").strip().lower() in ("y", "yes")

    return ask
