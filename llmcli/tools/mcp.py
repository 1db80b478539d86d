"""MCP servers as tools (``--mcp 'COMMAND ARGS'`` over stdio, ``--mcp URL`` over streamable
HTTP), through the official ``mcp`` SDK (the optional extra ``llmcli[mcp]``), imported
only here.

The SDK is asynchronous (anyio); llmcli's loop is not. One daemon thread runs an event
loop; each server is held open by one task of its own (anyio's cancel scopes must be left
by the task that entered them), and calls from any thread are submitted to that loop.
A server's stderr goes to a temporary file, never straight to ours: when it fails to
start, the tail of what it said (redacted) is in the error. A stdio server gets the
user's environment less every variable holding a secret, as a command tool does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shlex
import tempfile
import threading
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import orjson

from llmcli.errors import UnavailableError, UsageError
from llmcli.redaction import redact, redact_url
from llmcli.tools.command import STDERR_TAIL, Outcome, environment

NEEDS_SDK = "--mcp needs the MCP SDK: pip install 'llmcli[mcp]'"


def _sdk() -> Any:
    try:
        import mcp
    except ImportError:
        raise UnavailableError(NEEDS_SDK) from None
    return mcp


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _unwrap(error: BaseException) -> BaseException:
    """anyio's task groups wrap a failure to connect in groups of one."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class Server:
    """One MCP server, held open until ``close``."""

    def __init__(
        self,
        source: str,
        loop: asyncio.AbstractEventLoop,
        secrets: tuple[str, ...],
        start: float,
    ) -> None:
        self.source = source
        self.secrets = secrets
        self._loop = loop
        self._stop: asyncio.Event | None = None
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._task: asyncio.Task[None] | None = None
        # closed in close(), which every path out of here reaches
        self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self.client: Any = None
        self._owner = asyncio.run_coroutine_threadsafe(self._own(), loop)
        try:
            self._ready.result(start)
        except concurrent.futures.TimeoutError:
            self.close()
            raise UnavailableError(f"--mcp {self.shown}: no answer in {start:g} s") from None
        except Exception as e:
            why = self._why(e)
            self.close()
            raise UnavailableError(f"--mcp {self.shown}: cannot start: {why}") from None

    @property
    def shown(self) -> str:
        return redact_url(self.source) if is_url(self.source) else repr(self.source)

    def _why(self, error: BaseException) -> str:
        said = str(error) or type(error).__name__
        self._errlog.seek(0)
        tail = self._errlog.read()[-STDERR_TAIL:].strip().splitlines()
        if tail:
            said += f" (it said: {tail[-1]})"
        return redact(said, self.secrets)

    def _transport(self) -> Any:
        mcp = _sdk()
        if is_url(self.source):
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(self.source)
        argv = shlex.split(self.source)
        if not argv:
            raise UsageError("--mcp: no command given")
        params = mcp.StdioServerParameters(
            command=argv[0], args=argv[1:], env=environment(self.secrets), cwd=os.getcwd()
        )
        return mcp.stdio_client(params, errlog=self._errlog)

    async def _own(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.current_task()
        try:
            async with AsyncExitStack() as stack:
                mcp = _sdk()
                transport = self._transport()
                self.client = await stack.enter_async_context(mcp.Client(transport, mode="legacy"))
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as e:
            if not self._ready.done():
                self._ready.set_exception(_unwrap(e))
                return
            raise
        finally:
            self._finished.set_result(None)

    def run(self, coroutine: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout + 1.0)  # the SDK's own time limit fires first
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer in {timeout:g} s") from None

    def tools(self, timeout: float) -> list[Any]:
        async def every_page() -> list[Any]:
            found: list[Any] = []
            cursor = None
            for _ in range(100):
                page = await self.client.list_tools(cursor=cursor)
                found += page.tools
                if (cursor := page.next_cursor) is None:
                    break
            return found

        try:
            listed: list[Any] = self.run(every_page(), timeout)
        except Exception as e:
            why = self._why(e)
            raise UnavailableError(f"--mcp {self.shown}: cannot list its tools: {why}") from None
        return listed

    def close(self) -> None:
        """Stop the server: its task leaves the SDK's context (which ends a stdio
        server's process); one that never started is cancelled."""
        if self._ready.done() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        elif self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        with contextlib.suppress(BaseException):  # a server that ended badly: nothing to do
            self._finished.result(10)
        self._errlog.close()


def spec(tool: Any) -> dict[str, Any]:
    """An MCP tool as a declaration ``{name, description, input_schema}``."""
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else {"type": "object"}
    found: dict[str, Any] = {"name": tool.name, "input_schema": schema}
    if tool.description:
        found["description"] = tool.description
    return found


def result_text(result: Any) -> str:
    """A tool result as text: its text contents joined; other contents (images,
    resources) as their JSON; structured content when there is nothing else."""
    parts: list[str] = []
    for item in result.content or []:
        if getattr(item, "type", None) == "text":
            parts.append(item.text)
        else:
            dumped = item.model_dump(by_alias=True, exclude_none=True, mode="json")
            parts.append(orjson.dumps(dumped).decode())
    if not parts and result.structured_content is not None:
        parts.append(orjson.dumps(result.structured_content).decode())
    return "\n".join(parts)


def bounded(text: str, most: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= most:
        return text
    kept = data[:most].decode("utf-8", "ignore")
    return kept + f"\n[llmcli: output cut at {most} bytes]"


class Servers:
    """The servers of ``--mcp``, their tools listed, calls routed to them."""

    def __init__(
        self, sources: Sequence[str], timeout: float, output_max: int, secrets: tuple[str, ...]
    ) -> None:
        self.sources = list(sources)
        self.timeout = timeout
        self.output_max = output_max
        self.secrets = secrets
        self.servers: list[Server] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp", daemon=True)

    def __enter__(self) -> Servers:
        _sdk()
        self._thread.start()
        try:
            for source in self.sources:
                self.servers.append(Server(source, self._loop, self.secrets, self.timeout))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()

    def listed(self) -> list[tuple[Server, Any]]:
        """Every server's tools, as the SDK gives them."""
        return [(server, tool) for server in self.servers for tool in server.tools(self.timeout)]

    def tools(self) -> list[tuple[dict[str, Any], Callable[[str], Outcome]]]:
        """Each tool's declaration and what runs a call to it."""
        return [(spec(tool), self._caller(server, tool.name)) for server, tool in self.listed()]

    def _caller(self, server: Server, name: str) -> Callable[[str], Outcome]:
        def call(arguments: str) -> Outcome:
            parsed = orjson.loads(arguments or "{}")
            try:
                result = server.run(
                    server.client.call_tool(name, parsed, read_timeout_seconds=self.timeout),
                    self.timeout,
                )
            except Exception as e:
                why = redact(str(_unwrap(e)) or type(e).__name__, self.secrets)
                return Outcome(f"tool {name} failed: {why}", True)
            text = bounded(result_text(result), self.output_max)
            return Outcome(text, bool(result.is_error))

        return call
