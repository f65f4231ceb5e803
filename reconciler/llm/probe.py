"""Probing a provider without spending a token: its model list (or one model), per wire format.

| type | request | the model is known when |
|---|---|---|
| openai, openai-compatible | `GET {endpoint}/models` (Bearer key) | `data[].id` has it |
| azure-openai | `GET {endpoint}/openai/deployments/{model}?api-version=…` (`api-key`) | 200 |
| anthropic | `GET {endpoint}/v1/models/{model}` (`x-api-key`, `anthropic-version`) | 200 |
| google | `GET {endpoint}/v1beta/models/{model}` (`x-goog-api-key`) | 200 |
| ollama | `GET {endpoint}/api/tags` | `models[].name` has it (`:latest` implied) |
| builtin | nothing: always ready | |

The outcome is one of: `ProbeSucceeded`, `Unreachable` (no connection, timeout, 5xx),
`Unauthorized` (401/403, or Google's 400 for a bad key), `UnknownModel` (404, or absent
from the list), `BadResponse` (not the JSON the API promises), `SecretNotFound` (the key
reference does not resolve). The API key never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx

from ..core.errors import ProviderError
from ..core.models.provider import LLMProviderSpec
from .anthropic import API_VERSION as ANTHROPIC_VERSION
from .anthropic import DEFAULT_ENDPOINT as ANTHROPIC_ENDPOINT
from .base import BAD_RESPONSE, RATE_LIMITED, REJECTED, TIMED_OUT, UNAUTHORIZED, UNAVAILABLE
from .google import DEFAULT_ENDPOINT as GOOGLE_ENDPOINT
from .http import JsonEndpoint
from .ollama import DEFAULT_ENDPOINT as OLLAMA_ENDPOINT
from .openai import AZURE_API_VERSION
from .openai import DEFAULT_ENDPOINT as OPENAI_ENDPOINT

PROBE_SUCCEEDED: Final = "ProbeSucceeded"
PROBE_UNREACHABLE: Final = "Unreachable"
PROBE_UNAUTHORIZED: Final = "Unauthorized"
PROBE_UNKNOWN_MODEL: Final = "UnknownModel"
PROBE_BAD_RESPONSE: Final = "BadResponse"
PROBE_SECRET_NOT_FOUND: Final = "SecretNotFound"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    reason: str
    message: str


def _ok(message: str) -> ProbeResult:
    return ProbeResult(True, PROBE_SUCCEEDED, message)


def _failed(reason: str, message: str) -> ProbeResult:
    return ProbeResult(False, reason, message)


async def probe_provider(
    name: str,
    spec: LLMProviderSpec,
    *,
    api_key: str | None,
    timeout: float = 10.0,
    client: httpx.AsyncClient | None = None,
) -> ProbeResult:
    """Ask the provider whether it is there, takes the key and knows the model."""
    if spec.type == "builtin":
        return _ok("built in: no endpoint to probe")
    http = JsonEndpoint(
        name, timeout=min(timeout, spec.timeout_seconds), secret=api_key, client=client
    )
    model = spec.model or ""
    try:
        return await _probe(http, spec, model, api_key)
    except ProviderError as error:
        return _from_error(error, spec, model)
    finally:
        await http.aclose()


async def _probe(
    http: JsonEndpoint, spec: LLMProviderSpec, model: str, api_key: str | None
) -> ProbeResult:
    endpoint = (spec.endpoint or "").rstrip("/")
    if spec.type in ("openai", "openai-compatible"):
        base = endpoint or OPENAI_ENDPOINT
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        data = await http.get(f"{base}/models", headers=headers)
        ids = _listed(data, "data", "id")
        if ids is None:
            return _failed(PROBE_BAD_RESPONSE, f"GET {base}/models: no data[].id list")
        if model not in ids:
            return _failed(
                PROBE_UNKNOWN_MODEL,
                f"model {model} is not among the {len(ids)} models {base} lists; fix spec.model",
            )
        return _ok(f"model {model} listed by {base}")
    if spec.type == "azure-openai":
        version = spec.api_version or AZURE_API_VERSION
        headers = {"api-key": api_key} if api_key else {}
        await http.get(
            f"{endpoint}/openai/deployments/{model}",
            headers=headers,
            params={"api-version": version},
        )
        return _ok(f"deployment {model} found at {endpoint}")
    if spec.type == "anthropic":
        base = endpoint or ANTHROPIC_ENDPOINT
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        await http.get(f"{base}/v1/models/{model}", headers=headers)
        return _ok(f"model {model} found at {base}")
    if spec.type == "google":
        base = endpoint or GOOGLE_ENDPOINT
        headers = {"x-goog-api-key": api_key} if api_key else {}
        await http.get(f"{base}/v1beta/models/{model}", headers=headers)
        return _ok(f"model {model} found at {base}")
    base = endpoint or OLLAMA_ENDPOINT  # ollama
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    data = await http.get(f"{base}/api/tags", headers=headers)
    names = _listed(data, "models", "name")
    if names is None:
        return _failed(PROBE_BAD_RESPONSE, f"GET {base}/api/tags: no models[].name list")
    wanted = {model, f"{model}:latest"} if ":" not in model else {model}
    if not wanted & names:
        return _failed(
            PROBE_UNKNOWN_MODEL,
            f"model {model} is not pulled on {base} ({len(names)} models); "
            f"run `ollama pull {model}` or fix spec.model",
        )
    return _ok(f"model {model} pulled on {base}")


def _listed(data: Any, field: str, key: str) -> set[str] | None:
    items = data.get(field) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return {str(item[key]) for item in items if isinstance(item, dict) and key in item}


def _from_error(error: ProviderError, spec: LLMProviderSpec, model: str) -> ProbeResult:
    message = error.message
    if error.reason in (UNAVAILABLE, TIMED_OUT, RATE_LIMITED):
        if error.reason == RATE_LIMITED:  # reachable and the key works
            return _ok(f"reachable (rate limited now): {message}")
        return _failed(PROBE_UNREACHABLE, message)
    if error.reason == UNAUTHORIZED:
        return _failed(PROBE_UNAUTHORIZED, message)
    if error.reason == REJECTED:
        lowered = message.lower()
        if "api key" in lowered or "api_key" in lowered:  # Google: 400 for a bad key
            return _failed(PROBE_UNAUTHORIZED, message)
        if "HTTP 404" in message:
            return _failed(
                PROBE_UNKNOWN_MODEL,
                f"{message} (model {model!r} unknown there, or spec.endpoint is not the "
                "API's base URL)",
            )
        return _failed(PROBE_UNKNOWN_MODEL if spec.model else PROBE_BAD_RESPONSE, message)
    if error.reason == BAD_RESPONSE:
        return _failed(PROBE_BAD_RESPONSE, message)
    return _failed(PROBE_UNREACHABLE, message)
