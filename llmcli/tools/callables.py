"""Python callables as tools (the library's ``client.chat(body, tools={"add": add})``).

A callable is called with the call's arguments as keyword arguments; what it returns is
the result (a string as it is, anything else as JSON); what it raises goes back to the
model as an error result. A tool the body does not declare is declared from the
callable's signature: each parameter a property (``int`` an integer, ``float`` a
number, ``str`` a string, ``bool`` a boolean, lists and dicts arrays and objects), those
without a default required, the docstring its description.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from llmcli.tools.command import Outcome

if TYPE_CHECKING:
    from llmcli.tools.loop import Toolbox

JSON = dict[str, Any]
_TYPES: dict[Any, str] = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    list: "array",
    dict: "object",
}


def _kind(annotation: Any) -> str | None:
    origin = typing.get_origin(annotation) or annotation
    return _TYPES.get(origin)


def spec(name: str, fn: Callable[..., Any]) -> JSON:
    """A declaration ``{name, description, input_schema}`` from the callable."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation that does not resolve: no types, not no tool
        hints = {}
    properties: JSON = {}
    required: list[str] = []
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        kind = _kind(hints.get(parameter.name))
        properties[parameter.name] = {"type": kind} if kind else {}
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    schema: JSON = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    found: JSON = {"name": name, "input_schema": schema}
    if doc := inspect.getdoc(fn):
        found["description"] = doc
    return found


def runner(name: str, fn: Callable[..., Any]) -> Callable[[str], Outcome]:
    """What runs a call to ``fn``: the arguments (a JSON object) as keywords."""

    def run(arguments: str) -> Outcome:
        parsed = orjson.loads(arguments or "{}")
        if not isinstance(parsed, dict):
            return Outcome(f"tool {name}: the arguments are not a JSON object", True)
        try:
            value = fn(**parsed)
        except Exception as e:
            return Outcome(f"tool {name} failed: {type(e).__name__}: {e}", True)
        if isinstance(value, str):
            return Outcome(value)
        return Outcome(orjson.dumps(value, default=str).decode())

    return run


def toolbox(tools: typing.Mapping[str, Callable[..., Any]], max_steps: int) -> Toolbox:
    """The callables as a toolbox: the program that passes them approves them."""
    from llmcli.tools.approval import Approval
    from llmcli.tools.loop import Toolbox

    return Toolbox(
        {name: runner(name, fn) for name, fn in tools.items()},
        Approval(everything=True),
        specs=[spec(name, fn) for name, fn in tools.items()],
        max_steps=max_steps,
    )
