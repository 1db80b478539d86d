"""Whether a tool call may run: approved by name (``--approve NAME``, ``--approve all``),
or asked on the controlling terminal (``/dev/tty``, never stdin, which may be the pipe
the prompt came from), once per call. With neither, nothing runs: the caller stops with
the calls pending (exit 77).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from llmcli.protocol.tool_turns import Call
from llmcli.redaction import redact

SHOWN = 2000  # characters of a call's arguments shown on the terminal
#: what could make a call read as another on a terminal: control characters, and the
#: invisible and direction-changing ones (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069)
_HIDING = (*range(0x20), *range(0x7F, 0xA0), *range(0x200B, 0x2010), *range(0x202A, 0x202F))
_CONTROLS = {
    c: f"\\u{c:04x}" if c > 0xFF else f"\\x{c:02x}" for c in (*_HIDING, *range(0x2066, 0x206A))
}

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
        with contextlib.suppress(OSError, ImportError):  # what was typed before is no answer
            import termios

            termios.tcflush(fd, termios.TCIFLUSH)
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
