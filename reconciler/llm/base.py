"""The small interface every LLM provider adapter implements, and what flows through it.

A provider turns one `CompletionRequest` (a system prompt, a user prompt and the JSON
schema the answer must follow) into one `Completion` (the answer's text and its token
counts). Adapters speak one wire format each and know nothing of tools, caches or budgets;
`resilient.ResilientClient` adds rate limits, retries and a circuit breaker around any of
them.

Errors are `ProviderError` (from `reconciler.core.errors`) with one of the reasons below;
`retryable` says whether trying the same provider again can help.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ..core.errors import ProviderError

RATE_LIMITED: Final = "ProviderRateLimited"
"""429 (or the provider's own overload answer): retry after `retry_after`."""
UNAVAILABLE: Final = "ProviderUnavailable"
"""5xx, or the connection failed."""
TIMED_OUT: Final = "ProviderTimeout"
"""No answer within `timeoutSeconds`."""
BAD_RESPONSE: Final = "ProviderBadResponse"
"""The answer was not the JSON the wire format promises."""
UNAUTHORIZED: Final = "ProviderUnauthorized"
"""401/403: the API key is missing, wrong or lacks access."""
REJECTED: Final = "ProviderRejected"
"""Another 4xx: the request itself is wrong (unknown model, bad parameter)."""
CIRCUIT_OPEN: Final = "ProviderCircuitOpen"
"""Too many consecutive failures: calls are refused for a while without trying."""

RETRYABLE: Final = frozenset({RATE_LIMITED, UNAVAILABLE, TIMED_OUT, BAD_RESPONSE})
"""Reasons worth another try at the same provider."""


def is_retryable(error: ProviderError) -> bool:
    """Whether calling the same provider again may succeed."""
    return error.reason in RETRYABLE


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One question to a model: prompts, the shape of the answer, and its inputs."""

    system: str
    """Instructions: the task and the rules of the answer."""
    prompt: str
    """The user message."""
    schema: Mapping[str, Any] | None = None
    """JSON schema the answer must match; providers that support it enforce it."""
    schema_name: str = "answer"
    """Name of the schema (OpenAI `json_schema.name`, Anthropic tool name)."""
    max_output_tokens: int = 1024
    """Upper bound of the answer's length."""
    temperature: float = 0.2
    """Sampling temperature; low, so answers are stable."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """The structured inputs the prompts were written from. Network providers ignore it;
    `builtin` works from it instead of the text."""


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer and what it cost in tokens."""

    text: str
    """The answer: JSON text when the request had a schema."""
    input_tokens: int
    output_tokens: int
    provider: str
    """Name of the LLMProvider resource that answered."""
    model: str
    """Model that answered, as the provider reports it (else as configured)."""
    tokens_estimated: bool = False
    """True when the provider did not report token counts and they were estimated."""
    cost: float = 0.0
    """Price of the call from the provider's `pricing` (set by the resilient client)."""


class LLMClient(Protocol):
    """One provider behind one wire format."""

    name: str
    """Name of the LLMProvider resource."""
    model: str
    """Configured model (deployment name for Azure)."""

    async def complete(self, request: CompletionRequest) -> Completion:
        """Ask once; raise `ProviderError` with one of this module's reasons on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def provider_error(
    name: str, reason: str, detail: str, *, retry_after: float | None = None
) -> ProviderError:
    """A `ProviderError` whose message names the provider and says what to do next."""
    advice = {
        RATE_LIMITED: "lower spec.rateLimit or wait",
        UNAVAILABLE: "check that the endpoint is up",
        TIMED_OUT: "raise spec.timeoutSeconds or check the endpoint",
        BAD_RESPONSE: "check that spec.type matches the endpoint's API",
        UNAUTHORIZED: "check the key that spec.apiKey references",
        REJECTED: "check spec.model and spec.endpoint",
        CIRCUIT_OPEN: "calls resume after a pause; check the provider's earlier errors",
    }.get(reason, "check the provider")
    return ProviderError(
        f"LLM provider {name}: {detail}; {advice}", reason=reason, retry_after=retry_after
    )
