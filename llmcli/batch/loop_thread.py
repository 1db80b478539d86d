"""The batch engine's threads: its event loop in a thread of its own (``on_loop``), and
the daemon threads it hands blocking work to — the input, which may be a slow stdin
(``Reader``), a row that runs tools (``in_thread``). An interrupted run waits
for none of them, as the thread engine waits for none of its workers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

READ_AHEAD = 64  # rows read from the input at most at a time (stdin may block)


def on_loop(main: Any) -> None:
    """``main`` on an event loop of this thread: uvloop's when it is installed (it spends
    a third of asyncio's CPU on each row), asyncio's otherwise."""
    import importlib

    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


class Reader:
    """The input, read in a daemon thread (stdin may block; an interrupted run must not
    wait for it): ``next`` gives at most ``count`` rows, fewer when the input is slow
    (what came within a few milliseconds), and the error reading stopped at."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self.rows = rows
        self.done = False

    async def next(self, count: int) -> tuple[list[Any], BaseException | None]:
        batch, failure, ended = await in_thread(self._take, count)
        self.done = ended or failure is not None
        return batch, failure

    def _take(self, count: int) -> tuple[list[Any], BaseException | None, bool]:
        batch: list[Any] = []
        began = time.monotonic()
        try:
            for row in self.rows:
                batch.append(row)
                if len(batch) >= count or time.monotonic() - began > 0.005:
                    return batch, None, False
        except Exception as e:  # a line over its cap, an unreadable input
            return batch, e, True
        return batch, None, True


async def in_thread(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a daemon thread of its own (a tool row, a read of the input): an
    interrupted run never waits for it, as the thread engine never does."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def work() -> None:
        try:
            result = fn(*args)
        except BaseException as e:
            loop.call_soon_threadsafe(_settle, future, None, e)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    threading.Thread(target=work, daemon=True).start()
    return await future


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
