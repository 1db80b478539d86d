"""The deterministic models of the offline gateway: replies as pure functions of a request.

A request body (chat, messages or responses) is read into an ``Ask``; ``reply(ask)`` gives a
``Reply`` — reasoning pieces, content pieces (a generator factory, so ``lorem`` can stream
half a million chunks without holding its text), tool calls, finish reason and usage.
The wire modules render one ``Reply`` both as a JSON body and as an SSE stream, which is
what keeps the two equivalent; ``within`` cuts a reply to the Responses API's
``max_output_tokens``. Also the embedding vectors.

A profile serves these models under its own ids (``catalog``, ``lookup.chat_model``):
``Ask.model`` is the id the reply shows, ``Ask.behaves`` the model that answers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from .catalog import CHAT_MODELS, CREATED, EMBED_MODELS
from .error_bodies import OpenAIError, RequestError

__all__ = [
    "CHAT_MODELS",
    "CREATED",
    "EMBED_MODELS",
    "SIGNATURE",
    "UNICODE_TEXT",
    "Ask",
    "Model",
    "Reply",
    "ToolCall",
    "ask_chat",
    "ask_messages",
    "ask_responses",
    "fragments",
    "input_items",
    "pieces",
    "reply",
    "vector",
    "within",
]

UNICODE_TEXT = "héllo wörld — 日本語 😀🎉 naïve café ∑ 👩\u200d💻 ok"
SIGNATURE = "EqQBCkgIBRABGAIiQMockSignatureOfTheThinkingBlock0123456789abcdefABCDEF=="
_LOREM_TEXT = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute "
    "irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat "
    "nulla pariatur excepteur sint occaecat cupidatat non proident sunt in culpa qui "
    "officia deserunt mollit anim id est laborum"
)
LOREM = tuple(_LOREM_TEXT.split())
LOREM_DEFAULT = 100
ARG_FRAGMENT = 5  # characters per streamed tool-call argument fragment
Model = tuple[str, str]  # (the id the reply shows, the deterministic model that answers)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True, slots=True)
class Ask:
    """What the models need from a request body."""

    model: str  # the model id the reply shows
    prompt: str  # text of the last user message
    tool_result: str | None  # text of the tool result answering the last tool call, if any
    max_tokens: int | None
    words_per_chunk: int
    prompt_tokens: int
    behaves: str = ""  # which deterministic model answers (the id itself when empty)

    @property
    def kind(self) -> str:
        return self.behaves or self.model

    @property
    def digest(self) -> str:
        key = f"{self.model}\0{self.prompt}\0{self.tool_result}".encode()
        return hashlib.sha256(key).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Reply:
    ask: Ask
    content: Callable[[], Iterator[str]] | None  # None: content is null (tool calls)
    reasoning: tuple[str, ...]
    tool_calls: tuple[ToolCall, ...]
    finish: str  # "stop" | "tool_calls" | "length" (cut by ``within``)
    completion_tokens: int

    @property
    def text(self) -> str | None:
        return None if self.content is None else "".join(self.content())

    @property
    def reasoning_text(self) -> str:
        return "".join(self.reasoning)

    @property
    def prompt_tokens(self) -> int:
        return self.ask.prompt_tokens

    @property
    def reasoning_tokens(self) -> int:
        return sum(_words(p) for p in self.reasoning)


def pieces(text: str) -> list[str]:
    """Split after each whitespace run: "hello big world" -> "hello ", "big ", "world"."""
    return [p for p in re.split(r"(?<=\s)(?=\S)", text) if p]


def fragments(text: str, size: int = ARG_FRAGMENT) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _words(text: str) -> int:
    return len(text.split())


def _lorem(n: int, per_chunk: int) -> Iterator[str]:
    size = len(LOREM)
    ring = list(LOREM) * (per_chunk // size + 2)
    done = 0
    while done < n:
        k = min(per_chunk, n - done)
        start = done % size
        done += k
        yield " ".join(ring[start : start + k]) + (" " if done < n else "")


def _fixed(parts: list[str]) -> Callable[[], Iterator[str]]:
    return lambda: iter(parts)


def reply(ask: Ask) -> Reply:
    """The model's answer to ``ask``."""
    model = ask.kind
    if model == "lorem":
        n = LOREM_DEFAULT if ask.max_tokens is None else ask.max_tokens
        per = ask.words_per_chunk
        return Reply(ask, lambda: _lorem(n, per), (), (), "stop", n)
    if model == "tools" and ask.tool_result is None:
        calls = (
            ToolCall("get_weather", orjson.dumps({"location": ask.prompt}).decode()),
            ToolCall("get_time", orjson.dumps({"timezone": "UTC"}).decode()),
        )
        return Reply(ask, None, (), calls, "tool_calls", sum(_words(c.arguments) for c in calls))
    if model == "tools":
        text = "tool said: " + (ask.tool_result or "")
    elif model == "unicode":
        text = UNICODE_TEXT
    else:  # echo, think
        text = ask.prompt
    reasoning: tuple[str, ...] = ()
    if model == "think":
        count = _words(ask.prompt)
        words, them = ("word", "it") if count == 1 else ("words", "them")
        thought = f"The user wrote {count} {words}. I will repeat {them} back."
        reasoning = tuple(pieces(thought))
    tokens = _words(text) + sum(_words(p) for p in reasoning)
    return Reply(ask, _fixed(pieces(text)), reasoning, (), "stop", tokens)


def within(said: Reply, most: int | None) -> Reply:
    """``said`` cut to at most ``most`` completion tokens, as the Responses API's
    ``max_output_tokens`` cuts it: pieces are kept in the order they are generated
    (reasoning, content, tool calls) while they fit, and the reply finishes ``"length"``
    when one did not. Content cut to nothing is null (no message), as when reasoning used
    up the budget. ``lorem`` makes exactly ``max_tokens`` words, so it is never cut."""
    if most is None or said.completion_tokens <= most:
        return said
    left = most

    def fitting(items: Iterable[T], count: Callable[[T], int]) -> list[T]:
        nonlocal left
        kept: list[T] = []
        for item in items:
            n = count(item)
            if not 0 <= n <= left:
                left = -1  # nothing after a piece that did not fit
                break
            left -= n
            kept.append(item)
        return kept

    reasoning = fitting(said.reasoning, _words)
    text = fitting(said.content(), _words) if said.content is not None else []
    calls = fitting(said.tool_calls, lambda c: _words(c.arguments))
    content = _fixed(text) if text else None
    used = sum(map(_words, reasoning)) + sum(map(_words, text))
    used += sum(_words(c.arguments) for c in calls)
    return Reply(said.ask, content, tuple(reasoning), tuple(calls), "length", used)


# ---- reading request bodies -------------------------------------------------------------


def _text_of(content: Any, types: tuple[str, ...] = ("text",)) -> str:
    """A message content's text: a string, or its text parts joined with newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") in types and isinstance(p.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def _int_field(body: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        raise RequestError(400, "messages: field required", code="missing_messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages: expected a non-empty array", code="invalid_messages")
    if not all(isinstance(m, dict) for m in messages):
        raise RequestError(400, "messages: each message must be an object", code="invalid_messages")
    return messages


def _ask(
    body: dict[str, Any],
    model: Model,
    prompt: str,
    tool: str | None,
    all_text: str,
    limits: tuple[str, ...] = ("max_completion_tokens", "max_tokens"),
) -> Ask:
    per = _int_field(body, "mock_words_per_chunk") or 1
    return Ask(
        model=model[0],
        behaves=model[1],
        prompt=prompt,
        tool_result=tool,
        max_tokens=_int_field(body, *limits),
        words_per_chunk=per,
        prompt_tokens=max(1, _words(all_text)),
    )


def ask_chat(body: dict[str, Any], model: Model) -> Ask:
    """Read a Chat Completions request body; ``model`` as ``catalog.chat_model`` picks it."""
    messages = _messages(body)
    texts = [_text_of(m.get("content")) for m in messages]
    users = [t for m, t in zip(messages, texts, strict=True) if m.get("role") == "user"]
    tool = texts[-1] if messages[-1].get("role") == "tool" else None
    return _ask(body, model, users[-1] if users else "", tool, "\n".join(texts))


def ask_messages(body: dict[str, Any], model: Model) -> Ask:
    """Read an Anthropic Messages request body; ``model`` as for ``ask_chat``."""
    messages = _messages(body)
    if _int_field(body, "max_tokens") is None:
        raise RequestError(400, "max_tokens: field required", code="missing_max_tokens")
    texts = [_text_of(m.get("content")) for m in messages]
    users = [t for m, t in zip(messages, texts, strict=True) if m.get("role") == "user"]
    tool: str | None = None
    last = messages[-1]
    blocks = last.get("content")
    if last.get("role") == "user" and isinstance(blocks, list):
        results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            tool = "\n".join(_text_of(b.get("content")) for b in results)
    system = _text_of(body.get("system"))
    all_text = "\n".join([system, *texts, tool or ""])
    return _ask(body, model, users[-1] if users else "", tool, all_text)


def _kind(value: Any) -> str:
    """How OpenAI's errors name a JSON value's type: ``an object``, ``an integer`` …"""
    kinds: tuple[tuple[type, str], ...] = (
        *((bool, "a boolean"), (int, "an integer"), (float, "a decimal")),
        *((str, "a string"), (list, "an array"), (dict, "an object")),
    )
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A Responses body's ``input`` as a list of items (a string is one user message); 400
    in OpenAI's words when it is missing or not a string or an array of objects."""
    value = body.get("input")
    if value is None:
        raise OpenAIError(
            400,
            "Missing required parameter: 'input'.",
            type_="invalid_request_error",
            param="input",
            code="missing_required_parameter",
        )
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise OpenAIError(
            400,
            "Invalid type for 'input': expected one of a string or array of input items,"
            f" but got {_kind(value)} instead.",
            type_="invalid_request_error",
            param="input",
            code="invalid_type",
        )
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise OpenAIError(
                400,
                f"Invalid type for 'input[{i}]': expected an input item,"
                f" but got {_kind(item)} instead.",
                type_="invalid_request_error",
                param=f"input[{i}]",
                code="invalid_type",
            )
    return value


_RESPONSES_TEXT = ("input_text", "output_text")


def ask_responses(
    body: dict[str, Any], model: Model, history: Sequence[dict[str, Any]] = ()
) -> Ask:
    """Read a Responses request body, its ``input`` after ``history`` (the items of the
    previous response's conversation); ``model`` as for ``ask_chat``. The prompt is the
    last user message's text, the tool result the outputs of the ``function_call_output``
    items ending the input (joined with newlines); ``instructions`` counts as input."""
    items = [*history, *input_items(body)]
    texts: list[str] = []
    users: list[str] = []
    outputs: list[str] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call_output":
            outputs.append(_text_of(item.get("output"), _RESPONSES_TEXT))
            texts.append(outputs[-1])
            continue
        if kind in ("message", "function_call"):
            outputs.clear()
        if kind == "message":
            text = _text_of(item.get("content"), _RESPONSES_TEXT)
            texts.append(text)
            if item.get("role") == "user":
                users.append(text)
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        texts.insert(0, instructions)
    prompt, tool = users[-1] if users else "", "\n".join(outputs) if outputs else None
    return _ask(body, model, prompt, tool, "\n".join(texts), ("max_output_tokens",))


# ---- embeddings -------------------------------------------------------------------------


def vector(key: bytes, dims: int) -> list[float]:
    """A deterministic unit-length vector for ``key``.

    Each value is a multiple of 2**-16 in [-1, 1], so it is exactly representable as a
    float32: the float answer and the base64 (little-endian float32) answer decode to the
    same numbers.
    """
    raw: list[float] = []
    block = 0
    while len(raw) < dims:
        digest = hashlib.sha256(key + block.to_bytes(4, "little")).digest()
        block += 1
        for i in range(0, 32, 4):
            raw.append(int.from_bytes(digest[i : i + 4], "little") / 2**31 - 1.0)
    raw = raw[:dims]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [round(x / norm * 65536) / 65536 for x in raw]
