"""The user's config file: ``$XDG_CONFIG_HOME/llmcli/config.toml`` (``LLMCLI_CONFIG``).

::

    default_gateway = "work"

    [gateways.work]
    base_url = "http://127.0.0.1:8080/v1"
    api_key_env = "WORK_KEY"     # or api_key_file / api_key_cmd; none: no auth header
    model = "some-model"
    # optional: extends = "openai", embedding_model = "…", auth = "bearer" | "x-api-key" | "none",
    # headers = {…}, params = {…}, endpoints = [...], paths = {chat = "/api.php"},
    # reasoning_style = "openai" | "openrouter", description = "…",
    # fallback = ["other", "third:its-model"]   (asked when this one fails before any output)

A gateway named like a built-in one extends it. Errors name the file and line (exit 78).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmcli.config.gateway import Gateway
from llmcli.config.schema import KEYS, gateway_fields, type_name
from llmcli.config.templates import Template, build
from llmcli.errors import ConfigError

#: a config file is read up to this many bytes, like every input (DESIGN.md, "Limits")
LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    default_gateway: str | None = None
    gateways: Mapping[str, Gateway] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    templates: Mapping[str, Template] = field(default_factory=dict)


def config_path(env: Mapping[str, str]) -> Path:
    if explicit := env.get("LLMCLI_CONFIG"):
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "llmcli" / "config.toml"


_cache: dict[Path, Config] = {}


def load(env: Mapping[str, str]) -> Config:
    """The config file's gateways; an absent file is an empty config."""
    path = config_path(env)
    if path not in _cache:
        _cache[path] = _read(path, explicit=bool(env.get("LLMCLI_CONFIG")))
    return _cache[path]


def _read(path: Path, *, explicit: bool) -> Config:
    try:
        with open(path, "rb") as f:
            raw = f.read(LIMIT + 1)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: no such config file (LLMCLI_CONFIG)") from None
        return Config(path)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(raw) > LIMIT:
        raise ConfigError(f"{path}: larger than 64 MiB, not a config file")
    try:
        text = raw.decode("utf-8").replace("\r\n", "\n")  # as a text-mode read would
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        found = re.search(r"\(at line (\d+), column (\d+)\)$", str(e))
        where = f"{path}:{found[1]}:{found[2]}" if found else str(path)
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(e))
        raise ConfigError(f"{where}: {message}") from None
    return _parse(path, text, table)


def _line_of(text: str, pattern: str) -> str:
    """``:N`` for the first line that matches, or nothing: a line number is only given
    when it can be found, never guessed."""
    found = re.search(pattern, text, re.M)
    return f":{text.count(chr(10), 0, found.start()) + 1}" if found else ""


def _key_line(text: str, key: str, start: int) -> str:
    """``:N`` of the first line from line ``start`` on that sets ``key`` (bare or quoted)."""
    quoted = "|".join(re.escape(q + key + q) for q in ("", '"', "'"))
    for found in re.finditer(rf"^[ \t]*(?:{quoted})[ \t]*=", text, re.M):
        number = text.count("\n", 0, found.start()) + 1
        if number >= start:
            return f":{number}"
    return ""


def _suggest(key: str, known: Iterable[str]) -> str:
    """`` (did you mean 'model'?)`` for a key one typo away from a known one."""
    import difflib  # only on this error path

    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _table_line(text: str, name: str, section: str = "gateways") -> str:
    """Where ``[gateways.NAME]`` (``[templates.NAME]``) starts: its header, or else
    ``gateways.NAME.key = …`` or ``NAME = {…}`` (an inline table under ``[gateways]``), or
    ``gateways = {…}``."""
    quoted = "|".join(re.escape(q + name + q) for q in ("", '"', "'"))
    header = rf"^[ \t]*\[[ \t]*{section}[ \t]*\.[ \t]*(?:{quoted})[ \t]*\]"
    inline = (
        rf"^[ \t]*(?:{section}[ \t]*\.[ \t]*(?:{quoted})[ \t]*[.=]|(?:{quoted})[ \t]*=[ \t]*\{{)"
    )
    whole = rf"^[ \t]*{section}[ \t]*="
    return _line_of(text, header) or _line_of(text, inline) or _line_of(text, whole)


def _parse(path: Path, text: str, data: dict[str, Any]) -> Config:
    settings = ("default_gateway", "gateways", "templates")
    unknown = set(data) - set(settings)
    if unknown:
        key = sorted(unknown)[0]
        line = _key_line(text, key, 1)
        raise ConfigError(f"{path}{line}: unknown setting {key!r}{_suggest(key, settings)}")
    default = data.get("default_gateway")
    if default is not None and not isinstance(default, str):
        line = _line_of(text, r"^[ \t]*default_gateway[ \t]*=")
        raise ConfigError(
            f"{path}{line}: default_gateway must be a string, not {type_name(default)}"
        )
    tables = data.get("gateways", {})
    if not isinstance(tables, dict):
        line = _line_of(text, r"^[ \t]*gateways[ \t]*=")
        raise ConfigError(f"{path}{line}: gateways must be a table, not {type_name(tables)}")
    gateways: dict[str, Gateway] = {}
    for name in tables:
        _build(path, text, tables, name, gateways, ())
    warnings: tuple[str, ...] = ()
    if any(g.api_key for g in gateways.values()) and _readable_by_others(path):
        warnings = (f"warning: {path} holds an API key and others can read it: chmod 600 {path}",)
    return Config(path, default, gateways, warnings, _templates(path, text, data))


def _templates(path: Path, text: str, data: dict[str, Any]) -> dict[str, Template]:
    """The ``[templates.NAME]`` tables."""
    tables = data.get("templates", {})
    if not isinstance(tables, dict):
        line = _line_of(text, r"^[ \t]*templates[ \t]*=")
        raise ConfigError(f"{path}{line}: templates must be a table, not {type_name(tables)}")
    found: dict[str, Template] = {}
    for name, table in tables.items():
        line = _table_line(text, name, "templates")
        start = int(line[1:] or 1)

        def line_of(key: str, start: int = start, line: str = line) -> str:
            return f"{path}{_key_line(text, key, start) or line}"

        found[name] = build(name, table, f"{path}{line}", path.parent, line_of)
    return found


def _readable_by_others(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def _build(
    path: Path,
    text: str,
    tables: dict[str, Any],
    name: str,
    done: dict[str, Gateway],
    chain: tuple[str, ...],
) -> Gateway:
    from llmcli.config.builtin import BUILTINS

    if name in done:
        return done[name]
    line = _table_line(text, name)
    where = f"{path}{line}: [gateways.{name}]"
    if name in chain:
        raise ConfigError(f"{where}: extends itself ({' -> '.join((*chain, name))})")
    table = tables[name]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}{line}: gateways.{name} must be a table, not {type_name(table)}")
    if unknown := sorted(set(table) - KEYS):
        key = unknown[0]
        own = _key_line(text, key, int(line[1:] or 1)) or line  # its own line, when found
        raise ConfigError(
            f"{path}{own}: [gateways.{name}]: unknown key {key!r}{_suggest(key, KEYS)}"
        )
    fields = gateway_fields(where, table)
    parent_name = table.get("extends", name if name in BUILTINS else None)
    if parent_name is None:
        base = Gateway(name)
    elif parent_name in tables and parent_name != name:
        base = _build(path, text, tables, parent_name, done, (*chain, name))
    elif parent_name in BUILTINS:
        base = BUILTINS[parent_name]
    else:
        raise ConfigError(f"{where}: extends unknown gateway {parent_name!r}")
    if parent_name is None and "auth" not in fields:
        # a gateway of its own sends a key only when it says where the key comes from
        keyed = {"api_key_env", "api_key_file", "api_key_cmd", "api_key"} & set(table)
        fields["auth"] = "bearer" if keyed else "none"
    gateway = replace(base, name=name, source=str(path), **fields)
    done[name] = gateway
    return gateway
