"""LLMProvider: an LLM endpoint used to enhance tool descriptions."""

from typing import Any, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from .base import Name, Resource, ResourceStatus, Strict, ValueSource, reject_inline_secret

ProviderType = Literal[
    "openai", "anthropic", "azure-openai", "google", "ollama", "openai-compatible", "builtin"
]
NEEDS_API_KEY = {"openai", "anthropic", "azure-openai", "google"}
NEEDS_ENDPOINT = {"azure-openai", "openai-compatible"}
EMBEDDING_TYPES = frozenset({"openai", "azure-openai", "openai-compatible", "ollama"})
"""Provider types whose API also serves embeddings (for `find_tools` ranking)."""


class Pricing(Strict):
    """Price per million tokens, in the budget's currency."""

    input_per_million_tokens: float = Field(default=0, ge=0)
    """Price of a million prompt tokens."""
    output_per_million_tokens: float = Field(default=0, ge=0)
    """Price of a million completion tokens."""


class ProviderRateLimit(Strict):
    """Client-side limits on calls to the provider."""

    requests_per_minute: int | None = Field(default=None, ge=1)
    """Requests per minute."""
    tokens_per_minute: int | None = Field(default=None, ge=1)
    """Tokens (prompt + completion) per minute."""


class Budget(Strict):
    """Spending caps; enhancement stops with a clear status once one is reached."""

    daily: float | None = Field(default=None, ge=0)
    """Maximum spend per UTC day."""
    monthly: float | None = Field(default=None, ge=0)
    """Maximum spend per calendar month."""


class LLMProviderSpec(Strict):
    """Desired state of a provider."""

    type: ProviderType
    """Wire format: openai, anthropic, azure-openai, google, ollama, openai-compatible, builtin."""
    endpoint: str | None = Field(default=None, pattern=r"^https?://")
    """Base URL; each type has a default except azure-openai and openai-compatible."""
    model: str | None = Field(default=None, min_length=1)
    """Model name (deployment name for azure-openai)."""
    api_key: ValueSource | None = None
    """Where the API key is kept; never the key itself."""
    api_version: str | None = None
    """API version (azure-openai)."""
    pricing: Pricing = Field(default_factory=Pricing)
    """Token prices used for cost accounting and budgets."""
    rate_limit: ProviderRateLimit | None = None
    """Client-side rate limits."""
    budget: Budget | None = None
    """Spending caps."""
    timeout_seconds: float = Field(default=60, gt=0, le=3600)
    """Timeout of one request."""
    max_concurrency: int = Field(default=4, ge=1, le=256)
    """Requests in flight at once."""
    fallback_ref: Name | None = None
    """Provider used when this one fails or its budget is spent."""

    @field_validator("api_key", mode="before")
    @classmethod
    def _no_inline_key(cls, value: Any) -> Any:
        return reject_inline_secret(value)

    @model_validator(mode="after")
    def _required_by_type(self) -> Self:
        if self.type in NEEDS_API_KEY and self.api_key is None:
            raise ValueError(f"type {self.type} needs apiKey (secretKeyRef or env)")
        if self.type in NEEDS_ENDPOINT and self.endpoint is None:
            raise ValueError(f"type {self.type} needs endpoint")
        if self.type != "builtin" and self.model is None:
            raise ValueError(f"type {self.type} needs model")
        return self


class LLMProvider(Resource):
    """An LLM endpoint for enhancements."""

    kind_name: ClassVar[str] = "LLMProvider"
    plural: ClassVar[str] = "llmproviders"
    short_names: ClassVar[tuple[str, ...]] = ("llmp",)

    kind: Literal["LLMProvider"] = "LLMProvider"
    """Always `LLMProvider`."""
    spec: LLMProviderSpec
    """Desired state."""
    status: ResourceStatus | None = None
    """Observed state (written by the controller)."""
