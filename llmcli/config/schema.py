"""What each key of the config file must hold, and what makes a base URL usable.

``tomllib`` hands back whatever the user wrote — ``headers = { X = 1 }``, ``paths = { chat
= 5 }``, ``endpoints = [[1]]`` — and a value of the wrong type must be a configuration error
(exit 78) that names the file, the line and the key, never a ``TypeError`` deep inside a
request. ``gateway_fields`` checks one ``[gateways.NAME]`` table, key by key in the order
the file gives them, and turns it into ``Gateway`` field values. ``check_url`` refuses a
base URL httpx could not send to (``ftp://``, no scheme, no host) wherever it comes from,
showing a password in it as ``***``. Pure: values in, values or ``ConfigError`` out.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from llmcli.config.gateway import BATCH_APIS
from llmcli.errors import ConfigError

ENDPOINTS = ("chat", "embeddings", "messages", "models", "responses")
#: config key → Gateway field, for the keys whose value is any string
STRINGS = {
    "base_url": "base_url",
    "api_key_file": "key_file",
    "api_key_cmd": "key_cmd",
    "api_key": "api_key",
    "model": "model",
    "embedding_model": "embedding_model",
    "description": "description",
}
CHOICES = {"auth": ("none", "bearer", "x-api-key"), "reasoning_style": ("openai", "openrouter")}
KEYS = frozenset(
    {
        *STRINGS,
        *CHOICES,
        "extends",
        "api_key_env",
        "headers",
        "params",
        "endpoints",
        "paths",
        "batch_api",
        "prices",
        "fallback",
    }
)
#: a [gateways.NAME.prices."MODEL"] table: USD per million tokens
PRICE_KEYS = ("input", "output", "cached", "reasoning")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # TOML bare key
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def type_name(value: object) -> str:
    """A TOML value's type, as the TOML spec names it, with its article."""
    if isinstance(value, bool):  # before int: a bool is an int to Python
        return "a boolean"
    names: tuple[tuple[type, str], ...] = (
        (str, "a string"),
        (int, "an integer"),
        (float, "a float"),
        (list, "an array"),
        (dict, "a table"),
        (datetime.datetime, "a date-time"),  # before date: a datetime is a date
        (datetime.date, "a date"),
        (datetime.time, "a time"),
    )
    return next((name for kind, name in names if isinstance(value, kind)), "a value")


def key_path(*parts: str | int) -> str:
    """A dotted TOML key as the user would write it: ``headers."X Y"``, ``endpoints[1]``."""
    shown = ""
    for part in parts:
        if isinstance(part, int):
            shown += f"[{part}]"
        else:
            word = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            shown += f".{word}" if shown else word
    return shown


def _wrong(where: str, key: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"{where}: {key} must be {expected}, not {type_name(value)}")


def _string(where: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise _wrong(where, key, "a string", value)
    return value


def _table(where: str, key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(where, key, "a table", value)
    return value


def gateway_fields(where: str, table: dict[str, Any]) -> dict[str, Any]:
    """``Gateway`` field values from one ``[gateways.NAME]`` table; ``where`` prefixes every
    message (``config.toml:4: [gateways.work]``). ``extends`` is checked, not returned."""
    fields: dict[str, Any] = {}
    for key, value in table.items():
        if key in STRINGS:
            fields[STRINGS[key]] = _string(where, key, value)
        elif key == "extends":
            _string(where, key, value)
        elif key in CHOICES:
            if _string(where, key, value) not in CHOICES[key]:
                raise ConfigError(f"{where}: {key} must be one of {', '.join(CHOICES[key])}")
            fields[key] = value
        elif key == "api_key_env":
            fields["key_env"] = _variables(where, value)
        elif key == "headers":
            fields["headers"] = _headers(where, _table(where, key, value))
        elif key == "params":
            fields["params"] = dict(_table(where, key, value))
        elif key == "paths":
            paths = _table(where, key, value)
            fields["paths"] = {k: _string(where, key_path(key, k), v) for k, v in paths.items()}
        elif key == "endpoints":
            fields["endpoints"] = _endpoints(where, value)
        elif key == "batch_api":
            fields["batch_apis"] = _batch_apis(where, value)
        elif key == "prices":
            fields["prices"] = _prices(where, _table(where, key, value))
        elif key == "fallback":
            fields["fallback"] = _fallback(where, value)
    if "base_url" in fields:
        check_url(fields["base_url"], f"{where}: base_url")
    for endpoint, path in fields.get("paths", {}).items():
        if "://" in path:
            check_url(path, f"{where}: {key_path('paths', endpoint)}")
    return fields


def _prices(where: str, table: dict[str, Any]) -> dict[str, dict[str, float]]:
    """``prices."MODEL" = {input, output, cached?, reasoning?}``: USD per million tokens."""
    prices = {}
    for model, entry in table.items():
        at = key_path("prices", model)
        entry = _table(where, at, entry)
        for name, number in entry.items():
            if name not in PRICE_KEYS:
                raise ConfigError(
                    f"{where}: {at}: unknown key {name!r} (prices are {', '.join(PRICE_KEYS)})"
                )
            if isinstance(number, bool) or not isinstance(number, int | float):
                what = "a number of USD per million tokens"
                raise _wrong(where, key_path("prices", model, name), what, number)
            if number < 0:
                raise ConfigError(f"{where}: {key_path('prices', model, name)} is negative")
        for name in ("input", "output"):
            if name not in entry:
                raise ConfigError(f"{where}: {at} needs {name} (USD per million tokens)")
        prices[model] = {k: float(v) for k, v in entry.items()}
    return prices


def _fallback(where: str, value: object) -> tuple[str, ...]:
    """``fallback``: gateways to ask, in order, when this one fails before any output: an
    array of ``"GATEWAY"`` or ``"GATEWAY:MODEL"`` (or one such string)."""
    if not isinstance(value, (str, list)):
        raise _wrong(where, "fallback", 'an array of "GATEWAY[:MODEL]" strings', value)
    names = [value] if isinstance(value, str) else value
    for i, name in enumerate(names):
        key = "fallback" if isinstance(value, str) else key_path("fallback", i)
        if not _string(where, key, name).partition(":")[0].strip():
            raise ConfigError(f"{where}: {key} must name a gateway: GATEWAY or GATEWAY:MODEL")
    return tuple(names)


def _variables(where: str, value: object) -> tuple[str, ...]:
    """``api_key_env``: one variable name or an array of them. A value that is no
    variable name is most likely the key itself, pasted in the wrong place: it is
    refused without being shown, since every "set $NAME" message would print it."""
    if not isinstance(value, (str, list)):
        raise _wrong(where, "api_key_env", "a variable name or an array of them", value)
    names = [value] if isinstance(value, str) else value
    for i, name in enumerate(names):
        key = "api_key_env" if isinstance(value, str) else key_path("api_key_env", i)
        if not _VARIABLE.fullmatch(_string(where, key, name)):
            raise ConfigError(
                f"{where}: {key} must be the name of an environment variable "
                "(letters, digits and _), not the key itself"
            )
    return tuple(names)


def _headers(where: str, table: dict[str, Any]) -> dict[str, str]:
    from llmcli.http.request import header_problem  # pure, and the one rule for a header

    headers = {}
    for name, value in table.items():
        if problem := header_problem(name, _string(where, key_path("headers", name), value)):
            raise ConfigError(f"{where}: headers: {problem}")
        headers[name] = value
    return headers


def _endpoints(where: str, value: object) -> frozenset[str]:
    if not isinstance(value, list):
        raise _wrong(where, "endpoints", "an array", value)
    for i, endpoint in enumerate(value):
        key = key_path("endpoints", i)
        if _string(where, key, endpoint) not in ENDPOINTS:
            raise ConfigError(f"{where}: {key} must be one of {', '.join(ENDPOINTS)}")
    return frozenset(value)


def url_problem(url: str) -> tuple[str, str | None] | None:
    """Why ``url`` cannot be a base URL, and what to do about it; None when it can."""
    from urllib.parse import urlsplit

    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "has a space or control character in it", None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [IPv6 literal
        return "is not a valid URL", None
    if parts.scheme not in ("http", "https"):
        hint = "put http:// or https:// in front" if url and "://" not in url else None
        return "is not an http:// or https:// URL", hint
    if not parts.hostname:
        return "has no host", None
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        return "has a bad port", None
    return None


def check_url(url: str, source: str) -> str:
    """``url`` when it is a usable base URL; else a ConfigError naming ``source`` (the
    flag, the variable or the config file's key) and the URL without its password."""
    if found := url_problem(url):
        from llmcli.redaction import redact_url

        problem, hint = found
        raise ConfigError(f"{source} {redact_url(url)!r} {problem}", hint=hint)
    return url


def _batch_apis(where: str, value: object) -> frozenset[str]:
    """``batch_api``: "openai", "anthropic", both in an array, or "none"."""
    if value == "none":
        return frozenset()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list):
        raise _wrong(where, "batch_api", "a string or an array", value)
    for i, name in enumerate(names):
        key = "batch_api" if isinstance(value, str) else key_path("batch_api", i)
        if _string(where, key, name) not in BATCH_APIS:
            raise ConfigError(f"{where}: {key} must be one of {', '.join(BATCH_APIS)} or none")
    return frozenset(names)
