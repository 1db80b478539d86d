"""The user's config file: ``$XDG_CONFIG_HOME/llmcli/config.toml`` (``LLMCLI_CONFIG``).

::

    default_gateway = "work"

    [gateways.work]
    base_url = "http://127.0.0.1:8080/v1"
    api_key_env = "WORK_KEY"     # or api_key_file / api_key_cmd; none: no auth header
    model = "some-model"
    # optional: extends = "openai", embedding_model = "…", auth = "bearer" | "x-api-key" | "none",
    # headers = {…}, params = {…}, endpoints = [...], paths = {chat = "/api.php"},
    # reasoning_style = "openai" | "openrouter", description = "…"

A gateway named like a built-in one extends it. Errors name the file and line (exit 78).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmcli.config import ALL_ENDPOINTS, Gateway
from llmcli.errors import ConfigError

_STRINGS = (
    "base_url",
    "api_key_file",
    "api_key_cmd",
    "api_key",
    "model",
    "embedding_model",
    "description",
)
_KEYS = frozenset(
    {
        *_STRINGS,
        "extends",
        "api_key_env",
        "auth",
        "headers",
        "params",
        "endpoints",
        "paths",
        "reasoning_style",
    }
)
_CHOICES = {"auth": ("none", "bearer", "x-api-key"), "reasoning_style": ("openai", "openrouter")}


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    default_gateway: str | None = None
    gateways: Mapping[str, Gateway] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: no such config file (LLMCLI_CONFIG)") from None
        return Config(path)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        found = re.search(r"\(at line (\d+), column (\d+)\)$", str(e))
        where = f"{path}:{found[1]}:{found[2]}" if found else str(path)
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(e))
        raise ConfigError(f"{where}: {message}") from None
    return _parse(path, text, data)


def _line_of(text: str, name: str) -> int:
    header = re.compile(rf"^[ \t]*\[[ \t]*gateways\.\"?{re.escape(name)}\"?\s*\]", re.M)
    found = header.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _parse(path: Path, text: str, data: dict[str, Any]) -> Config:
    unknown = set(data) - {"default_gateway", "gateways"}
    if unknown:
        raise ConfigError(f"{path}: unknown setting {sorted(unknown)[0]!r}")
    default = data.get("default_gateway")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: default_gateway must be a string")
    tables = data.get("gateways", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: [gateways] must be a table of gateways")
    gateways: dict[str, Gateway] = {}
    for name in tables:
        _build(path, text, tables, name, gateways, ())
    warnings: tuple[str, ...] = ()
    if any(g.api_key for g in gateways.values()) and _readable_by_others(path):
        warnings = (f"warning: {path} holds an API key and others can read it: chmod 600 {path}",)
    return Config(path, default, gateways, warnings)


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
    from llmcli.builtins import BUILTINS

    if name in done:
        return done[name]
    where = f"{path}:{_line_of(text, name)}: [gateways.{name}]"
    if name in chain:
        raise ConfigError(f"{where}: extends itself ({' -> '.join((*chain, name))})")
    table = tables[name]
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    if unknown := sorted(set(table) - _KEYS):
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    parent_name = table.get("extends", name if name in BUILTINS else None)
    if parent_name is None:
        base = Gateway(name)
    elif parent_name in tables and parent_name != name:
        base = _build(path, text, tables, parent_name, done, (*chain, name))
    elif parent_name in BUILTINS:
        base = BUILTINS[parent_name]
    else:
        raise ConfigError(f"{where}: extends unknown gateway {parent_name!r}")
    fields = _fields(where, table)
    if parent_name is None and "auth" not in fields:
        # a gateway of its own sends a key only when it says where the key comes from
        keyed = {"api_key_env", "api_key_file", "api_key_cmd", "api_key"} & set(table)
        fields["auth"] = "bearer" if keyed else "none"
    gateway = replace(base, name=name, source=str(path), **fields)
    done[name] = gateway
    return gateway


def _fields(where: str, table: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in _STRINGS:
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigError(f"{where}: {key} must be a string")
            fields[{"api_key_file": "key_file", "api_key_cmd": "key_cmd"}.get(key, key)] = table[
                key
            ]
    for key, choices in _CHOICES.items():
        if key in table:
            if table[key] not in choices:
                raise ConfigError(f"{where}: {key} must be one of {', '.join(choices)}")
            fields[key] = table[key]
    if "api_key_env" in table:
        value = table["api_key_env"]
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{where}: api_key_env must be a variable name or a list")
        fields["key_env"] = tuple(names)
    for key in ("headers", "params", "paths"):
        if key in table:
            if not isinstance(table[key], dict):
                raise ConfigError(f"{where}: {key} must be a table")
            fields[key] = dict(table[key])
    if "endpoints" in table:
        endpoints = table["endpoints"]
        if not isinstance(endpoints, list) or not set(endpoints) <= ALL_ENDPOINTS:
            raise ConfigError(f"{where}: endpoints must be a list from {sorted(ALL_ENDPOINTS)}")
        fields["endpoints"] = frozenset(endpoints)
    return fields
