"""Several calls in flight, results in input order, memory bounded by a window.

``ordered_map`` runs ``fn`` on daemon threads (an interrupted run exits at once instead of
waiting for calls in flight, as ``concurrent.futures`` workers would make it) and yields
``(item, result)`` strictly in input order, holding at most ``window`` items at a time.
If reading the items fails, what is in flight is still yielded before the error is
raised; if a call fails, everything before it is yielded and nothing after it, and no
call starts after it: the calls already running are waited for, so the caller may close
what they use (an HTTP client) once the error reaches it.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int, window: int | None = None
) -> Iterator[tuple[T, R]]:
    window = max(window or workers * 2, 1)
    tasks: queue.SimpleQueue[tuple[Future[R], T] | None] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while (job := tasks.get()) is not None:
            future, item = job
            if stop.is_set():
                future.cancel()
            elif future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(item))
                except BaseException as e:  # handed to the reader of the results
                    future.set_exception(e)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(workers, 1))]
    for thread in threads:
        thread.start()
    pending: deque[tuple[Future[R], T]] = deque()
    source = iter(items)
    failed = False
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
    except Exception:
        failed = True
        raise
    finally:
        _finish(stop, tasks, threads, wait=failed)
        for future, _ in pending:
            future.cancel()


def unordered_map(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int, window: int | None = None
) -> Iterator[tuple[T, R]]:
    """Like ``ordered_map``, but each ``(item, result)`` as soon as it is done. A call that
    fails raises here, after every result that came before it."""
    window = max(window or workers * 2, 1)
    tasks: queue.SimpleQueue[T | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[tuple[T, R | None, BaseException | None]] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while (item := tasks.get()) is not None:
            if stop.is_set():
                continue
            try:
                done.put((item, fn(item), None))
            except BaseException as e:  # handed to the reader of the results
                done.put((item, None, e))

    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(workers, 1))]
    for thread in threads:
        thread.start()
    pending = 0
    failed = False
    try:
        for item in items:
            tasks.put(item)
            pending += 1
            while pending >= window:
                pending -= 1
                yield _result(done.get())
        while pending:
            pending -= 1
            yield _result(done.get())
    except Exception:
        failed = True
        raise
    finally:
        _finish(stop, tasks, threads, wait=failed)


def _finish(stop: threading.Event, tasks: Any, threads: list[threading.Thread], wait: bool) -> None:
    """No call starts any more; after a failure, wait for those running (not after ^C:
    an interrupted run exits at once)."""
    stop.set()
    for _ in threads:
        tasks.put(None)
    if wait:
        for thread in threads:
            thread.join()


def _result(entry: tuple[T, R | None, BaseException | None]) -> tuple[T, R]:
    item, result, error = entry
    if error is not None:
        raise error
    return item, result  # type: ignore[return-value]
