"""OpenAI chat completions: OpenAI, Azure OpenAI, and any OpenAI-compatible endpoint.

`POST {endpoint}/chat/completions` (endpoint default `https://api.openai.com/v1`, the same
base URL the OpenAI SDKs take; LM Studio `http://127.0.0.1:1234/v1`, vLLM
`http://127.0.0.1:8000/v1`) with `Authorization: Bearer <key>`. Azure OpenAI:
`POST {endpoint}/openai/deployments/{model}/chat/completions?api-version=...` with an
`api-key` header, `model` being the deployment name. The answer's shape is enforced with
`response_format: {type: json_schema, json_schema: {name, schema, strict: true}}`.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import httpx

from .base import BAD_RESPONSE, REJECTED, Completion, CompletionRequest, provider_error
from .http import HttpProvider

Flavor = Literal["openai", "azure-openai", "openai-compatible"]

DEFAULT_ENDPOINT: Final = "https://api.openai.com/v1"
AZURE_API_VERSION: Final = "2024-10-21"
"""Azure OpenAI data-plane version used when `spec.apiVersion` is not set (GA, supports
structured outputs)."""


class OpenAIChat(HttpProvider):
    """An LLM client speaking OpenAI's chat completions API."""

    default_endpoint = DEFAULT_ENDPOINT

    def __init__(
        self,
        name: str,
        *,
        model: str,
        flavor: Flavor = "openai",
        endpoint: str | None = None,
        api_key: str | None = None,
        api_version: str | None = None,
        timeout: float = 60,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            name, model=model, endpoint=endpoint, api_key=api_key, timeout=timeout, client=client
        )
        self.flavor = flavor
        self.api_version = api_version or AZURE_API_VERSION

    async def complete(self, request: CompletionRequest) -> Completion:
        data = await self._http.post(
            self._url(), self._body(request), headers=self._headers(), params=self._params()
        )
        return self._completion(data, request)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _url(self) -> str:
        if self.flavor == "azure-openai":
            return f"{self.endpoint}/openai/deployments/{self.model}/chat/completions"
        return f"{self.endpoint}/chat/completions"

    def _params(self) -> dict[str, str]:
        return {"api-version": self.api_version} if self.flavor == "azure-openai" else {}

    def _headers(self) -> dict[str, str]:
        if self._api_key is None:
            return {}
        if self.flavor == "azure-openai":
            return {"api-key": self._api_key}
        return {"Authorization": f"Bearer {self._api_key}"}

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.prompt},
            ],
            "temperature": request.temperature,
        }
        if self.flavor != "azure-openai":
            body["model"] = self.model
        # OpenAI replaced max_tokens (refused by its reasoning models); others still read it.
        tokens_field = "max_completion_tokens" if self.flavor == "openai" else "max_tokens"
        body[tokens_field] = request.max_output_tokens
        if request.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": dict(request.schema),
                    "strict": True,
                },
            }
        return body

    def _completion(self, data: Any, request: CompletionRequest) -> Completion:
        try:
            message = data["choices"][0]["message"]
            content = message.get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise provider_error(
                self.name, BAD_RESPONSE, "answer has no choices[0].message"
            ) from None
        if not isinstance(content, str):
            refusal = message.get("refusal")
            if isinstance(refusal, str) and refusal:
                raise provider_error(self.name, REJECTED, f"the model refused: {refusal[:200]}")
            raise provider_error(self.name, BAD_RESPONSE, "answer has no message content")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return self.completion(
            content,
            request,
            usage=(usage.get("prompt_tokens"), usage.get("completion_tokens")),
            model=data.get("model"),
        )
