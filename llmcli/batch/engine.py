"""The batch engine: every row of a run a coroutine on one event loop (issue 27).

A thread per row in flight (``runner``'s thread engine, ``parallel.ordered_map``) costs
more than the requests at thousands in flight (bench/latency.py). Here each row is a
coroutine on one event loop (uvloop's when it is installed) in a thread of its own, its
request sent over ``llmcli.http.aio.Pool`` (keep-alive connections, at most ``-P``), and
the output lines reach the caller's thread in groups of those ready together (one write
each), in input order with a window of twice ``-P`` rows (or as they finish,
``ordered=False``).

Kept as the thread engine keeps them, with the same pure pieces: the rows' lines
(``results``), ``retry.Attempts`` (retries within the row's deadline, the server's waits,
the same messages), the client's ``Governor`` (a 429 or 503 that names its wait pauses
every row and halves the requests in flight; a rate limit about to run out holds them;
the 401/402/403 halt), ``--rpm/--tpm`` (the same buckets, waited out with
``asyncio.sleep``), ``--max-cost`` (the same ``Spend``), ``--cache``. A row that runs tools
goes to a thread (``answering.answer``); a redirect is followed on the loop, as httpx
follows it (``request.redirected``). The thread engine still serves
``--record``/``--replay``, a proxy from the environment, a URL with userinfo, and
``LLMCLI_ENGINE=threads``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from llmcli.batch import answering, results
from llmcli.batch.lines import Row, estimate_tokens
from llmcli.batch.loop_thread import READ_AHEAD, Reader, in_thread, on_loop
from llmcli.errors import LlmcliError, UsageError
from llmcli.http.aio import Late, Stale, TooLarge
from llmcli.http.governor import Halted
from llmcli.http.request import REDIRECTS, followed, origin_of
from llmcli.http.retry import (
    Attempts,
    Pause,
    retryable_status,
    server_wait,
    slow_down,
    summary,
)

if TYPE_CHECKING:
    from llmcli.batch.answering import _Stop
    from llmcli.batch.limits import RateLimits
    from llmcli.client import Client
    from llmcli.http.aio import Gate, Pool, Reply
    from llmcli.http.governor import Governor
    from llmcli.http.request import Request
    from llmcli.http.session import Answer
    from llmcli.spend import Spend
    from llmcli.tools.loop import Toolbox

JSON = dict[str, Any]
_END = object()


def usable(client: Client) -> bool:
    """Whether this engine can serve the client's runs (see the module's text)."""
    import os

    from llmcli.http.proxies import proxy_in_environment

    if os.environ.get("LLMCLI_ENGINE", "").strip().lower() == "threads":
        return False  # the thread engine, asked for (a comparison, a workaround)
    # a URL's userinfo (Basic credentials httpx sends) is the session's to send; -v's
    # request and answer lines are the session's to print
    userinfo = "@" in (client.gateway.base_url or "")
    return not (
        client.recording or client.replaying or client.verbose or proxy_in_environment() or userinfo
    )


def groups(
    client: Client,
    rows: Iterator[Row],
    *,
    parallel: int,
    ordered: bool,
    limits: RateLimits | None,
    stop: _Stop,
    spend: Spend | None,
    tools: Toolbox | None,
) -> Iterator[list[JSON]]:
    """The output line of each row (as ``answering.answer`` would make it), in groups of
    the lines that were ready together (written with one write, not one each); a
    ``Stopped`` raised after the lines before it, an input error after every row read
    before it. At most twice ``parallel`` lines wait for the caller: a slow reader slows
    the run (memory stays flat, nothing is sent that could not be written)."""
    return _handed(_Engine(client, parallel, ordered, limits, stop, spend, tools), rows)


#: what answers one item of a run on the loop, given the engine and its pool (``embed``)
Work = Callable[["_Engine", "Pool", Any], Awaitable[Any]]


def answers(
    client: Client, items: Iterator[Any], work: Work, *, parallel: int
) -> Iterator[list[Any]]:
    """``work``'s answer to each item, ``parallel`` in flight, in input order, in groups
    of those ready together; the first error raised after the answers before it. Every
    request ``work`` sends through ``_Engine.fetched`` keeps ``Client.send``'s promises."""
    stop = answering._Stop(client)
    return _handed(_Engine(client, parallel, True, None, stop, None, None, work), items)


def _handed(engine: _Engine, items: Iterator[Any]) -> Iterator[list[Any]]:
    """The engine's groups, as its loop (a thread of its own) hands them over."""
    handed = engine.handed
    thread = threading.Thread(
        target=lambda: on_loop(engine.run(items)), name="llmcli-batch", daemon=True
    )
    thread.start()
    try:
        while (item := handed.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item  # the lines that were ready together, in their order
            engine.taken(len(item))
    finally:
        engine.cancel()
        thread.join(timeout=5)


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
        work: Work | None = None,
    ) -> None:
        self.client = client
        self.work = work
        self.parallel = max(parallel, 1)
        self.ordered = ordered
        self.limits = limits
        self.stop = stop
        self.spend = spend
        self.tools = tools
        #: what the loop hands the caller: groups of lines, an error, then _END
        self.handed: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._handed = 0  # lines handed to the caller (the loop's count)
        self._taken = 0  # lines the caller took (its thread's count; the loop reads it)
        self._room = asyncio.Event()  # the caller took one while the loop waited
        self._want_room = False  # the loop waits for the caller: wake it on the next take
        self._cancelled = threading.Event()
        self._waiters: deque[asyncio.Future[None]] = deque()  # rows waiting for a place

    def cancel(self) -> None:
        """The caller stopped reading (an error, ^C, a closed pipe): end the run."""
        self._cancelled.set()
        loop, main = self._loop, self._main
        with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nothing to end
            if loop is not None and main is not None and not loop.is_closed():
                loop.call_soon_threadsafe(main.cancel)

    def taken(self, count: int) -> None:
        """The caller took ``count`` lines: room for as many rows (called from its
        thread). The loop is woken only when it waits for that."""
        self._taken += count
        if self._want_room:
            self._want_room = False
            loop = self._loop
            # (the loop may close between the look and the call: the run is over then)
            with contextlib.suppress(RuntimeError):
                if loop is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(self._room.set)

    async def run(self, rows: Iterator[Row]) -> None:
        from llmcli.http.aio import Gate, Pool

        self._loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        if self._cancelled.is_set():
            self.handed.put(_END)
            return
        client = self.client
        pool = Pool(self.parallel, client.connect_timeout, client.timeout)
        flight = Gate(self.parallel)
        reader = Reader(rows)
        window: deque[asyncio.Task[JSON]] = deque()
        finished: asyncio.Queue[asyncio.Task[JSON]] = asyncio.Queue()
        started = 0  # rows sent or waiting to be, not yet handed to the caller
        failure: BaseException | None = None
        try:
            while True:
                # rows in flight and lines the caller has not taken: at most twice -P
                room = 2 * self.parallel - started - (self._handed - self._taken)
                if failure is None and not reader.done and room > 0:
                    batch, failure = await reader.next(min(READ_AHEAD, room))
                    for row in batch:
                        task = asyncio.create_task(self._row(pool, flight, row))
                        started += 1
                        if self.ordered:
                            window.append(task)
                        else:
                            task.add_done_callback(finished.put_nowait)
                    continue
                if started == 0:
                    if failure is None and not reader.done:  # the caller is behind
                        self._room.clear()
                        self._want_room = True  # then look again: it may have just taken
                        if 2 * self.parallel - (self._handed - self._taken) <= 0:
                            await self._room.wait()
                        continue
                    break
                task = window.popleft() if self.ordered else await finished.get()
                ready = [await task]
                # and every line ready behind it: handed together, one wake-up
                if self.ordered:
                    while window and _answered(window[0]):
                        ready.append(window.popleft().result())
                else:
                    while not finished.empty() and _answered(finished._queue[0]):  # type: ignore[attr-defined]
                        ready.append(finished.get_nowait().result())
                started -= len(ready)
                self._handed += len(ready)
                self.handed.put(ready)
            if failure is not None:  # what was read before it is out: then the error
                self.handed.put(failure)
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # a Stopped (401, --max-cost): handed on
            self.handed.put(e)
        finally:
            for task in window:
                task.cancel()
            pool.close()
            self.handed.put(_END)

    async def _row(self, pool: Pool, flight: Gate, row: Any) -> Any:
        async with flight:
            if self.work is not None:
                return await self.work(self, pool, row)
            line: JSON = await self._answer(pool, row)
            return line

    async def fetched(self, pool: Pool, request: Request) -> tuple[bytes, Answer | None]:
        """The body of a 2xx answer to ``request`` (``Client.send`` on the loop: retries,
        the governor, redirects followed, --cache answering an identical
        request), and, with --cache, the answer to keep once it was checked
        (``Client.keep``); an error answer raises its error."""
        client = self.client
        if client.cache is not None:
            kept = client.cached(request)
            if kept is not None:
                return kept.body, None
        reply = await self._with_retries(pool, request)
        if reply.status >= 300:  # a 3xx not followed (no Location, a 304): not an answer
            raise _status_error(request, reply)
        client.answered(reply.headers)  # --usage: the run's timing, the last answer's head
        return reply.body, (_kept(reply) if client.cache is not None else None)

    async def _answer(self, pool: Pool, row: Row) -> JSON:
        """``answering.answer`` on the event loop."""
        client = self.client
        if row.problem is not None:
            return results.failed(row.custom_id, "invalid_request", row.problem)
        try:
            body = client.body(row.endpoint, row.body)
            request = client.request("POST", row.endpoint, body)
        except LlmcliError as e:
            return results.failed(row.custom_id, answering._code(e), e.message)
        if self.tools is not None and answering._runs_tools(self.tools, row.endpoint, body):
            looped: JSON = await in_thread(
                answering.answer, client, row, self.limits, self.stop, self.spend, self.tools
            )
            return looped
        kept = client.cached(request) if client.cache is not None else None
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
                raise answering.Stopped(e.message) from None
        try:
            line = await self._sent(pool, row, request)
        except BaseException:
            if self.spend is not None:
                self.spend.settle(worst, None)
            raise
        if self.spend is not None:
            self.spend.settle(worst, answering._cost_of(self.spend, line, body))
        return line

    async def _sent(self, pool: Pool, row: Row, request: Request) -> JSON:
        try:
            reply = await self._with_retries(pool, request)
        except (LlmcliError, Halted) as e:
            return answering._error_line(row, e, self.stop)
        line = results.answered(
            row.custom_id,
            reply.status,
            reply.header("x-request-id") or reply.header("request-id") or "",
            results.body_of(reply.body),
        )
        if self.client.cache is not None and results.succeeded(line):
            self.client.keep(request, _kept(reply))
        return line

    async def _with_retries(self, pool: Pool, request: Request) -> Reply:
        """``Session._with_retries`` on the event loop, with its ``Attempts``: retries
        within the row's deadline; the governor's pause, its halving of the requests in
        flight after a 429 and its hold before a rate limit runs out, shared by every row."""
        client = self.client
        governor = client.governor
        timeout = client.timeout
        deadline = time.perf_counter() + timeout if timeout and request.bounded else None
        plan: Attempts | None = None  # made at the first failure (most rows have none)
        first, hops = request.url, 0
        while True:
            if self.stop.halted():
                raise Halted
            ticket: int | None = 0
            if governor is not None:  # a place at once, or waited for
                ticket = governor.enter()
                if ticket is None:
                    ticket = await self._enter(governor)
            ok = False
            try:
                reply = await pool.send(request, deadline)
            except (Late, TooLarge, UsageError):
                raise  # past the deadline, over a cap, a request never sendable: never again
            except LlmcliError as e:
                error, wait, status = e, (0.0 if isinstance(e, Stale) else None), None
            else:
                location = reply.header("location") if 300 <= reply.status < 400 else None
                if reply.status in REDIRECTS and location is not None:
                    hops += 1  # followed as httpx follows it: within the same deadline
                    request = followed(request, reply.status, location, origin_of(first), hops)
                    continue
                if reply.status < 400:
                    ok = reply.status < 300
                    return reply
                error = _status_error(request, reply)
                if not retryable_status(reply.status):
                    raise error
                wait, status = server_wait(dict(reply.headers)), reply.status
            finally:
                if governor is not None:
                    if governor.leave(ok):  # a 2xx after a 429 may let one more in
                        self._wake()
                    self._wake()
                    if ok:
                        _hold(governor, reply)
            if plan is None:
                max_wait = governor.max_wait if governor is not None else None
                plan = Attempts(client.retries, deadline, max_wait)
            step = plan.after(error, wait, status)
            if isinstance(step, LlmcliError):
                raise step
            if isinstance(step, Pause):
                assert governor is not None
                if governor.pause(step.seconds, ticket):
                    client.log(
                        f"llmcli: {summary(error)}; pausing all requests for {step.seconds:.1f}s"
                    )
                continue
            client.log(step.line)
            await asyncio.sleep(step.delay)

    async def _enter(self, governor: Governor) -> int:
        """The governor's place for one attempt (its ticket), waited for on the loop: the
        pause out, then a place among ``governor.limit`` in flight (halved by a 429)."""
        waiter: asyncio.Future[None] | None = None
        try:
            while True:
                wait = governor.waiting()  # Halted once the run was stopped
                if wait > 0:
                    await asyncio.sleep(min(wait, 1.0))
                    continue
                ticket = governor.enter()
                if ticket is not None:
                    return ticket
                # full: a row of this loop wakes one waiter as it leaves; a tool row's
                # thread does not, so each waiter looks again after a while anyway (with
                # the same future: a timeout leaves nothing behind in the queue)
                if waiter is None or waiter.done():
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                await asyncio.wait([waiter], timeout=0.5)
        finally:
            if waiter is not None and not waiter.done():
                waiter.cancel()  # still queued: a wake-up passes over it

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _kept(reply: Reply) -> Answer:
    """A reply as ``Client.keep`` takes it (--cache)."""
    import httpx

    from llmcli.http.session import Answer

    return Answer(reply.status, httpx.Headers(reply.headers), reply.body)


def _hold(governor: Governor, reply: Reply) -> None:
    """A 2xx whose rate limit is about to run out holds new requests until it resets."""
    if any(name[:11] in ("x-ratelimit", "anthropic-r") for name, _ in reply.headers):
        hint = slow_down(dict(reply.headers), governor.in_flight)
        if hint is not None:
            governor.hold(hint)


def _status_error(request: Request, reply: Reply) -> LlmcliError:
    import httpx

    from llmcli.http.failures import status_error

    response = httpx.Response(reply.status, headers=reply.headers)
    return status_error(request, response, reply.body)  # (aio read 64 KiB of it at most)


def _answered(task: asyncio.Task[JSON]) -> bool:
    """A row done with its line (a row that raised is awaited alone: the lines before it
    are handed first)."""
    return task.done() and not task.cancelled() and task.exception() is None
