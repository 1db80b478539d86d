"""The deterministic models of the offline gateway: replies as pure functions of a request.

A request body (chat, messages or responses) is read into an ``Ask``; ``reply(ask)`` gives a
``Reply`` — reasoning pieces, content pieces (a generator factory, so ``lorem`` can stream
half a million chunks without holding its text), tool calls, finish reason and usage.
The wire modules render one ``Reply`` both as a JSON body and as an SSE stream, which is
what keeps the two equivalent; ``within`` cuts a reply to the Responses API's
``max_output_tokens``. Also the embedding vectors.

A profile serves these models under its own ids (``catalog``, ``lookup.chat_model``):
``Ask.model`` is the id the reply shows, ``Ask.behaves`` the model that answers.

The ``tools`` model calls the function tools a request offers (``tools`` in the Chat,
Anthropic or Responses shape; server tools such as ``web_search_20250305`` are not
called): every one, in the order offered, in one reply, each with ``arguments`` made
from its JSON Schema (``arguments``); ``tool_choice`` none answers as ``echo`` does, a
named tool calls only that one. Offered none, it calls ``get_weather`` and ``get_time``.
A conversation ending in tool results (all the trailing ones) is answered ``tool said: ``
and their texts, one a line. Body fields: ``mock_preamble`` (text) is said before the
calls; ``mock_tool_rounds`` (default 1) asks for that many rounds of results in the
current turn (since the last user prompt) before the answer, the model calling the tools
again until then. A call's id numbers its round
in the conversation (``Reply.call_key``): ``call_0`` in the first, ``call_2_0`` after two
rounds of results, so a conversation's ids never repeat.
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
    "Tool",
    "ToolCall",
    "arguments",
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
class Tool:
    """A function tool a request offers: its name and JSON Schema (None: none given)."""

    name: str
    schema: Any = None


@dataclass(frozen=True, slots=True)
class Ask:
    """What the models need from a request body."""

    model: str  # the model id the reply shows
    prompt: str  # text of the last user message (Anthropic: not one of tool results only)
    tool_result: str | None  # the texts of the tool results ending the conversation, if any
    max_tokens: int | None
    words_per_chunk: int
    prompt_tokens: int
    behaves: str = ""  # which deterministic model answers (the id itself when empty)
    # the tools ``tools`` calls: None when none is offered (get_weather and get_time),
    # () when ``tool_choice`` is none, else the offered ones ``tool_choice`` allows
    tools: tuple[Tool, ...] | None = None
    rounds: int = 0  # rounds of tool results since the last user prompt
    all_rounds: int = 0  # rounds of tool results in the whole conversation
    want_rounds: int = 1  # ``mock_tool_rounds``: rounds of results before the answer
    preamble: str = ""  # ``mock_preamble``: words said before the calls (and sent back)

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

    def call_key(self, index: int) -> str:
        """What tells call ``index`` apart, in the ids of every dialect (``call_0``,
        ``toolu_0``): the index, after the conversation's rounds of tool results if any
        (``2_0``), so a later round's calls do not take an earlier round's ids."""
        rounds = self.ask.all_rounds
        return f"{rounds}_{index}" if rounds else str(index)


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


def _value(prop: Any, prompt: str) -> Any:
    """A schema property's value: its first ``enum`` value, else by its ``type`` (the
    first but ``"null"`` of a list of types); null for any other type or none."""
    if not isinstance(prop, dict):
        return None
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    words = _words(prompt)
    values: dict[Any, Any] = {
        "string": prompt,
        "integer": words,
        "number": float(words),
        "boolean": True,
        "array": [],
        "object": {},
    }
    return values.get(kind) if isinstance(kind, str) else None


def arguments(schema: Any, prompt: str) -> dict[str, Any]:
    """The arguments the ``tools`` model gives a tool of JSON Schema ``schema``: each of
    its ``properties`` in order, a string the prompt, an integer the prompt's number of
    words (a number the same as a float), a boolean true, an array [], an object {}, a
    property with ``enum`` its first value; {} without properties."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return {}
    return {name: _value(prop, prompt) for name, prop in props.items()}


def _calls(ask: Ask) -> tuple[ToolCall, ...]:
    if ask.tools is None:
        return (
            ToolCall("get_weather", orjson.dumps({"location": ask.prompt}).decode()),
            ToolCall("get_time", orjson.dumps({"timezone": "UTC"}).decode()),
        )
    return tuple(
        ToolCall(t.name, orjson.dumps(arguments(t.schema, ask.prompt)).decode()) for t in ask.tools
    )


def reply(ask: Ask) -> Reply:
    """The model's answer to ``ask``."""
    model = ask.kind
    if model == "lorem":
        n = LOREM_DEFAULT if ask.max_tokens is None else ask.max_tokens
        per = ask.words_per_chunk
        return Reply(ask, lambda: _lorem(n, per), (), (), "stop", n)
    calling = ask.tool_result is None or ask.rounds < ask.want_rounds
    if model == "tools" and ask.tools != () and calling:
        calls = _calls(ask)
        used = sum(_words(c.arguments) for c in calls) + _words(ask.preamble)
        said = _fixed(pieces(ask.preamble)) if ask.preamble else None
        return Reply(ask, said, (), calls, "tool_calls", used)
    if model == "tools" and ask.tools != ():
        text = "tool said: " + (ask.tool_result or "")
    elif model == "unicode":
        text = UNICODE_TEXT
    else:  # echo, think, and tools told tool_choice none
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


def _choice(value: Any) -> str | None:
    """A ``tool_choice`` in any dialect's shape: "" for none, the name of the one tool it
    names, None for any other (auto, required, any)."""
    if value == "none":
        return ""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind == "none":
        return ""
    function = value.get("function")
    name = function.get("name") if isinstance(function, dict) else value.get("name")
    return name if kind in ("function", "tool") and isinstance(name, str) else None


def _tool(spec: dict[str, Any], dialect: str) -> Tool | None:
    """A function tool of a body's ``tools``, in the dialect's shape: Chat's ``{type:
    function, function: {name, parameters}}``, Anthropic's ``{name, input_schema}`` (type
    absent or ``custom``: not a server tool), the Responses ``{type: function, name,
    parameters}``."""
    kind = spec.get("type")
    if dialect == "chat":
        function = spec.get("function")
        if kind not in (None, "function") or not isinstance(function, dict):
            return None
        name, schema = function.get("name"), function.get("parameters")
    elif dialect == "messages":
        if kind not in (None, "custom"):
            return None
        name, schema = spec.get("name"), spec.get("input_schema")
    else:
        if kind != "function":
            return None
        name, schema = spec.get("name"), spec.get("parameters")
    return Tool(name, schema) if isinstance(name, str) else None


def _offered(body: dict[str, Any], dialect: str) -> tuple[Tool, ...] | None:
    """The tools the ``tools`` model is to call (``Ask.tools``): None when the body offers
    no function tool, () when ``tool_choice`` is none, the one it names (offered or not:
    then without a schema), else all the offered ones in order."""
    value = body.get("tools")
    specs = [s for s in value if isinstance(s, dict)] if isinstance(value, list) else []
    offered = tuple(t for t in (_tool(s, dialect) for s in specs) if t is not None)
    if not offered:
        return None
    choice = _choice(body.get("tool_choice"))
    if choice is None:
        return offered
    if not choice:
        return ()
    return tuple(t for t in offered if t.name == choice) or (Tool(choice),)


def _rounds(marks: Iterable[str]) -> tuple[int, int]:
    """The rounds of tool results of a conversation marked turn by turn (``u`` a user
    prompt, ``r`` tool results, ``o`` any other turn): in all, and since the last user
    prompt. A round is a run of results (the answers to one assistant turn's calls)."""
    total = current = 0
    before = ""
    for mark in marks:
        if mark == "u":
            current = 0
        elif mark == "r" and before != "r":
            total += 1
            current += 1
        before = mark
    return total, current


def _ask(
    body: dict[str, Any],
    model: Model,
    prompt: str,
    tool: str | None,
    all_text: str,
    limits: tuple[str, ...] = ("max_completion_tokens", "max_tokens"),
    *,
    tools: tuple[Tool, ...] | None = None,
    marks: Iterable[str] = (),
) -> Ask:
    per = _int_field(body, "mock_words_per_chunk") or 1
    rounds = _int_field(body, "mock_tool_rounds")
    all_rounds, current = _rounds(marks)
    return Ask(
        model=model[0],
        behaves=model[1],
        prompt=prompt,
        tool_result=tool,
        max_tokens=_int_field(body, *limits),
        words_per_chunk=per,
        prompt_tokens=max(1, _words(all_text)),
        tools=tools,
        rounds=current,
        all_rounds=all_rounds,
        want_rounds=1 if rounds is None else rounds,
        preamble=preamble if isinstance(preamble := body.get("mock_preamble"), str) else "",
    )


def ask_chat(body: dict[str, Any], model: Model) -> Ask:
    """Read a Chat Completions request body; ``model`` as ``catalog.chat_model`` picks it.
    The tool result is the texts of all the ``role: tool`` messages ending it."""
    messages = _messages(body)
    texts = [_text_of(m.get("content")) for m in messages]
    roles = [m.get("role") for m in messages]
    users = [t for role, t in zip(roles, texts, strict=True) if role == "user"]
    end = len(messages)
    while end and roles[end - 1] == "tool":
        end -= 1
    tool = "\n".join(texts[end:]) if end < len(messages) else None
    marks = ("u" if role == "user" else "r" if role == "tool" else "o" for role in roles)
    return _ask(
        body,
        model,
        users[-1] if users else "",
        tool,
        "\n".join(texts),
        tools=_offered(body, "chat"),
        marks=marks,
    )


def _results(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``tool_result`` blocks of an Anthropic user message."""
    blocks = message.get("content")
    if message.get("role") != "user" or not isinstance(blocks, list):
        return []
    return [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]


def ask_messages(body: dict[str, Any], model: Model) -> Ask:
    """Read an Anthropic Messages request body; ``model`` as for ``ask_chat``. The prompt
    is the last user message not of tool results, the tool result the texts of the last
    message's ``tool_result`` blocks (``is_error`` ones too)."""
    messages = _messages(body)
    if _int_field(body, "max_tokens") is None:
        raise RequestError(400, "max_tokens: field required", code="missing_max_tokens")
    texts = [_text_of(m.get("content")) for m in messages]
    results = [_results(m) for m in messages]
    marks = [
        ("r" if found else "u") if m.get("role") == "user" else "o"
        for m, found in zip(messages, results, strict=True)
    ]
    users = [t for mark, t in zip(marks, texts, strict=True) if mark == "u"]
    tool: str | None = None
    if results[-1]:
        tool = "\n".join(_text_of(b.get("content")) for b in results[-1])
    system = _text_of(body.get("system"))
    all_text = "\n".join([system, *texts, tool or ""])
    prompt = users[-1] if users else ""
    return _ask(body, model, prompt, tool, all_text, tools=_offered(body, "messages"), marks=marks)


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
    marks: list[str] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call_output":
            outputs.append(_text_of(item.get("output"), _RESPONSES_TEXT))
            texts.append(outputs[-1])
            marks.append("r")
            continue
        if kind in ("message", "function_call"):
            outputs.clear()
        if kind == "message":
            text = _text_of(item.get("content"), _RESPONSES_TEXT)
            texts.append(text)
            if item.get("role") == "user":
                users.append(text)
            marks.append("u" if item.get("role") == "user" else "o")
        elif kind == "function_call":
            marks.append("o")
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        texts.insert(0, instructions)
    prompt, tool = users[-1] if users else "", "\n".join(outputs) if outputs else None
    return _ask(
        body,
        model,
        prompt,
        tool,
        "\n".join(texts),
        ("max_output_tokens",),
        tools=_offered(body, "responses"),
        marks=marks,
    )


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
