"""Gateways: where requests go, how they authenticate, and what they default to.

Precedence (DESIGN.md, "Gateways and configuration"): flags > environment > config file >
built-in. A base URL includes the version prefix; each endpoint's path is appended to it,
unless the gateway gives that endpoint a path of its own (seed 000 serves chat at a bare
``api.php``) or a whole URL. User gateways live in ``$XDG_CONFIG_HOME/llmcli/config.toml``
(``LLMCLI_CONFIG`` overrides) and may extend a built-in one; see ``llmcli.configfile``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from llmcli.config_schema import check_url
from llmcli.errors import ConfigError, UsageError
from llmcli.key_sources import read_key_file, run_key_cmd

Auth = Literal["none", "bearer", "x-api-key"]
ENDPOINT_PATHS: Mapping[str, str] = {
    "chat": "/chat/completions",
    "models": "/models",
    "embeddings": "/embeddings",
    "messages": "/messages",
}
ALL_ENDPOINTS = frozenset(ENDPOINT_PATHS)
MOCK = "mock"
CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Gateway:
    name: str
    base_url: str = ""
    #: endpoint → a path appended to base_url, or a whole URL
    paths: Mapping[str, str] = field(default_factory=dict)
    auth: Auth = "bearer"
    key_env: tuple[str, ...] = ()
    key_file: str | None = None
    key_cmd: str | None = None
    api_key: str | None = None  # written in the config file itself (discouraged)
    model: str | None = None
    embedding_model: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    endpoints: frozenset[str] = ALL_ENDPOINTS
    #: "openai" sends ``reasoning_effort``; "openrouter" sends ``reasoning: {effort}``.
    reasoning_style: Literal["openai", "openrouter"] = "openai"
    #: the key is optional: send it when found, no auth header when not.
    key_optional: bool = False
    #: an ecosystem variable that moves this gateway (OPENAI_BASE_URL, ANTHROPIC_BASE_URL)
    base_url_env: str | None = None
    description: str = ""
    source: str = "built-in"

    def url(self, endpoint: str) -> str:
        if endpoint not in self.endpoints:
            offered = ", ".join(sorted(self.endpoints))
            raise ConfigError(
                f"gateway {self.name!r} has no {endpoint} endpoint (it offers: {offered})"
            )
        path = self.paths.get(endpoint, ENDPOINT_PATHS[endpoint])
        if "://" in path:
            return path
        if not self.base_url:
            raise ConfigError(f"gateway {self.name!r} has no base_url")
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def moved(self, base_url: str) -> Gateway:
        """The same gateway at another base URL; whole-URL endpoints are dropped."""
        paths = {k: v for k, v in self.paths.items() if "://" not in v}
        return replace(self, base_url=base_url, paths=paths)

    def key_source(self) -> str:
        """Where the key comes from, for humans; never the key."""
        if self.auth == "none":
            return "none"
        sources = [f"${v}" for v in self.key_env]
        if self.key_file:
            sources.append(f"file {self.key_file}")
        if self.key_cmd:
            sources.append("api_key_cmd")
        if self.api_key:
            sources.append("config file")
        return " or ".join(["$LLMCLI_API_KEY", *sources])


@dataclass(frozen=True, slots=True)
class Resolved:
    """A gateway with its key looked up and its model chosen."""

    gateway: Gateway
    key: str | None
    model: str | None


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def known_gateways(env: Mapping[str, str] | None = None) -> dict[str, Gateway]:
    """Built-in gateways, then the user's (which may replace or extend them)."""
    from llmcli.builtins import BUILTINS
    from llmcli.configfile import load

    env = os.environ if env is None else env
    return {**BUILTINS, **load(env).gateways}


def gateway_names(env: Mapping[str, str] | None = None) -> tuple[list[str], ConfigError | None]:
    """Every gateway's name, for ``llmcli gateways --names`` and the shell completions.

    A broken config file must not break a completion: its error comes back beside the
    built-in names instead of being raised.
    """
    from llmcli.builtins import BUILTINS

    try:
        return list(known_gateways(env)), None
    except ConfigError as e:
        return list(BUILTINS), e


def select(
    name: str | None,
    base_url: str | None,
    env: Mapping[str, str] | None = None,
    *,
    fallback: str = "openai",
    base_url_source: str = "--base-url",
) -> Gateway:
    """The gateway the flags, environment and config file ask for; when none of them
    names one, ``fallback`` (``anthropic`` for the Messages API, as its ecosystem expects).
    A base URL that is not http(s) is refused naming where it came from: ``base_url_source``
    for ``base_url``, else the environment variable."""
    from llmcli.builtins import ALIASES, BUILTINS
    from llmcli.configfile import load

    env = os.environ if env is None else env
    source = base_url_source
    if name is None:  # a -g flag is not overridden by a base URL from the environment
        if not base_url and (base_url := _env(env, "LLMCLI_BASE_URL")):
            source = "LLMCLI_BASE_URL"
        name = _env(env, "LLMCLI_GATEWAY")
    config = load(env)
    if name is None and base_url is None:
        name = config.default_gateway
    ecosystem = name is None and base_url is None and fallback == "openai"
    if ecosystem and (base_url := _env(env, "OPENAI_BASE_URL")):
        source = "OPENAI_BASE_URL"
    if base_url:
        check_url(base_url, source)
    if name is None and base_url is None:
        name = fallback
    if name is None:
        return Gateway(
            CUSTOM, base_url=base_url or "", key_env=("OPENAI_API_KEY",), key_optional=True
        )
    name = ALIASES.get(name, name)
    gateways = {**BUILTINS, **config.gateways}
    gateway = gateways.get(name)
    if gateway is None:
        known = ", ".join(sorted(gateways))
        raise ConfigError(f"unknown gateway {name!r} (known: {known})")
    if base_url:
        return gateway.moved(base_url)
    if gateway.base_url_env and (moved := _env(env, gateway.base_url_env)):
        check_url(moved, gateway.base_url_env)
        return replace(gateway.moved(moved), key_optional=True)
    return gateway


def read_key(
    gateway: Gateway, env: Mapping[str, str] | None = None, *, required: bool = True
) -> str | None:
    """The API key: ``LLMCLI_API_KEY``, the gateway's variables, file, command, config."""
    env = os.environ if env is None else env
    if gateway.auth == "none":
        return None
    key = _env(env, "LLMCLI_API_KEY")
    for var in gateway.key_env:
        key = key or _env(env, var)
    if key is None and gateway.key_file:
        key = read_key_file(gateway.name, gateway.key_file)
    if key is None and gateway.key_cmd:
        key = run_key_cmd(gateway.name, gateway.key_cmd)
    key = (key or gateway.api_key or "").strip() or None
    if key is not None and (any(ord(c) < 0x20 or ord(c) == 0x7F for c in key) or not key.isascii()):
        raise ConfigError(
            f"the API key for gateway {gateway.name!r} has a line break, a control character "
            "or non-ASCII text in it: check where it comes from (`llmcli gateways`)"
        )
    if key is None and required and not gateway.key_optional:
        where = " or ".join(["LLMCLI_API_KEY", *gateway.key_env])
        raise ConfigError(f"no API key for gateway {gateway.name!r}: set {where}")
    return key


def resolve(
    name: str | None,
    base_url: str | None,
    model: str | None,
    env: Mapping[str, str] | None = None,
    *,
    require_key: bool = True,
    fallback: str = "openai",
) -> Resolved:
    env = os.environ if env is None else env
    gateway = select(name, base_url, env, fallback=fallback)
    if gateway.name != MOCK and not gateway.base_url and not gateway.paths:
        raise UsageError("no gateway: pass -g NAME or --base-url URL")
    chosen = model or _env(env, "LLMCLI_MODEL") or gateway.model
    return Resolved(gateway, read_key(gateway, env, required=require_key), chosen)
