"""The batch engine on one event loop (issue 27, first cut; opt-in: ``LLMCLI_ENGINE=async``).

``runner.run`` gives each row in flight a thread (``parallel.ordered_map``); at thousands
in flight the threads cost more than the requests (bench/latency.py). Here each row is a
coroutine on one event loop in a thread of its own, its request sent over
``llmcli.http.aio.Pool`` (at most ``-P`` connections, kept alive), and the output lines
reach the caller's thread through a queue, in input order with a window of twice ``-P``
rows (or as they finish, ``ordered=False``).

Kept as the thread engine keeps them, with the same pure pieces: the rows' lines
(``results``), retries with backoff and ``Retry-After`` within the row's deadline, a 429
or 503 that names its wait pausing every row (the client's ``Governor``: its pause and its
halt), ``--rpm/--tpm`` (the same buckets, waited out with ``asyncio.sleep``), ``--max-cost``
(the same ``Spend``), the 401/402/403 stop, ``--cache``. A row that runs tools goes to a
thread (``runner.answer``), as before. Not yet here (the thread engine serves such runs):
``--record``/``--replay``, a proxy from the environment, and the governor's halving of
concurrency after a 429 (the pause is shared; the in-flight count stays ``-P``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from llmcli.batch import results
from llmcli.batch.lines import Row, estimate_tokens
from llmcli.errors import LlmcliError, TemporaryError, UsageError
from llmcli.http.governor import Halted

if TYPE_CHECKING:
    from llmcli.batch.limits import RateLimits
    from llmcli.batch.runner import _Stop
    from llmcli.client import Client
    from llmcli.http.aio import Pool, Reply
    from llmcli.http.request import Request
    from llmcli.spend import Spend
    from llmcli.tools.loop import Toolbox

JSON = dict[str, Any]
MIN_PAUSE = 0.1
_END = object()
READ_AHEAD = 64  # rows read from the input at a time (in a thread: stdin may block)


def usable(client: Client) -> bool:
    """Whether this engine can serve the client's runs (see the module's text)."""
    import os

    from llmcli.http.proxies import proxy_in_environment

    if os.environ.get("LLMCLI_ENGINE", "").strip().lower() != "async":
        return False
    return not (client.recording or client.replaying or proxy_in_environment())


def lines(
    client: Client,
    rows: Iterator[Row],
    *,
    parallel: int,
    ordered: bool,
    limits: RateLimits | None,
    stop: _Stop,
    spend: Spend | None,
    tools: Toolbox | None,
) -> Iterator[JSON]:
    """The output line of each row (as ``runner.answer`` would make it); a ``Stopped``
    raised after the lines before it."""
    handed: queue.SimpleQueue[Any] = queue.SimpleQueue()
    engine = _Engine(client, parallel, ordered, limits, stop, spend, tools, handed)
    thread = threading.Thread(
        target=lambda: asyncio.run(engine.run(rows)), name="llmcli-batch", daemon=True
    )
    thread.start()
    try:
        while (item := handed.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        engine.cancel()
        thread.join(timeout=30)


class _Engine:
    def __init__(
        self,
        client: Client,
        parallel: int,
        ordered: bool,
        limits: RateLimits | None,
        stop: _Stop,
        spend: Spend | None,
        tools: Toolbox | None,
        handed: queue.SimpleQueue[Any],
    ) -> None:
        self.client = client
        self.parallel = max(parallel, 1)
        self.ordered = ordered
        self.limits = limits
        self.stop = stop
        self.spend = spend
        self.tools = tools
        self.handed = handed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None

    def cancel(self) -> None:
        """The caller stopped reading (an error, ^C, a closed pipe): end the run."""
        loop, main = self._loop, self._main
        if loop is not None and main is not None and not loop.is_closed():
            loop.call_soon_threadsafe(main.cancel)

    async def run(self, rows: Iterator[Row]) -> None:
        from llmcli.http.aio import Pool

        self._loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        pool = Pool(self.parallel, self.client.connect_timeout)
        flight = asyncio.Semaphore(self.parallel)
        window: deque[asyncio.Task[JSON]] = deque()
        unordered: set[asyncio.Task[JSON]] = set()
        exhausted = False
        try:
            while True:
                while not exhausted and len(window) + len(unordered) < 2 * self.parallel:
                    batch = await self._loop.run_in_executor(None, _take, rows, READ_AHEAD)
                    exhausted = len(batch) < READ_AHEAD
                    for row in batch:
                        task = asyncio.create_task(self._row(pool, flight, row))
                        (window.append if self.ordered else unordered.add)(task)
                if self.ordered:
                    if not window:
                        break
                    self.handed.put(await window.popleft())
                else:
                    if not unordered:
                        break
                    done, _ = await asyncio.wait(unordered, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        unordered.discard(task)
                        self.handed.put(task.result())
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # a Stopped (401, --max-cost), an input error: handed on
            self.handed.put(e)
        finally:
            for task in (*window, *unordered):
                task.cancel()
            pool.close()
            self.handed.put(_END)

    async def _row(self, pool: Pool, flight: asyncio.Semaphore, row: Row) -> JSON:
        async with flight:
            return await self._answer(pool, row)

    async def _answer(self, pool: Pool, row: Row) -> JSON:
        """``runner.answer`` on the event loop."""
        from llmcli.batch import runner

        client = self.client
        if row.problem is not None:
            return results.failed(row.custom_id, "invalid_request", row.problem)
        try:
            body = client.body(row.endpoint, row.body)
            request = client.request("POST", row.endpoint, body)
        except LlmcliError as e:
            return results.failed(row.custom_id, runner._code(e), e.message)
        if self.tools is not None and runner._runs_tools(self.tools, row.endpoint, body):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                None, runner.answer, client, row, self.limits, self.stop, self.spend, self.tools
            )
        kept = client.cached(request)
        if kept is not None:
            from llmcli.http.failures import request_id

            body_kept = results.body_of(kept.body)
            return results.answered(row.custom_id, kept.status, request_id(kept.headers), body_kept)
        if self.limits is not None:
            await asyncio.sleep(self.limits.take(estimate_tokens(row)))
        self.stop.check()
        worst = 0.0
        if self.spend is not None:
            try:
                worst = self.spend.worst(body, len(request.body or b""))
            except UsageError as e:
                problem = f"line {row.line}: {e.message}"
                return results.failed(row.custom_id, "invalid_request", problem)
            from llmcli.spend import OverBudget

            try:
                self.spend.reserve(worst)
            except OverBudget as e:
                self.stop.stop(e.message)
                raise runner.Stopped(e.message) from None
        try:
            line = await self._sent(pool, row, request)
        except BaseException:
            if self.spend is not None:
                self.spend.settle(worst, None)
            raise
        if self.spend is not None:
            self.spend.settle(worst, runner._cost_of(self.spend, line, body))
        return line

    async def _sent(self, pool: Pool, row: Row, request: Request) -> JSON:
        from llmcli.batch import runner

        try:
            reply = await self._with_retries(pool, request)
        except (LlmcliError, Halted) as e:
            return runner._error_line(row, e, self.stop)
        line = results.answered(
            row.custom_id,
            reply.status,
            reply.header("x-request-id") or reply.header("request-id") or "",
            results.body_of(reply.body),
        )
        if results.succeeded(line):
            self.client.keep_reply(request, reply.status, reply.headers, reply.body)
        return line

    async def _with_retries(self, pool: Pool, request: Request) -> Reply:
        """``Session._with_retries`` on the event loop: retries within the row's deadline,
        the governor's pause shared by every row."""
        from llmcli.http.retry import MAX_RETRY_AFTER, backoff, retryable_status, server_wait

        client = self.client
        governor = client.governor
        timeout = client.timeout
        deadline = time.perf_counter() + timeout if timeout and request.bounded else None
        number, waited = 0, 0.0
        while True:
            if self.stop.halted():
                raise Halted
            if governor is not None:
                await _paused(governor)
            ticket = governor.pauses if governor is not None else 0
            try:
                reply = await pool.send(request, deadline)
            except LlmcliError as e:
                late = isinstance(e, TemporaryError) and "within --timeout" in e.message
                if late or "larger than" in e.message or number >= client.retries:
                    raise  # past the deadline, over a cap, or out of retries
                from llmcli.http.aio import Stale

                delay = 0.0 if isinstance(e, Stale) else backoff(number)
                if deadline is not None and time.perf_counter() + delay >= deadline:
                    raise
                number += 1
                client.log(
                    f"llmcli: {_summary(e)}; retry {number}/{client.retries} in {delay:.1f}s"
                )
                await asyncio.sleep(delay)
                continue
            if reply.status < 400:
                if governor is not None:
                    governor.succeeded()
                return reply
            error = _status_error(request, reply)
            if not retryable_status(reply.status):
                raise error
            wait = server_wait(dict(reply.headers))
            if governor is not None and wait is not None and reply.status in (429, 503):
                wait = max(wait, MIN_PAUSE)
                waited += wait
                if waited > governor.max_wait:
                    raise error
                if deadline is not None and time.perf_counter() + wait >= deadline:
                    raise error
                if governor.pause(wait, ticket):
                    client.log(f"llmcli: {_summary(error)}; pausing all requests for {wait:.1f}s")
                continue
            if number >= client.retries or (wait is not None and wait > MAX_RETRY_AFTER):
                raise error
            delay = wait if wait is not None else backoff(number)
            if deadline is not None and time.perf_counter() + delay >= deadline:
                raise error
            number += 1
            client.log(
                f"llmcli: {_summary(error)}; retry {number}/{client.retries} in {delay:.1f}s"
            )
            await asyncio.sleep(delay)


async def _paused(governor: Any) -> None:
    """Wait out the governor's pause (a 429/503 named its wait); ``Halted`` once the run
    was stopped."""
    while True:
        wait = governor.waiting()
        if wait <= 0:
            return
        await asyncio.sleep(min(wait, 1.0))


def _status_error(request: Request, reply: Reply) -> LlmcliError:
    import httpx

    from llmcli.http.failures import status_error

    response = httpx.Response(reply.status, headers=reply.headers)
    return status_error(request, response, reply.body[: 64 << 10])


def _summary(error: LlmcliError) -> str:
    return error.message.rsplit(" (", 1)[0]


def _take(rows: Iterator[Row], count: int) -> list[Row]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= count:
            break
    return batch
