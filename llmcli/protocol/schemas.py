"""Replies checked against the JSON Schema of ``--schema`` (``jsonschema``, imported only
when a schema is given: start-up stays light for every other run).

A reply that breaks the schema is named by the JSON path of its first error, as
``jsonschema`` ranks them (``best_match``), and the reason: ``$.answer: 'answer' is a
required property``. A missing property is named by its own path, not its parent's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from llmcli.errors import DataError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def unwrap(schema: Any) -> Any:
    """The schema itself, from a file that is a schema or OpenAI's ``{name, schema, …}``."""
    if isinstance(schema, Mapping) and isinstance(schema.get("schema"), Mapping):
        return schema["schema"]
    return schema


def named(schema: Any, path: str) -> dict[str, Any]:
    """``--schema FILE`` as OpenAI's strict ``{name, schema, strict}`` (the name from the
    file's); the file is a JSON Schema, or already ``{"name", "schema", …}``."""
    if isinstance(schema, Mapping) and isinstance(schema.get("schema"), Mapping):
        spec = dict(schema)
    else:
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        name = "".join(c if c.isalnum() or c in "_-" else "_" for c in stem)[:64] or "reply"
        spec = {"name": name, "schema": schema}
    spec.setdefault("strict", True)
    return spec


def _member(path: str, key: str) -> str:
    return f"{path}.{key}" if _NAME.fullmatch(key) else f"{path}[{key!r}]"


def check(schema: Any, source: str) -> Any:
    """The validator class of ``schema``; a ``DataError`` naming ``source`` when it is no
    valid JSON Schema (found before anything is sent)."""
    import jsonschema  # type: ignore[import-untyped]

    if not isinstance(schema, (Mapping, bool)):
        raise DataError(f"--schema {source}: not a JSON Schema (an object)")
    kind = jsonschema.validators.validator_for(schema)
    try:
        kind.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        raise DataError(f"--schema {source}: not a valid JSON Schema: {e.message}") from None
    for ref in _refs(schema):
        if not _resolves(schema, ref):
            raise DataError(f"--schema {source}: $ref {ref!r} points at nothing in the file")
    return kind


def _refs(node: Any) -> list[str]:
    """Every ``$ref`` in a schema."""
    if isinstance(node, Mapping):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolves(schema: Any, ref: str) -> bool:
    """Whether a ``$ref`` is a JSON pointer into the schema itself that leads somewhere
    (nothing is fetched: a remote ``$ref`` is refused before anything is sent)."""
    if not ref.startswith("#"):
        return False
    node = schema
    for token in [t for t in ref[1:].split("/") if t]:
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def problem(value: Any, schema: Any, source: str) -> str | None:
    """``$.path: reason`` of the first way ``value`` breaks ``schema``, or None."""
    import jsonschema

    kind = check(schema, source)
    error = jsonschema.exceptions.best_match(kind(schema).iter_errors(value))
    if error is None:
        return None
    path = error.json_path
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [k for k in error.validator_value if k not in error.instance]
        if missing:
            path = _member(path, str(missing[0]))
    return f"{path}: {error.message}"
