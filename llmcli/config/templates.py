"""Prompt templates (``-t NAME``): a TOML table in the config file, ``[templates.NAME]``, or
a file ``$XDG_CONFIG_HOME/llmcli/templates/NAME.toml`` (the config file's wins), holding
any of ``system``, ``prompt`` (``{input}`` where the composed input goes, ``{name}``
variables given with ``-V name=value``, ``{{``/``}}`` for braces), ``gateway``, ``model``,
``params`` (a table of body fields), ``schema`` and ``tools`` (JSON files, relative to
the file that names them) and ``description``. Errors name the file and line (exit 78);
filling a prompt without a variable it names is a usage error naming it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcli.errors import ConfigError, UsageError

KEYS = ("system", "prompt", "gateway", "model", "params", "schema", "tools", "description")
_STRINGS = ("system", "prompt", "gateway", "model", "schema", "tools", "description")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: ``{{`` and ``}}`` are braces; ``{name}`` a variable; any other brace is text
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
INPUT = "input"
LIMIT = 1 << 20  # bytes of a template file read, like every input (DESIGN.md, "Limits")


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    source: str  # where it is defined: "FILE" or "FILE:LINE"
    base: Path  # the folder its schema and tools paths are relative to
    system: str | None = None
    prompt: str | None = None
    gateway: str | None = None
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    schema: str | None = None
    tools: str | None = None
    description: str | None = None

    def path(self, value: str | None) -> str | None:
        """A schema or tools path, relative to the template's file."""
        if value is None:
            return None
        return str(self.base / os.path.expanduser(value))

    def fill(self, given: str | None, variables: Mapping[str, str]) -> str | None:
        """The prompt with the input (composed as without a template) and the variables
        in it; without ``{input}`` in it, the input follows it after a blank line. No
        prompt: the input as it is."""
        if self.prompt is None:
            return given
        has_input = any(m.group(1) == INPUT for m in _FIELD.finditer(self.prompt))
        values = {**variables, INPUT: given or ""}

        def one(match: re.Match[str]) -> str:
            if match.group(0) in ("{{", "}}"):
                return match.group(0)[0]
            name = match.group(1)
            if name not in values:
                raise UsageError(
                    f"template {self.name!r} needs the variable {name!r}: pass -V {name}=VALUE"
                )
            return values[name]

        text = _FIELD.sub(one, self.prompt)
        if not has_input and given:
            text = f"{text}\n\n{given}"
        return text

    def shown(self) -> dict[str, Any]:
        """The template as ``llmcli templates show`` prints it."""
        found: dict[str, Any] = {"name": self.name, "source": self.source}
        for key in KEYS:
            value = getattr(self, key)
            if value not in (None, {}):
                found[key] = value
        return found


def build(name: str, table: Any, where: str, base: Path, line_of: Callable[[str], str]) -> Template:
    """A template from its TOML table; ``where`` names it in errors (``FILE:LINE``),
    ``line_of(key)`` is ``FILE:LINE`` of a key of it."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: template {name!r} must be a table")
    if unknown := sorted(set(table) - set(KEYS)):
        import difflib

        close = difflib.get_close_matches(unknown[0], KEYS, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{line_of(unknown[0])}: template {name!r}: unknown key {unknown[0]!r}{hint}"
        )
    for key in _STRINGS:
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{line_of(key)}: template {name!r}: {key} must be a string")
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{line_of('params')}: template {name!r}: params must be a table")
    fields = {k: v for k, v in table.items() if k != "params"}
    return Template(name, where, base, params=params, **fields)


def folder(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/llmcli/templates``."""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "llmcli" / "templates"


def from_file(path: Path, name: str) -> Template:
    """The template a ``NAME.toml`` file holds (its keys at the top level)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(LIMIT + 1)
        if len(raw) > LIMIT:
            raise ConfigError(f"{path}: larger than 1 MiB, not a template")
        text = raw.decode("utf-8")
        table = tomllib.loads(text)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        found = re.search(r"\(at line (\d+), column (\d+)\)$", str(e))
        where = f"{path}:{found[1]}:{found[2]}" if found else str(path)
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(e))
        raise ConfigError(f"{where}: {message}") from None

    def line_of(key: str) -> str:
        found = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.M)
        return f"{path}:{text.count(chr(10), 0, found.start()) + 1}" if found else str(path)

    return build(name, table, str(path), path.parent, line_of)


def every(configured: Mapping[str, Template], env: Mapping[str, str]) -> dict[str, Template]:
    """Every template: the config file's, then each file's whose name the config does
    not use, by name."""
    found = dict(configured)
    where = folder(env)
    try:
        files = sorted(where.glob("*.toml"))
    except OSError:
        files = []
    for path in files:
        if path.stem not in found and _NAME.match(path.stem):
            found[path.stem] = from_file(path, path.stem)
    return dict(sorted(found.items()))


def find(name: str, configured: Mapping[str, Template], env: Mapping[str, str]) -> Template:
    """The template ``NAME``; a usage error naming the close ones when there is none."""
    if name in configured:
        return configured[name]
    if _NAME.match(name):
        path = folder(env) / f"{name}.toml"
        if path.is_file():
            return from_file(path, name)
    import difflib

    known = every(configured, env)
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    where = f"[templates.NAME] in the config file or {folder(env)}/NAME.toml"
    raise UsageError(f"no template {name!r}{hint}: define it as {where}")
