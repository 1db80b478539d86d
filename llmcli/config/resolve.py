"""Which gateway a command talks to, with its key and model.

Precedence (DESIGN.md, "Gateways and configuration"): flags > environment > config file >
built-in. User gateways live in ``$XDG_CONFIG_HOME/llmcli/config.toml`` (``LLMCLI_CONFIG``
overrides) and may extend a built-in one; see ``llmcli.config.file``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from llmcli.config.builtin import ALIASES, BUILTINS
from llmcli.config.file import load
from llmcli.config.gateway import BATCH_APIS, CUSTOM, MOCK, Gateway, Resolved
from llmcli.config.keys import read_key
from llmcli.config.schema import check_url
from llmcli.errors import ConfigError, UsageError


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def known_gateways(env: Mapping[str, str] | None = None) -> dict[str, Gateway]:
    """Built-in gateways, then the user's (which may replace or extend them)."""
    env = os.environ if env is None else env
    return {**BUILTINS, **load(env).gateways}


def gateway_names(env: Mapping[str, str] | None = None) -> tuple[list[str], ConfigError | None]:
    """Every gateway's name, for ``llmcli gateways --names`` and the shell completions.

    A broken config file must not break a completion: its error comes back beside the
    built-in names instead of being raised.
    """
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
            _host(base_url) or CUSTOM,  # errors name the server: "cannot connect to host:port"
            base_url=base_url or "",
            source=CUSTOM,
            key_env=("OPENAI_API_KEY",),
            key_optional=True,
            batch_apis=frozenset(BATCH_APIS),  # unknown: let the server answer
        )
    name = ALIASES.get(name, name)
    gateways = {**BUILTINS, **config.gateways}
    gateway = gateways.get(name)
    if gateway is None:
        import difflib  # only on this error path

        known = ", ".join(sorted(gateways))
        close = difflib.get_close_matches(name, sorted(gateways), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown gateway {name!r}{hint} (known: {known})")
    if base_url:  # a server of the user's choosing: its key, when there is one, is optional
        return replace(gateway.moved(base_url), key_optional=True)
    return moved_by_env(gateway, env)


def _host(url: str | None) -> str:
    """``host:port`` of a URL, never its user or password."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url or "")
        host, port = parts.hostname, parts.port
    except ValueError:
        return ""
    if not host:
        return ""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def moved_by_env(gateway: Gateway, env: Mapping[str, str]) -> Gateway:
    """The gateway where its ecosystem variable (OPENAI_BASE_URL, ANTHROPIC_BASE_URL)
    moves it, as the SDKs do; such a server may need no key."""
    if gateway.base_url_env and (moved := _env(env, gateway.base_url_env)):
        check_url(moved, gateway.base_url_env)
        return replace(gateway.moved(moved), key_optional=True)
    return gateway


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
    try:
        key = read_key(gateway, env, required=require_key)
    except ConfigError as e:
        # nothing configured, nothing named: say how to try llmcli without a key
        named = name or base_url or _env(env, "LLMCLI_GATEWAY") or _env(env, "LLMCLI_BASE_URL")
        first_run = not named and gateway.name == fallback and not load(env).default_gateway
        if first_run and e.message.startswith("no API key"):
            e.message += "; or try llmcli offline first: -g mock"
        raise
    return Resolved(gateway, key, chosen)
