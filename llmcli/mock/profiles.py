"""Gateway profiles (how the offline gateway looks on the wire) and request records.

``mock`` is the gateway's own face. The others imitate the five seed gateways
(``/work/shared/seeds/``: 000 lumiltc, 001 lumenfall, 002 lumyx, 003 llmbase, 004
lumyxai) and two real APIs llmcli has built in (``anthropic``, ``openrouter``): the same
paths, auth, error shapes, extra fields and headers, so that ``llmcli chat -g NAME
--base-url <RunningGateway.base_url>`` talks to them as it would to the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .catalog import (
    ANTHROPIC_MODELS,
    LLMBASE_MODELS,
    LUMENFALL_MODELS,
    LUMILTC_MODELS,
    LUMYX_MODELS,
    LUMYXAI_MODELS,
    MOCK_MODELS,
    OPENROUTER_MODELS,
    ModelInfo,
)

__all__ = ["ENDPOINT_PATHS", "PROFILES", "Profile", "RecordedRequest", "resolve"]

#: endpoint name -> its path under the prefix, unless a profile's ``paths`` says otherwise
ENDPOINT_PATHS = {
    "chat": "/chat/completions",
    "models": "/models",
    "embeddings": "/embeddings",
    "messages": "/messages",
    "responses": "/responses",
}
ALL = frozenset(ENDPOINT_PATHS)
OPENAI_FAMILY = frozenset({"chat", "models", "embeddings"})
#: the seed gateways document no /responses
NO_RESPONSES = ALL - {"responses"}
BATCH_APIS = frozenset({"openai", "anthropic"})
NO_BATCHES: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Profile:
    """How a gateway looks on the wire. ``Profile(name)`` is the mock gateway's face.

    - ``prefix``: the base path; ``base_url`` is ``http://host:port`` + prefix.
    - ``endpoints``: the endpoints served (``chat``, ``models``, ``embeddings``,
      ``messages``, ``responses``), at ``prefix + ENDPOINT_PATHS[e]`` unless ``paths``
      (pairs of endpoint, path under the prefix) moves one. Other paths answer 404.
    - ``auth``: ``"none"`` (anything accepted, nothing required), ``"bearer"``
      (``Authorization: Bearer <non-empty>``), ``"x-api-key"`` (a non-empty ``x-api-key``)
      or ``"either"`` (one of the two); ``messages_auth`` overrides it on ``/messages``.
      ``version_header``: a header every request must carry (400 otherwise).
    - ``errors``: the error body shape: ``"openai"`` (``{"error": {message, type, code}}``,
      Anthropic's shape on ``/messages``), ``"llmbase"`` (no ``code``), ``"lumyxai"`` (the
      seed's type per status, on every endpoint) or ``"anthropic"`` (everywhere).
    - ``models``: what ``/models`` lists (the mock models are accepted anyway);
      ``models_shape``: ``"openai"``, ``"openrouter"`` (OpenAI's fields and ``name``,
      ``context_length``, ``pricing`` in USD per token, module ``pricing``), ``"lumyxai"``
      (``_meta``) or ``"anthropic"``; ``strip_model_prefix``: a model id prefix dropped
      before the lookup.
    - ``reasoning``: the message fields reasoning comes in: ``"all"`` (``reasoning``,
      ``reasoning_content`` and ``reasoning_details`` with ``format``/``index``),
      ``"openrouter"`` (``reasoning`` + ``reasoning_details``), ``"reasoning_content"``
      (GLM style) or ``"lumyx"`` (all three, ``reasoning_details`` items as
      ``{type, text}``, streamed once after the reasoning text).
    - ``null_fields``: the message always has ``tool_calls`` and ``reasoning_content``,
      ``null`` when there are none; ``context_total``: adds top-level ``context_total``
      and ``context_left`` (total minus total tokens; streamed on the finish chunk).
    - ``usage_in_final_chunk``: every stream carries ``usage`` on its finish chunk.
    - ``usage_cost``: OpenRouter's usage accounting (``cost`` in USD, ``is_byok``,
      ``cost_details`` and, on chat, the token details) in every chat and Responses
      usage, whole or streamed (module ``pricing``).
    - ``processing_comment``: every stream starts with ``: OPENROUTER PROCESSING``.
    - ``empty_balance_key``: a key answered ``402 Payment Required``.
    - ``rate_limit``: every response carries ``x-ratelimit-*-requests`` headers, the
      remaining count going down by one per request from this limit (floor 0).
    - ``batches``: the batch APIs served (``batches``): ``"openai"`` (``/files``,
      ``/batches``) and ``"anthropic"`` (``/messages/batches``); their paths are 404
      without.
    """

    name: str
    prefix: str = "/v1"
    auth: str = "none"
    endpoints: frozenset[str] = ALL
    paths: tuple[tuple[str, str], ...] = ()
    messages_auth: str | None = None
    version_header: str | None = None
    errors: str = "openai"
    models: tuple[ModelInfo, ...] = MOCK_MODELS
    models_shape: str = "openai"
    strip_model_prefix: str | None = None
    reasoning: str = "all"
    null_fields: bool = False
    context_total: int | None = None
    usage_in_final_chunk: bool = False
    usage_cost: bool = False
    processing_comment: bool = False
    empty_balance_key: str | None = None
    rate_limit: int | None = None
    batches: frozenset[str] = BATCH_APIS

    def path(self, endpoint: str) -> str | None:
        """The path of ``endpoint`` under the prefix, or None when it is not served."""
        if endpoint not in self.endpoints:
            return None
        return dict(self.paths).get(endpoint, ENDPOINT_PATHS[endpoint])

    def endpoint(self, path: str) -> str | None:
        """Which endpoint a request path (without the query string) is, if any."""
        prefix = self.prefix.rstrip("/")
        if not path.startswith(prefix + "/"):
            return None
        rest = path[len(prefix) :]
        return next((e for e in sorted(self.endpoints) if self.path(e) == rest), None)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received: header names lower-cased, body as raw bytes, the
    ``x-request-id`` its answer carried, and when it was read (``time.monotonic()``,
    real time: the gap between two requests is what the client waited, measured where
    its start-up and the test's own pace do not count)."""

    method: str
    path: str  # as sent, query string included
    headers: dict[str, str]
    body: bytes
    request_id: str = ""
    received: float = field(default=0.0, compare=False)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("mock"),
        # seed 000: chat only, at a bare /api.php; no auth; GLM's enable_thinking switch
        Profile(
            "lumiltc",
            prefix="",
            endpoints=frozenset({"chat"}),
            paths=(("chat", "/api.php"),),
            models=LUMILTC_MODELS,
            reasoning="reasoning_content",
            batches=NO_BATCHES,
        ),
        # seed 001: OpenRouter behind /openai/v1; openrouter/ model prefix optional;
        # OpenRouter's usage accounting (its /models, were it served, OpenRouter's too)
        Profile(
            "lumenfall",
            prefix="/openai/v1",
            auth="bearer",
            endpoints=frozenset({"chat"}),
            models=LUMENFALL_MODELS,
            models_shape="openrouter",
            strip_model_prefix="openrouter/",
            reasoning="openrouter",
            usage_cost=True,
            processing_comment=True,
            batches=NO_BATCHES,
        ),
        # seed 002: context_left/context_total, null fields, 402 on an empty balance
        Profile(
            "lumyx",
            auth="bearer",
            endpoints=frozenset({"chat"}),
            models=LUMYX_MODELS,
            reasoning="lumyx",
            null_fields=True,
            context_total=2_000_000,
            empty_balance_key="nova_empty_balance",
            batches=NO_BATCHES,
        ),
        # seed 003: usage on the final chunk of every stream; its own 404 body
        Profile(
            "llmbase",
            auth="bearer",
            endpoints=frozenset({"chat", "models"}),
            errors="llmbase",
            models=LLMBASE_MODELS,
            usage_in_final_chunk=True,
            batches=NO_BATCHES,
        ),
        # seed 004: OpenAI and Anthropic endpoints side by side; _meta; rate-limit headers
        Profile(
            "lumyxai",
            prefix="/api/v1",
            auth="bearer",
            endpoints=NO_RESPONSES,
            messages_auth="either",
            errors="lumyxai",
            models=LUMYXAI_MODELS,
            models_shape="lumyxai",
            reasoning="reasoning_content",
            rate_limit=25,
            batches=NO_BATCHES,
        ),
        # the Anthropic API: x-api-key and anthropic-version on every request
        Profile(
            "anthropic",
            auth="x-api-key",
            endpoints=frozenset({"messages", "models"}),
            version_header="anthropic-version",
            errors="anthropic",
            models=ANTHROPIC_MODELS,
            models_shape="anthropic",
            batches=frozenset({"anthropic"}),
        ),
        # OpenRouter: processing comments, reasoning + reasoning_details, prices per
        # token on /models, cost in every usage
        Profile(
            "openrouter",
            prefix="/api/v1",
            auth="bearer",
            endpoints=OPENAI_FAMILY | {"responses"},
            models=OPENROUTER_MODELS,
            models_shape="openrouter",
            reasoning="openrouter",
            usage_cost=True,
            processing_comment=True,
            batches=NO_BATCHES,
        ),
    )
}


def resolve(profile: str | Profile) -> Profile:
    """A profile by name (or the profile itself)."""
    if isinstance(profile, Profile):
        return profile
    found = PROFILES.get(profile)
    if found is None:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown gateway profile {profile!r} (known: {known})")
    return found
