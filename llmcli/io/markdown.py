"""Markdown rendered at a terminal as it streams, each part once: time linear in the reply.

Redrawing a whole reply per chunk (a ``rich.live.Live`` around ``Markdown(all_so_far)``)
costs the square of its length, and scrolls badly. Here the text is cut into blocks as
it arrives (``Blocks``, pure): a block ends at a blank line outside a code fence, a
heading is a block of its own, a new top-level list item ends the item before it, and
each line of a fenced code block is a part of its own. Each finished part is rendered
once with rich (``Renderer``) and written. The unfinished block is shown raw as it
arrives and, once whole, erased and drawn rendered (``Preview``: the cursor up over the
rows it took, everything below cleared): each block is written twice at most, never
redrawn per chunk. What a part cannot know of the parts after it (a reference-style link
defined later, a loose list's spacing) is the price of never redrawing.

Every control character a model sends (ESC and CSI among them) is shown as ``\\x1b``,
never passed to the terminal; ``\\r\\n`` is a line end.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")
_BREAK = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_ITEM = re.compile(r"^([-*+]|\d{1,9}[.)])(\s|$)")
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (9, 10)}


@dataclass(frozen=True, slots=True)
class Part:
    """A finished part: ``block`` (Markdown text), ``code`` (one line of a fenced
    block; ``text`` None at the fence's start and end), or ``gap`` (a blank line)."""

    kind: str
    text: str | None = None
    lang: str = ""


class Blocks:
    """Text in, finished parts out (``feed``, then ``close``): no I/O, no rich."""

    def __init__(self) -> None:
        self._pieces: list[str] = []  # the line not yet ended, as it came (joined once)
        self._block: list[str] = []
        self._fence: str | None = None
        self._lang = ""
        self._gap = False  # a blank line ends what came before it

    def feed(self, text: str) -> Iterator[Part]:
        if "\n" not in text:  # a long line in many chunks: kept as pieces, not copied
            self._pieces.append(text)
            return
        *lines, rest = text.split("\n")
        lines[0] = "".join((*self._pieces, lines[0]))
        self._pieces = [rest] if rest else []
        for line in lines:
            yield from self._take(line.removesuffix("\r").translate(_CONTROLS))

    def pending(self) -> str:
        """The text of what is not finished yet: the block so far, and the line not
        yet ended (inside a fence: that line only)."""
        line = "".join(self._pieces).translate(_CONTROLS)
        if self._fence is not None or not self._block:
            return line
        return "\n".join(self._block) + "\n" + line

    def close(self) -> Iterator[Part]:
        """The rest: the last line, the unfinished block, an unclosed fence closed."""
        if self._pieces:
            line, self._pieces = "".join(self._pieces), []
            yield from self._take(line.translate(_CONTROLS))
        yield from self._flush()
        if self._fence is not None:
            self._fence = None
            yield Part("code", None, self._lang)

    def _take(self, line: str) -> Iterator[Part]:
        if self._fence is not None:
            stripped = line.strip()
            if stripped.startswith(self._fence) and stripped == stripped[0] * len(stripped):
                self._fence = None
                self._gap = True
                yield Part("code", None, self._lang)
            else:
                yield Part("code", line, self._lang)
            return
        fence = _FENCE.match(line)
        if fence is not None and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            yield from self._flush()
            self._fence, self._lang = fence.group(1), fence.group(2)
            yield Part("code", None, self._lang)
            return
        if not line.strip():
            yield from self._flush()
            if self._gap:
                self._gap = False
                yield Part("gap")
            return
        if _HEADING.match(line) or (not self._block and _BREAK.match(line)):
            yield from self._flush()
            self._gap = True
            yield Part("block", line)
            return
        if self._block and _ITEM.match(line) and _ITEM.match(self._block[0]):
            yield from self._flush()  # the list item before is whole
        self._block.append(line)

    def _flush(self) -> Iterator[Part]:
        if self._block:
            text = "\n".join(self._block)
            self._block = []
            self._gap = True
            yield Part("block", text)


class Renderer:
    """Parts to the text a terminal shows: rich's Markdown for a block, a line of
    syntax-coloured code (on the code theme's background) for a code line. ``color``
    False: the layout only, without any escape code (``NO_COLOR``, ``TERM=dumb``)."""

    def __init__(self, width: int, color: bool, theme: str = "monokai") -> None:
        from rich.console import Console

        self._buffer = io.StringIO()
        self._console: Console = Console(
            file=self._buffer,
            width=max(width, 20),
            force_terminal=color,
            color_system="auto" if color else None,
            no_color=not color,
            highlight=False,
            emoji=False,
            markup=False,
            legacy_windows=False,
            soft_wrap=False,
        )
        self._theme = theme
        self._lexers: dict[str, Any] = {}

    def render(self, part: Part) -> str:
        if part.kind == "gap":
            return "\n"
        if part.kind == "code":
            return self._code(part.text, part.lang)
        from rich.markdown import Markdown

        self._console.print(Markdown(part.text or "", code_theme=self._theme, hyperlinks=False))
        return self._taken()

    def _code(self, line: str | None, lang: str) -> str:
        from rich.syntax import Syntax

        lexer = self._lexers.get(lang)
        if lexer is None:
            lexer = self._lexers[lang] = _lexer(lang)
        syntax = Syntax(
            line if line is not None else "",
            lexer,
            theme=self._theme,
            word_wrap=True,
            padding=(0, 1),
        )
        self._console.print(syntax)
        return self._taken()

    def _taken(self) -> str:
        # rich opens a list or a table with an empty line; the source's blank lines
        # (``gap``) place the parts instead
        text = self._buffer.getvalue().lstrip("\n")
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def _lexer(lang: str) -> Any:
    """The lexer a fence names (plain text when none is known), found once per block
    kind, not once per line."""
    from rich.syntax import Syntax

    lexer = Syntax("", lang or "text").lexer
    return lexer if lexer is not None else "text"


class Preview:
    """Where raw text written from the start of a row leaves the cursor, kept as text is
    added (no rescan: linear), so that it can be erased (``erase``). It follows what a
    terminal does: a row fills to its last column and the next character wraps (a full
    row leaves the cursor on it), a wide character that would start in the last column
    wraps whole, a tab moves to the next multiple of 8 and never past the last column."""

    def __init__(self, width: int) -> None:
        self.width = max(width, 2)
        self.down = 0  # rows below the first
        self.col = 0  # cells written on the cursor's row (``width``: full)
        self.empty = True

    def after(self, text: str) -> tuple[int, int]:
        """Where ``text`` would leave the cursor: (down, col)."""
        down, col, width = self.down, self.col, self.width
        for line_number, line in enumerate(text.split("\n")):
            if line_number:
                down, col = down + 1, 0
            if line.isascii() and "\t" not in line:  # the usual case, by arithmetic
                if line:
                    reach = col + len(line)
                    if reach <= width:
                        col = reach
                    else:
                        down, col = down + (reach - 1) // width, (reach - 1) % width + 1
                continue
            for char in line:
                if char == "\t":
                    col = col if col >= width else min((col // 8 + 1) * 8, width - 1)
                    continue
                cells = _cell(char)
                if col + cells > width:
                    down, col = down + 1, 0
                col += cells
        return down, col

    def add(self, text: str) -> None:
        if text:
            self.down, self.col = self.after(text)
            self.empty = False

    def erase(self) -> str:
        """Back to where the preview began, everything below it cleared."""
        if self.empty:
            return ""
        up = self.down
        self.down, self.col, self.empty = 0, 0, True
        return "\r" + (f"\x1b[{up}A" if up else "") + "\x1b[J"


class MarkdownStream:
    """Text in as it streams, rendered text out: each finished part rendered once.

    ``height`` (a terminal's rows; colour on): the unfinished block is shown as it
    arrives, raw, and erased and drawn rendered once whole (cursor up, clear below) — a
    paragraph is not invisible until its end. The raw preview stops short of the screen's
    height (what scrolled off could not be erased): the rest of a taller block shows when
    it is whole. Without ``height`` (or with ``NO_COLOR``: no escape code at all), a part
    shows when it is whole."""

    def __init__(self, width: int, color: bool, height: int | None = None) -> None:
        self._blocks = Blocks()
        self._renderer = Renderer(width, color)
        self._height = height if color else None
        self._preview = Preview(width)
        self._paused = False  # the preview reached the screen's height

    def feed(self, text: str) -> str:
        parts = list(self._blocks.feed(text))
        if self._height is None:
            return self._render(parts)
        if not parts:  # still the same block: its new text, raw
            return self._show(_raw(text))
        return self._replace(parts) + self._show(_raw(self._blocks.pending()))

    def close(self) -> str:
        parts = list(self._blocks.close())
        if self._height is None:
            return self._render(parts)
        return self._replace(parts)

    def _render(self, parts: list[Part]) -> str:
        return "".join(self._renderer.render(p) for p in parts)

    def _replace(self, parts: list[Part]) -> str:
        """The preview erased, the parts drawn."""
        self._paused = False
        return self._preview.erase() + self._render(parts)

    def _show(self, raw: str) -> str:
        assert self._height is not None
        if self._paused or not raw:
            return ""
        down, col = self._preview.after(raw)
        if down >= self._height - 1:
            self._paused = True  # it would scroll the preview's start off the screen
            return ""
        self._preview.down, self._preview.col, self._preview.empty = down, col, False
        return raw


def _cell(char: str) -> int:
    from rich.cells import get_character_cell_size

    return get_character_cell_size(char)


def _raw(text: str) -> str:
    """Text as a preview shows it: controls escaped as in a rendered part (a carriage
    return left out: the line it ends is drawn when whole)."""
    return text.replace("\r", "").translate(_CONTROLS)
