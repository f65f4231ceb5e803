"""Embeddings from an LLMProvider, for the ranking of `find_tools`.

- OpenAI and OpenAI-compatible: `POST {endpoint}/embeddings` with `{model, input: [...]}`,
  answered with `{data: [{index, embedding}]}`;
- Azure OpenAI: `POST {endpoint}/openai/deployments/{model}/embeddings?api-version=...`
  with an `api-key` header;
- Ollama: `POST {endpoint}/api/embed` with `{model, input: [...]}`, answered with
  `{embeddings: [[...]]}`.

Errors are the same `ProviderError`s as completions (`http.py`); the key never appears in
them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from ..core.models.provider import EMBEDDING_TYPES, LLMProvider, LLMProviderSpec
from ..secrets import SecretResolver
from .base import BAD_RESPONSE, provider_error
from .http import JsonEndpoint
from .ollama import DEFAULT_ENDPOINT as OLLAMA_ENDPOINT
from .openai import AZURE_API_VERSION
from .openai import DEFAULT_ENDPOINT as OPENAI_ENDPOINT


class ProviderEmbedder:
    """Embeds texts through one provider's embeddings API."""

    def __init__(
        self,
        name: str,
        spec: LLMProviderSpec,
        *,
        model: str,
        api_key: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if spec.type not in EMBEDDING_TYPES:
            raise provider_error(name, BAD_RESPONSE, f"type {spec.type} serves no embeddings")
        self.name = name
        self.type = spec.type
        self.model = model
        default = OLLAMA_ENDPOINT if spec.type == "ollama" else OPENAI_ENDPOINT
        self.endpoint = (spec.endpoint or default).rstrip("/")
        self.api_version = spec.api_version or AZURE_API_VERSION
        self._api_key = api_key
        self._http = JsonEndpoint(name, timeout=spec.timeout_seconds, secret=api_key, client=client)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        body = {"model": self.model, "input": list(texts)}
        if self.type == "ollama":
            data = await self._http.post(
                f"{self.endpoint}/api/embed", body, headers=self._headers()
            )
            vectors = data.get("embeddings") if isinstance(data, dict) else None
        else:
            data = await self._http.post(
                self._url(), body, headers=self._headers(), params=self._params()
            )
            vectors = _openai_vectors(data)
        if not _is_vectors(vectors, len(texts)):
            raise provider_error(
                self.name, BAD_RESPONSE, f"expected {len(texts)} embeddings in the answer"
            )
        return vectors  # type: ignore[return-value]

    async def aclose(self) -> None:
        await self._http.aclose()

    def _url(self) -> str:
        if self.type == "azure-openai":
            return f"{self.endpoint}/openai/deployments/{self.model}/embeddings"
        return f"{self.endpoint}/embeddings"

    def _params(self) -> dict[str, str]:
        return {"api-version": self.api_version} if self.type == "azure-openai" else {}

    def _headers(self) -> dict[str, str]:
        if self._api_key is None:
            return {}
        if self.type == "azure-openai":
            return {"api-key": self._api_key}
        return {"Authorization": f"Bearer {self._api_key}"}


def build_embedder(
    name: str, spec: LLMProviderSpec, *, model: str, resolver: SecretResolver
) -> ProviderEmbedder:
    """The embedder of a provider, its key read through `resolver` (ReconcilerError if the
    key cannot be read)."""
    api_key = resolver.resolve(spec.api_key) if spec.api_key is not None else None
    return ProviderEmbedder(name, spec, model=model, api_key=api_key)


def _openai_vectors(data: Any) -> list[Any] | None:
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return None
    ordered = sorted(items, key=lambda item: item.get("index", 0))
    return [item.get("embedding") for item in ordered]


def _is_vectors(value: object, count: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) == count
        and all(
            isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v) for v in value
        )
    )


class ProviderEmbedders:
    """The embedders of the current desired state's providers, built once per provider spec
    and model (a changed spec or key builds a new one)."""

    def __init__(self, resolver: SecretResolver) -> None:
        self.resolver = resolver
        self._providers: dict[tuple[str, str], LLMProviderSpec] = {}
        self._built: dict[tuple[str, str, str], tuple[LLMProviderSpec, ProviderEmbedder]] = {}

    def update(self, providers: Iterable[LLMProvider]) -> None:
        """The providers of the applied revision."""
        self._providers = {(p.metadata.ns, p.name): p.spec for p in providers}

    def __call__(self, namespace: str, provider: str, model: str) -> ProviderEmbedder | None:
        """The embedder of `provider` in `namespace` for `model`; None when there is none."""
        spec = self._providers.get((namespace, provider))
        if spec is None or spec.type not in EMBEDDING_TYPES:
            return None
        key = (namespace, provider, model)
        built = self._built.get(key)
        if built is None or built[0] != spec:
            built = self._built[key] = (
                spec,
                build_embedder(provider, spec, model=model, resolver=self.resolver),
            )
        return built[1]
