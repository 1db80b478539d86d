"""Gateways: where requests go, how they authenticate, and what they default to.

Precedence (DESIGN.md, "Gateways and configuration"): flags > environment > config file >
built-in. A base URL includes the version prefix; each endpoint's path is appended to it,
unless the gateway names a URL for that endpoint (seed 000 serves chat at a bare
``api.php``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from llmcli.errors import ConfigError, UsageError

Auth = Literal["none", "bearer", "x-api-key"]
Endpoint = Literal["chat", "models", "embeddings", "messages"]
ENDPOINT_PATHS: Mapping[str, str] = {
    "chat": "/chat/completions",
    "models": "/models",
    "embeddings": "/embeddings",
    "messages": "/messages",
}
ALL_ENDPOINTS = frozenset(ENDPOINT_PATHS)
MOCK = "mock"


@dataclass(frozen=True, slots=True)
class Gateway:
    name: str
    base_url: str = ""
    urls: Mapping[str, str] = field(default_factory=dict)
    auth: Auth = "bearer"
    key_env: tuple[str, ...] = ()
    key_file: str | None = None
    key_cmd: str | None = None
    model: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    endpoints: frozenset[str] = ALL_ENDPOINTS
    #: "openai" sends ``reasoning_effort``; "openrouter" sends ``reasoning: {effort}``.
    reasoning_style: Literal["openai", "openrouter"] = "openai"
    #: the key is optional: send it when found, no auth header when not.
    key_optional: bool = False

    def url(self, endpoint: str) -> str:
        if endpoint not in self.endpoints:
            offered = ", ".join(sorted(self.endpoints))
            raise ConfigError(
                f"gateway {self.name!r} has no {endpoint} endpoint (it offers: {offered})"
            )
        if endpoint in self.urls:
            return self.urls[endpoint]
        if not self.base_url:
            raise ConfigError(f"gateway {self.name!r} has no base_url")
        return self.base_url.rstrip("/") + ENDPOINT_PATHS[endpoint]


BUILTINS: Mapping[str, Gateway] = {
    g.name: g
    for g in (
        Gateway(MOCK, auth="none", model="echo"),
        Gateway(
            "openai",
            base_url="https://api.openai.com/v1",
            key_env=("OPENAI_API_KEY",),
            model="gpt-4o-mini",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Resolved:
    """A gateway with its key looked up and its model chosen."""

    gateway: Gateway
    key: str | None
    model: str | None


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def select(name: str | None, base_url: str | None, env: Mapping[str, str] | None = None) -> Gateway:
    """The gateway the flags and environment ask for."""
    env = os.environ if env is None else env
    if name is None:  # a -g flag is not overridden by a base URL from the environment
        base_url = base_url or _env(env, "LLMCLI_BASE_URL")
        name = _env(env, "LLMCLI_GATEWAY")
    if name is None and base_url is None:
        base_url = _env(env, "OPENAI_BASE_URL")
        name = None if base_url else "openai"
    if name is None:
        return Gateway(
            "custom", base_url=base_url or "", key_env=("OPENAI_API_KEY",), key_optional=True
        )
    gateway = BUILTINS.get(name)
    if gateway is None:
        known = ", ".join(sorted(BUILTINS))
        raise ConfigError(f"unknown gateway {name!r} (known: {known})")
    if base_url:
        gateway = replace(gateway, base_url=base_url, urls={})
    return gateway


def read_key(
    gateway: Gateway, env: Mapping[str, str] | None = None, *, required: bool = True
) -> str | None:
    """The API key: ``LLMCLI_API_KEY``, then the gateway's variables, file or command."""
    env = os.environ if env is None else env
    if gateway.auth == "none":
        return None
    key = _env(env, "LLMCLI_API_KEY")
    for var in gateway.key_env:
        key = key or _env(env, var)
    if key is None and gateway.key_file:
        path = os.path.expanduser(gateway.key_file)
        try:
            with open(path, encoding="utf-8") as f:
                key = f.read().strip() or None
        except OSError as e:
            raise ConfigError(
                f"gateway {gateway.name!r}: api_key_file {path}: {e.strerror}"
            ) from None
    if key is None and gateway.key_cmd:
        key = _run_key_cmd(gateway)
    if key is None and required and not gateway.key_optional:
        where = " or ".join(["LLMCLI_API_KEY", *gateway.key_env])
        raise ConfigError(f"no API key for gateway {gateway.name!r}: set {where}")
    return key


def _run_key_cmd(gateway: Gateway) -> str | None:
    assert gateway.key_cmd is not None
    try:
        done = subprocess.run(
            gateway.key_cmd, shell=True, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"gateway {gateway.name!r}: api_key_cmd failed: {e}") from None
    if done.returncode != 0:
        raise ConfigError(f"gateway {gateway.name!r}: api_key_cmd exited {done.returncode}")
    return done.stdout.strip() or None


def resolve(
    name: str | None,
    base_url: str | None,
    model: str | None,
    env: Mapping[str, str] | None = None,
    *,
    require_key: bool = True,
) -> Resolved:
    env = os.environ if env is None else env
    gateway = select(name, base_url, env)
    if gateway.name != MOCK and not gateway.base_url and not gateway.urls:
        raise UsageError("no gateway: pass -g NAME or --base-url URL")
    chosen = model or _env(env, "LLMCLI_MODEL") or gateway.model
    return Resolved(gateway, read_key(gateway, env, required=require_key), chosen)
