"""man(7) roff, escaped: the small part of the language the man pages use.

Text is escaped so it prints as written: a backslash as ``\\e``, every hyphen as ``\\-``
(a minus sign, so options and example pipes copy and paste as typed; a word holding one
is kept from hyphenation with ``\\%``), other than ASCII
as ``\\[uXXXX]`` (groff reads its input as Latin-1), and a line that would start with
``.`` or ``'`` (a request to roff) behind ``\\&``.
"""

from __future__ import annotations

import re
import textwrap


def esc(text: str) -> str:
    """Inline text: backslashes and hyphens escaped, anything not ASCII as ``\\[uXXXX]``."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"[^\x00-\x7f]", lambda m: f"\\[u{ord(m[0]):04X}]", text)


def safe_line(line: str) -> str:
    """A line roff reads as text, never as a request."""
    return "\\&" + line if line.startswith((".", "'")) else line


def fill(line: str) -> str:
    """Roff text (already escaped) in lines of at most 78 bytes where words allow."""
    lines = textwrap.wrap(line, width=78, break_long_words=False, break_on_hyphens=False)
    return "\n".join(safe_line(part) for part in lines)


def text(paragraph: str) -> str:
    """Filled text; a word like an option, a file name or a URL is never hyphenated."""
    words = (
        ("\\%" if re.search(r"[-/_$=]|\.\w", w) else "") + esc(w) for w in paragraph.split(" ")
    )
    return fill(" ".join(words))


def bold(word: str) -> str:
    return f"\\fB{esc(word)}\\fR"


def italic(word: str) -> str:
    return f"\\fI{esc(word)}\\fR"


def quoted(arg: str) -> str:
    """A macro argument: in double quotes, which roff spells ``\\(dq`` inside them."""
    return '"' + esc(arg).replace('"', "\\(dq") + '"'


def metavars(usage: str) -> str:
    """A usage line with its placeholders (OPTIONS, PROMPT …) in italics."""
    return re.sub(r"[A-Z][A-Z_]+", lambda m: f"\\fI{m[0]}\\fR", esc(usage))


def section(title: str, *lines: str) -> list[str]:
    return [f".SH {quoted(title) if ' ' in title else title}", *lines]


def item(term: str, *body: str) -> list[str]:
    """A tagged paragraph: ``term`` (already roff) and its body text."""
    return [".TP", safe_line(term), *(text(b) for b in body)]


def paragraphs(texts: tuple[str, ...] | list[str]) -> list[str]:
    lines: list[str] = []
    for i, paragraph in enumerate(texts):
        if i:
            lines.append(".PP")
        lines.append(text(paragraph))
    return lines


def example(lines: tuple[str, ...] | list[str]) -> list[str]:
    """Shell lines set as they are typed, in a monospace block."""
    return [".RS 4", ".EX", *(safe_line(esc(line)) for line in lines), ".EE", ".RE"]
