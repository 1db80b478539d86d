"""Several calls in flight, results in input order, memory bounded by a window.

``ordered_map`` runs ``fn`` on daemon threads (an interrupted run exits at once instead of
waiting for calls in flight, as ``concurrent.futures`` workers would make it) and yields
``(item, result)`` strictly in input order, holding at most ``window`` items at a time.
If reading the items fails, what is in flight is still yielded before the error is
raised; if a call fails, everything before it is yielded and nothing after it.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int, window: int | None = None
) -> Iterator[tuple[T, R]]:
    window = max(window or workers * 2, 1)
    tasks: queue.SimpleQueue[tuple[Future[R], T] | None] = queue.SimpleQueue()

    def work() -> None:
        while (job := tasks.get()) is not None:
            future, item = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(item))
                except BaseException as e:  # handed to the reader of the results
                    future.set_exception(e)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(workers, 1))]
    for thread in threads:
        thread.start()
    pending: deque[tuple[Future[R], T]] = deque()
    source = iter(items)
    try:
        while True:
            try:
                item = next(source)
            except StopIteration:
                break
            except Exception:
                while pending:
                    future, done = pending.popleft()
                    yield done, future.result()
                raise
            submitted: Future[R] = Future()
            tasks.put((submitted, item))
            pending.append((submitted, item))
            while len(pending) >= window:
                future, done = pending.popleft()
                yield done, future.result()
        while pending:
            future, done = pending.popleft()
            yield done, future.result()
    finally:
        for future, _ in pending:
            future.cancel()
        for _ in threads:
            tasks.put(None)
