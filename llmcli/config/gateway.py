"""What a gateway is: where requests go, how they authenticate, what they default to.

A leaf: every other part of ``llmcli.config`` imports it, it imports none of them. A base
URL includes the version prefix; each endpoint's path is appended to it, unless the
gateway gives that endpoint a path of its own (seed 000 serves chat at a bare
``api.php``) or a whole URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from llmcli.errors import ConfigError

Auth = Literal["none", "bearer", "x-api-key"]
ENDPOINT_PATHS: Mapping[str, str] = {
    "chat": "/chat/completions",
    "models": "/models",
    "embeddings": "/embeddings",
    "messages": "/messages",
    "responses": "/responses",
}
ALL_ENDPOINTS = frozenset(ENDPOINT_PATHS)
#: the provider batch APIs llmcli speaks: OpenAI's Files + Batches, Anthropic's Message Batches
BATCH_APIS = ("openai", "anthropic")
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
    #: model -> {input, output, cached?, reasoning?}: USD per million tokens (config file)
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    endpoints: frozenset[str] = ALL_ENDPOINTS
    #: "openai" sends ``reasoning_effort``; "openrouter" sends ``reasoning: {effort}``.
    reasoning_style: Literal["openai", "openrouter"] = "openai"
    #: the provider batch APIs it offers under base_url (``llmcli batch submit``)
    batch_apis: frozenset[str] = frozenset()
    #: the key is optional: send it when found, no auth header when not.
    key_optional: bool = False
    #: an ecosystem variable that moves this gateway (OPENAI_BASE_URL, ANTHROPIC_BASE_URL)
    base_url_env: str | None = None
    description: str = ""
    source: str = "built-in"
    #: "GATEWAY" or "GATEWAY:MODEL": asked in order when a request fails before any output
    fallback: tuple[str, ...] = ()

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

    def at(self, path: str) -> str:
        """The URL of ``path`` under base_url (the batch APIs: ``/batches/ID``)."""
        if not self.base_url:
            raise ConfigError(f"gateway {self.name!r} has no base_url")
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def moved(self, base_url: str) -> Gateway:
        """The same gateway at another base URL; whole-URL endpoints are dropped."""
        paths = {k: v for k, v in self.paths.items() if "://" not in v}
        return replace(self, base_url=base_url, paths=paths)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A gateway with its key looked up and its model chosen."""

    gateway: Gateway
    key: str | None
    model: str | None
