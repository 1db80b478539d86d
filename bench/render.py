"""Markdown at a terminal: is rendering a streamed reply linear in its length?

Three ways to show a reply of N lines that arrives in ~40-character chunks:

- ``llmcli``: ``llmcli.io.markdown.MarkdownStream``, each finished part rendered once
  (the unfinished block shown raw meanwhile, then replaced), as at a terminal.
- ``redraw``: what a ``rich.live.Live`` around ``Markdown(text_so_far)`` does (the
  usual way to stream Markdown with rich): the whole text so far rendered per chunk.
  Quadratic; measured at small N only, and its time at 5,000 lines extrapolated.
- ``once``: ``rich.markdown.Markdown`` of the whole reply, rendered once at its end: the
  floor (and nothing shows while the reply streams).

Then the whole process: ``llmcli stream -g mock -m echo`` of the 5,000-line reply with
stdout on a pseudo-terminal, rendered and with ``--no-render``.

    .venv/bin/python bench/render.py          # ~1 minute
"""

from __future__ import annotations

import gc
import io
import os
import pty
import select
import statistics
import subprocess
import sys
import time

from rich.console import Console
from rich.markdown import Markdown

from llmcli.io.markdown import MarkdownStream

UNIT = """## Section {n}

A paragraph about item {n}, with **bold** and `code` words, long enough to wrap once
at eighty columns, as a model's answer usually does.

- first point of {n}
- second point, with *emphasis*
- third point

| name | value | note |
|------|------:|------|
| alpha | {n} | one |
| beta | 22 | two |

```python
def item_{n}(x):
    # a comment
    return x * {n}
```

"""
UNIT_LINES = UNIT.count("\n")
WIDTH = 100
CHUNK = 40


def reply(lines: int) -> str:
    units = max(1, lines // UNIT_LINES)
    return "".join(UNIT.format(n=n) for n in range(units))


def chunks(text: str) -> list[str]:
    return [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]


def cpu(work: object) -> float:
    """CPU time of ``work()``, the collector off (its pauses grow with the heap, not
    with the work)."""
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        work()  # type: ignore[operator]
        return time.process_time() - started
    finally:
        gc.enable()


def streamed(text: str) -> None:
    stream = MarkdownStream(WIDTH, color=True, height=50)  # as at a terminal: previews
    sink = io.StringIO()
    for chunk in chunks(text):
        sink.write(stream.feed(chunk))
    sink.write(stream.close())


def redrawn(text: str) -> None:
    console = Console(file=io.StringIO(), width=WIDTH, force_terminal=True)
    so_far = ""
    for chunk in chunks(text):
        so_far += chunk
        console.print(Markdown(so_far))


def once(text: str) -> None:
    Console(file=io.StringIO(), width=WIDTH, force_terminal=True).print(Markdown(text))


def best(work: object, runs: int = 3) -> float:
    return min(cpu(work) for _ in range(runs))


def on_a_terminal(text: str, *flags: str) -> float:
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": str(WIDTH), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmcli", "stream", "-g", "mock", "-m", "echo", *flags, text],
        stdout=terminal,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(terminal)
    while True:
        ready, _, _ = select.select([controller], [], [], 1)
        if ready:
            try:
                if not os.read(controller, 1 << 16):
                    break
            except OSError:
                break
        elif proc.poll() is not None:
            break
    proc.wait()
    os.close(controller)
    return time.perf_counter() - started


def main() -> None:
    sizes = [625, 1250, 2500, 5000]
    print(
        f"reply: {UNIT_LINES}-line units (heading, paragraph, list, table, code), {WIDTH} columns"
    )
    print(f"\n{'lines':>6} {'llmcli s':>9} {'us/line':>8} {'once s':>8} {'redraw s':>9}")
    measured = {}
    for lines in sizes:
        text = reply(lines)
        ours = best(lambda text=text: streamed(text))
        floor = best(lambda text=text: once(text))
        redraw = best(lambda text=text: redrawn(text), 1) if lines <= 625 else None
        measured[lines] = ours
        shown = f"{redraw:9.2f}" if redraw is not None else f"{'-':>9}"
        print(f"{lines:6d} {ours:9.3f} {ours / lines * 1e6:8.0f} {floor:8.3f} {shown}")
    small = reply(150)
    r1 = best(lambda: redrawn(small), 1)
    r2 = best(lambda: redrawn(reply(300)), 1)
    growth = r2 / r1
    print(f"\nllmcli 5000 / 625 lines: {measured[5000] / measured[625]:.1f}x (8x is linear)")
    print(f"redraw 300 / 150 lines: {growth:.1f}x (2x is linear, 4x quadratic)")
    factor = (5000 / 300) ** 2
    print(f"redraw at 5000 lines, extrapolated (quadratic from 300): ~{r2 * factor:.0f} s")
    text = reply(5000)
    rendered = statistics.median(on_a_terminal(text) for _ in range(3))
    raw = statistics.median(on_a_terminal(text, "--no-render") for _ in range(3))
    print(
        f"\nllmcli stream of {text.count(chr(10))} lines at a pseudo-terminal: "
        f"rendered {rendered:.2f} s, --no-render {raw:.2f} s (wall, median of 3)"
    )


if __name__ == "__main__":
    main()
