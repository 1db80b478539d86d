"""The model catalogs of the gateway profiles: which models each one serves (data only).

Every model a profile serves is an alias of one deterministic model of ``models``
(``echo``, ``lorem``, ``think``, ``tools``, ``unicode``, or an embedding model), except
``glm``: seed 000's ``z-ai/glm5`` thinks only when ``chat_template_kwargs.enable_thinking``
is true. The mock models are accepted by every profile, listed or not. Model ids and
the ``_meta`` fields (``tags``, ``pricing`` …) are the seeds' own.

What the chat models answer (``fake_models``): ``echo`` the prompt, ``lorem`` words of
lorem ipsum, ``think`` reasoning then the prompt, ``unicode`` a fixed non-ASCII text;
``tools`` calls every function tool the request offers (``tool_choice`` none: answers
as ``echo``; a named tool: that one only), its arguments made from the tool's JSON
Schema, ``get_weather`` and ``get_time`` when none is offered, and answers ``tool said:
`` and the tool results ending the conversation (after ``mock_tool_rounds`` rounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .profiles import Profile

__all__ = [
    "ANTHROPIC_MODELS",
    "CHAT_MODELS",
    "CREATED",
    "EMBED_MODELS",
    "LLMBASE_MODELS",
    "LUMENFALL_MODELS",
    "LUMILTC_MODELS",
    "LUMYXAI_MODELS",
    "LUMYX_MODELS",
    "MOCK_MODELS",
    "OPENROUTER_MODELS",
    "ModelInfo",
]

CREATED = 1700000000
CHAT_MODELS = ("echo", "lorem", "think", "tools", "unicode")
EMBED_MODELS = {"embed-small": 8, "embed-large": 64}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model a profile serves; ``behaves`` names the deterministic model that answers.

    ``behaves`` is a chat model of ``models``, ``"glm"`` (``think`` with
    ``chat_template_kwargs.enable_thinking: true``, else ``echo``) or ``"embed"`` (then
    ``dims`` is the vector size). The rest is what ``/models`` shows.
    """

    id: str
    behaves: str
    dims: int = 0
    owned_by: str = "llmcli-mock"
    display_name: str = ""
    description: str = ""
    context_window: int = 0
    tags: tuple[str, ...] = ()
    price_in: float = 0.0  # per million tokens
    price_out: float = 0.0
    free: bool = False
    created: int = CREATED


MOCK_MODELS: tuple[ModelInfo, ...] = (
    *(ModelInfo(m, m) for m in CHAT_MODELS),
    *(ModelInfo(m, "embed", dims) for m, dims in EMBED_MODELS.items()),
)
_MOCK_CHAT = MOCK_MODELS[: len(CHAT_MODELS)]

# seed 000
LUMILTC_MODELS = (ModelInfo("z-ai/glm5", "glm", owned_by="z-ai"),)
# seed 001 (an ``openrouter/`` prefix is stripped before the lookup); OpenRouter's
# prices, which its usage accounting charges (USD per million tokens)
LUMENFALL_MODELS = (
    ModelInfo(
        "google/gemini-3-flash-preview",
        "echo",
        owned_by="google",
        display_name="Google: Gemini 3 Flash Preview",
        context_window=1048576,
        price_in=0.5,
        price_out=3.0,
    ),
    ModelInfo(
        "openai/gpt-5.4",
        "think",
        owned_by="openai",
        display_name="OpenAI: GPT-5.4",
        context_window=1050000,
        price_in=2.5,
        price_out=15.0,
    ),
)
# seed 002: nova_1_1 (standard), nova_2_0 (advanced reasoning), nova_2_1 (code generation)
LUMYX_MODELS = (
    ModelInfo("nova_1_1", "echo", owned_by="lumyx"),
    ModelInfo("nova_2_0", "think", owned_by="lumyx"),
    ModelInfo("nova_2_1", "tools", owned_by="lumyx"),
)
# seed 003
LLMBASE_MODELS = (ModelInfo("zai-org/glm-5", "echo", owned_by="zai-org"), *_MOCK_CHAT)


def _lumyx(
    id_: str,
    behaves: str,
    name: str,
    description: str,
    window: int,
    tags: tuple[str, ...],
    price: tuple[float, float],
    dims: int = 0,
) -> ModelInfo:
    return ModelInfo(
        id_,
        behaves,
        dims,
        owned_by="lumyxai",
        display_name=name,
        description=description,
        context_window=window,
        tags=tags,
        price_in=price[0],
        price_out=price[1],
        free=price == (0.0, 0.0),
    )


# seed 004: capabilities as ``_meta.tags``; one free model
LUMYXAI_MODELS = (
    _lumyx(
        "lumyx-plus_v1",
        "echo",
        "Lumyx Plus v1",
        "Flagship general model.",
        128000,
        ("streaming", "tools", "reasoning", "vision"),
        (0.5, 1.5),
    ),
    _lumyx(
        "lumyx-lite_v1",
        "echo",
        "Lumyx Lite v1",
        "Small and fast.",
        32000,
        ("streaming",),
        (0.0, 0.0),
    ),
    _lumyx(
        "lumyx-vision_v1",
        "echo",
        "Lumyx Vision v1",
        "Reads images.",
        64000,
        ("streaming", "vision"),
        (0.3, 0.9),
    ),
    _lumyx(
        "lumyx-think_v1",
        "think",
        "Lumyx Think v1",
        "Extended thinking before it answers.",
        200000,
        ("streaming", "reasoning"),
        (2.0, 8.0),
    ),
    _lumyx(
        "lumyx-tools_v1",
        "tools",
        "Lumyx Tools v1",
        "Function calling.",
        128000,
        ("streaming", "tools"),
        (1.0, 3.0),
    ),
    _lumyx(
        "lumyx-uncensored_v1",
        "echo",
        "Lumyx Uncensored v1",
        "Requires policy acceptance before use.",
        8192,
        ("uncensored",),
        (0.2, 0.2),
    ),
    _lumyx(
        "lumyx-embed_v1", "embed", "Lumyx Embed v1", "Text embeddings.", 8192, (), (0.02, 0.0), 16
    ),
)
ANTHROPIC_MODELS = (
    ModelInfo(
        "claude-sonnet-4-5",
        "echo",
        owned_by="anthropic",
        display_name="Claude Sonnet 4.5",
        created=1759104000,  # 2025-09-29
    ),
    *_MOCK_CHAT,
)
# OpenRouter's own models with its names, context lengths and prices (USD per million
# tokens; /models shows them per token); the mock models are free
OPENROUTER_MODELS = (
    ModelInfo(
        "openai/gpt-4o-mini",
        "echo",
        owned_by="openai",
        display_name="OpenAI: GPT-4o-mini",
        context_window=128000,
        price_in=0.15,
        price_out=0.6,
    ),
    ModelInfo(
        "deepseek/deepseek-r1",
        "think",
        owned_by="deepseek",
        display_name="DeepSeek: R1",
        context_window=163840,
        price_in=0.7,
        price_out=2.5,
    ),
    ModelInfo(
        "openai/text-embedding-3-small",
        "embed",
        32,
        owned_by="openai",
        display_name="OpenAI: Text Embedding 3 Small",
        context_window=8192,
        price_in=0.02,
    ),
    *MOCK_MODELS,
)


def find(profile: Profile, model: str) -> ModelInfo | None:
    """The model ``model`` of ``profile`` (a mock model when the profile does not list it)."""
    for info in (*profile.models, *MOCK_MODELS):
        if info.id == model:
            return info
    return None
