"""From an `LLMProvider` spec to a ready client, and the pool that keeps clients alive.

The API key is read through the `SecretResolver` when the client is built and lives only
in the client's memory. `ProviderPool` keeps one `ResilientClient` per provider across
reconciles, so circuit breakers and rate limits hold between them, and rebuilds a client
when its spec (or the key it references) changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import httpx

from ..core.models.provider import LLMProviderSpec
from ..secrets import SecretResolver
from .anthropic import AnthropicMessages
from .base import LLMClient
from .breaker import CircuitBreaker
from .builtin import BuiltinEnhancer
from .google import GeminiGenerate
from .ollama import OllamaChat
from .openai import OpenAIChat
from .ratelimit import ProviderRateLimiter
from .resilient import ResilientClient
from .retry import RetryPolicy


def build_adapter(
    name: str,
    spec: LLMProviderSpec,
    *,
    api_key: str | None = None,
    http: httpx.AsyncClient | None = None,
) -> LLMClient:
    """The wire-format adapter of `spec.type`."""
    model = spec.model or ""
    endpoint, timeout = spec.endpoint, spec.timeout_seconds
    if spec.type in ("openai", "azure-openai", "openai-compatible"):
        return OpenAIChat(
            name,
            model=model,
            flavor=spec.type,
            endpoint=endpoint,
            api_key=api_key,
            api_version=spec.api_version,
            timeout=timeout,
            client=http,
        )
    adapters: dict[str, type[AnthropicMessages | GeminiGenerate | OllamaChat]] = {
        "anthropic": AnthropicMessages,
        "google": GeminiGenerate,
        "ollama": OllamaChat,
    }
    adapter = adapters.get(spec.type)
    if adapter is not None:
        return adapter(
            name, model=model, endpoint=endpoint, api_key=api_key, timeout=timeout, client=http
        )
    return BuiltinEnhancer(name)


def build_client(
    name: str,
    spec: LLMProviderSpec,
    resolver: SecretResolver,
    *,
    retry: RetryPolicy | None = None,
    http: httpx.AsyncClient | None = None,
) -> ResilientClient:
    """A protected client for provider `name` (raises `SecretNotFound` for a missing key)."""
    api_key = resolver.resolve(spec.api_key) if spec.api_key is not None else None
    limits = spec.rate_limit
    return ResilientClient(
        build_adapter(name, spec, api_key=api_key, http=http),
        pricing=spec.pricing,
        max_concurrency=spec.max_concurrency,
        limiter=ProviderRateLimiter(
            requests_per_minute=limits.requests_per_minute if limits else None,
            tokens_per_minute=limits.tokens_per_minute if limits else None,
        ),
        breaker=CircuitBreaker(name),
        retry=retry,
    )


class ProviderPool:
    """Long-lived clients by provider name; rebuilt when the spec or key changes."""

    def __init__(self, resolver: SecretResolver, *, retry: RetryPolicy | None = None) -> None:
        self.resolver = resolver
        self.retry = retry
        self._clients: dict[str, tuple[str, ResilientClient]] = {}

    async def client(self, name: str, spec: LLMProviderSpec) -> ResilientClient:
        """The client of provider `name` as `spec` declares it."""
        api_key = self.resolver.resolve(spec.api_key) if spec.api_key is not None else ""
        fingerprint = hashlib.sha256((spec.model_dump_json() + "\0" + api_key).encode()).hexdigest()
        known = self._clients.get(name)
        if known is not None and known[0] == fingerprint:
            return known[1]
        if known is not None:
            await known[1].aclose()
        client = build_client(name, spec, self.resolver, retry=self.retry)
        self._clients[name] = (fingerprint, client)
        return client

    def clients(self) -> Mapping[str, ResilientClient]:
        return {name: client for name, (_, client) in self._clients.items()}

    async def aclose(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
