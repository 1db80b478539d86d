"""Batch input lines: what each line asks for (DESIGN.md, "Batch runs"). Pure, no I/O.

Any mix of: OpenAI batch lines ``{"custom_id", "method": "POST", "url", "body"}`` (the
file OpenAI's Batch API and ``vllm run-batch`` take) with url ``/v1/chat/completions``,
``/v1/embeddings`` or ``/v1/messages``; Anthropic Message Batches lines ``{"custom_id",
"params"}``; ``{"custom_id", "body"}`` or a bare request body (chat); and any line that is
not JSON, a prompt sent as ``llmcli chat`` would send it. A line without ``custom_id``
gets its line number. A line that cannot be sent becomes a ``Row`` with ``problem`` set:
it is answered with an error row and never sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson

from llmcli.protocol.messages.shapes import DEFAULT_MAX_TOKENS

if TYPE_CHECKING:
    from llmcli.client import Client

Endpoint = Literal["chat", "embeddings", "messages", "responses"]
JSON = dict[str, Any]

#: batch-line urls, with or without the version prefix, and the endpoint each means
URLS: Mapping[str, Endpoint] = {
    "/v1/chat/completions": "chat",
    "/chat/completions": "chat",
    "/v1/embeddings": "embeddings",
    "/embeddings": "embeddings",
    "/v1/messages": "messages",
    "/messages": "messages",
    "/v1/responses": "responses",
    "/responses": "responses",
}
#: the request flags as a Responses body names them
_RESPONSES_OPTIONS = {"max_tokens": "max_output_tokens"}
#: what a batch answer never is: a stream
_STREAMING = ("stream", "stream_options")


@dataclass(frozen=True, slots=True)
class Defaults:
    """Request flags that apply to every row that does not set them."""

    model: str | None = None
    system: str | None = None
    params: Sequence[tuple[list[str], Any]] = ()  # -p KEY=VALUE, parsed: (path, value)
    options: Mapping[str, Any] = field(default_factory=dict)  # max_tokens, temperature …
    #: where prompt lines and bare bodies go: "messages" on a gateway without chat
    endpoint: Endpoint = "chat"
    #: what a prompt line becomes (a template's prompt around it), or None: as it is
    prompt: Callable[[str], str] | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls,
        client: Client,
        *,
        system: str | None = None,
        params: Sequence[tuple[list[str], Any]] = (),
        options: Mapping[str, Any] | None = None,
        prompt: Callable[[str], str] | None = None,
    ) -> Defaults:
        """A client's defaults: its model (-m, then LLMCLI_MODEL, then the gateway's, as
        every command takes it); prompts go to /messages on a gateway that has it but no
        chat (anthropic)."""
        endpoints = client.gateway.endpoints
        return cls(
            model=client.model,
            system=system,
            params=params,
            options={k: v for k, v in (options or {}).items() if v is not None},
            endpoint="messages" if "chat" not in endpoints and "messages" in endpoints else "chat",
            prompt=prompt,
        )


@dataclass(frozen=True, slots=True)
class Row:
    """One input line: where it goes and what it sends, or why it cannot be sent."""

    line: int
    custom_id: str
    endpoint: Endpoint = "chat"
    body: JSON = field(default_factory=dict)
    problem: str | None = None


def parse(text: str, line: int, defaults: Defaults = Defaults()) -> Row | None:
    """The row of one input line (None for a blank line)."""
    stripped = text.strip()
    if not stripped:
        return None
    if not stripped.startswith("{"):
        said = text.rstrip("\r\n")
        messages = [{"role": "user", "content": defaults.prompt(said) if defaults.prompt else said}]
        return _finish(Row(line, str(line), defaults.endpoint, {"messages": messages}), defaults)
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError as e:
        return Row(line, str(line), problem=f"line {line} column {e.colno}: {e.msg}")
    return from_object(value, line, defaults)


def from_object(value: Any, line: int, defaults: Defaults = Defaults()) -> Row:
    """The row of one input object (a parsed line, or a dict given to ``batch.run``)."""
    if not isinstance(value, dict):
        return Row(line, str(line), problem=f"line {line}: expected a JSON object")
    custom_id = value.get("custom_id", str(line))
    if not isinstance(custom_id, str) or not custom_id:
        return Row(line, str(line), problem=f"line {line}: custom_id must be a non-empty string")
    endpoint: Endpoint = defaults.endpoint
    if "url" in value:
        url = value.get("url")
        if not isinstance(url, str) or url not in URLS:
            known = ", ".join(u for u in URLS if u.startswith("/v1/"))
            return Row(line, custom_id, problem=f"line {line}: url {url!r} is not one of {known}")
        if str(value.get("method", "POST")).upper() != "POST":
            return Row(line, custom_id, problem=f"line {line}: method must be POST")
        endpoint, body = URLS[url], value.get("body")
    elif "params" in value:
        endpoint, body = "messages", value.get("params")
    elif "body" in value:
        body = value.get("body")
    else:
        body = {k: v for k, v in value.items() if k != "custom_id"}
    if not isinstance(body, dict):
        return Row(line, custom_id, endpoint, problem=f"line {line}: the body must be an object")
    return _finish(Row(line, custom_id, endpoint, dict(body)), defaults)


def _finish(row: Row, defaults: Defaults) -> Row:
    """Fill in what the row does not set; say what is still missing."""
    body = {k: v for k, v in row.body.items() if k not in _STREAMING}
    if row.endpoint == "responses":
        for key, value in defaults.options.items():
            if value is not None:
                body.setdefault(_RESPONSES_OPTIONS.get(key, key), value)
        given = body.get("input")
        if not (isinstance(given, str) and given) and not (isinstance(given, list) and given):
            return _problem(row, body, 'a responses body needs "input" (a string or items)')
        if defaults.system is not None:
            body.setdefault("instructions", defaults.system)
    elif row.endpoint != "embeddings":
        for key, value in defaults.options.items():
            if value is not None:
                body.setdefault(key, value)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _problem(row, body, '"messages" must be a non-empty list')
        if defaults.system is not None:
            if row.endpoint == "messages":
                body.setdefault("system", defaults.system)
            elif not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
                body["messages"] = [{"role": "system", "content": defaults.system}, *messages]
        if row.endpoint == "messages":
            body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    elif "input" not in body:
        return _problem(row, body, 'an embeddings body needs "input"')
    for path, value in defaults.params:
        _set_default(body, path, value)
    if defaults.model is not None:
        body.setdefault("model", defaults.model)
    if not body.get("model"):
        return _problem(row, body, "no model: give -m MODEL or a model in the line")
    return Row(row.line, row.custom_id, row.endpoint, body)


def _problem(row: Row, body: JSON, what: str) -> Row:
    return Row(row.line, row.custom_id, row.endpoint, body, f"line {row.line}: {what}")


def _set_default(body: JSON, path: list[str], value: Any) -> None:
    node = body
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            if key in node:
                return  # the row set it to something else: the row wins
            child = node[key] = {}
        node = child
    node.setdefault(path[-1], value)


def repeated_id(rows: Iterable[Row]) -> tuple[str, int, int] | None:
    """The first custom_id given twice: the id, the line it was first on, the line it
    came again on (None when each is once)."""
    seen: dict[str, int] = {}
    for row in rows:
        first = seen.setdefault(row.custom_id, row.line)
        if first != row.line:
            return row.custom_id, first, row.line
    return None


def shard_of(custom_id: str, count: int) -> int:
    """The shard a row belongs to: a stable hash of its custom_id, modulo ``count`` (the
    same on every machine and Python, unlike ``hash``)."""
    digest = hashlib.blake2b(custom_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def estimate_tokens(row: Row) -> int:
    """Tokens a row may use, before sending (for ``--tpm``): about 4 bytes a token of
    its body, plus the most it may generate."""
    size = len(orjson.dumps(row.body)) // 4
    body = row.body
    most = (
        body.get("max_tokens")
        or body.get("max_completion_tokens")
        or body.get("max_output_tokens")
        or 0
    )
    return size + (most if isinstance(most, int) else 0)
