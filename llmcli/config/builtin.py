"""The gateways llmcli knows without a config file.

The five seed gateways exactly as their documents (``shared/seeds/``) describe them —
URL, auth, the key variable their examples use, example model, endpoints — and the usual
providers and local servers at their default loopback ports.
"""

from __future__ import annotations

from collections.abc import Mapping

from llmcli.config.gateway import MOCK, Gateway

OPENAI_FAMILY = frozenset({"chat", "models", "embeddings"})
#: servers that also answer the Responses API (/responses): OpenAI, OpenRouter, and the
#: local servers that implement the Open Responses specification
WITH_RESPONSES = OPENAI_FAMILY | {"responses"}

_ALL: tuple[Gateway, ...] = (
    Gateway(
        MOCK,
        auth="none",
        model="echo",
        embedding_model="embed-small",
        batch_apis=frozenset({"openai", "anthropic"}),
        description="offline gateway started in-process (llmcli serve); no key, no network",
    ),
    # seed 000: chat at a bare api.php, no auth header at all, chat_template_kwargs
    Gateway(
        "lumiltc",
        base_url="https://ai.lumiltc.dev",
        paths={"chat": "/api.php"},
        auth="none",
        model="z-ai/glm5",
        endpoints=frozenset({"chat"}),
        description="seed 000: OpenAI-compatible proxy at a bare api.php, no key",
    ),
    # seed 001: OpenRouter behind an OpenAI-compatible path; openrouter/ model prefix
    Gateway(
        "lumenfall",
        base_url="https://api.lumenfall.ai/openai/v1",
        key_env=("LUMENFALL_API_KEY",),
        model="google/gemini-3-flash-preview",
        endpoints=frozenset({"chat"}),
        reasoning_style="openrouter",
        description="seed 001: OpenRouter models through Lumenfall",
    ),
    # seed 002: 402 on an empty balance, conversation_id/memory, reasoning object
    Gateway(
        "lumyx",
        base_url="https://api.lumyx-ai.site/v1",
        key_env=("LUMYX_API_KEY",),
        model="nova_1_1",
        endpoints=frozenset({"chat"}),
        reasoning_style="openrouter",
        description="seed 002: nova models; 402 when the balance runs out",
    ),
    # seed 003: usage in the final chunk, 404 for unknown models, 502 to retry
    Gateway(
        "llmbase",
        base_url="https://api.llmbase.ai/v1",
        key_env=("LLMBASE_API_KEY",),
        model="zai-org/glm-5",
        endpoints=frozenset({"chat", "models"}),
        description="seed 003: OpenAI-compatible inference",
    ),
    # seed 004: OpenAI and Anthropic endpoints side by side, _meta on models
    Gateway(
        "lumyxai",
        base_url="https://lumyx-ai.site/api/v1",
        key_env=("LUMYXAI_API_KEY",),
        model="lumyx-plus_v1",
        embedding_model="lumyx-embed_v1",
        endpoints=frozenset({"chat", "messages", "models", "embeddings"}),
        description="seed 004: chat, messages, models with _meta, embeddings",
    ),
    Gateway(
        "openai",
        base_url="https://api.openai.com/v1",
        key_env=("OPENAI_API_KEY",),
        base_url_env="OPENAI_BASE_URL",
        model="gpt-4o-mini",
        embedding_model="text-embedding-3-small",
        endpoints=WITH_RESPONSES,
        batch_apis=frozenset({"openai"}),
        description="OpenAI",
    ),
    Gateway(
        "openrouter",
        base_url="https://openrouter.ai/api/v1",
        key_env=("OPENROUTER_API_KEY",),
        model="openai/gpt-4o-mini",
        embedding_model="openai/text-embedding-3-small",
        endpoints=WITH_RESPONSES,
        reasoning_style="openrouter",
        description="OpenRouter",
    ),
    Gateway(
        "anthropic",
        base_url="https://api.anthropic.com/v1",
        auth="x-api-key",
        key_env=("ANTHROPIC_API_KEY",),
        base_url_env="ANTHROPIC_BASE_URL",
        model="claude-sonnet-4-5",
        headers={"anthropic-version": "2023-06-01"},
        endpoints=frozenset({"messages", "models"}),
        batch_apis=frozenset({"anthropic"}),
        description="Anthropic Messages API",
    ),
    Gateway(
        "ollama",
        base_url="http://127.0.0.1:11434/v1",
        auth="none",
        endpoints=WITH_RESPONSES,
        description="Ollama on this machine",
    ),
    Gateway(
        "vllm",
        base_url="http://127.0.0.1:8000/v1",
        key_env=("VLLM_API_KEY",),
        key_optional=True,
        endpoints=WITH_RESPONSES,
        description="vLLM on this machine (key optional)",
    ),
    Gateway(
        "llamacpp",
        base_url="http://127.0.0.1:8080/v1",
        key_env=("LLAMA_API_KEY",),
        key_optional=True,
        endpoints=OPENAI_FAMILY,
        description="llama.cpp server on this machine (key optional)",
    ),
    Gateway(
        "lmstudio",
        base_url="http://127.0.0.1:1234/v1",
        auth="none",
        endpoints=WITH_RESPONSES,
        description="LM Studio on this machine",
    ),
)

BUILTINS: Mapping[str, Gateway] = {g.name: g for g in _ALL}
#: other spellings users type
ALIASES: Mapping[str, str] = {"llama.cpp": "llamacpp", "lm-studio": "lmstudio"}
