"""Ollama's native chat API.

`POST {endpoint}/api/chat` (endpoint default `http://127.0.0.1:11434`) with
`stream: false`; the answer's shape is enforced with `format: <JSON schema>` (Ollama 0.5
and later). No key is needed; one is sent as a bearer token when configured (for an
Ollama behind an authenticating proxy).
"""

from __future__ import annotations

from typing import Any, Final

from .base import BAD_RESPONSE, Completion, CompletionRequest, provider_error
from .http import HttpProvider

DEFAULT_ENDPOINT: Final = "http://127.0.0.1:11434"


class OllamaChat(HttpProvider):
    """An LLM client speaking Ollama's `/api/chat`."""

    default_endpoint = DEFAULT_ENDPOINT

    async def complete(self, request: CompletionRequest) -> Completion:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        data = await self._http.post(
            f"{self.endpoint}/api/chat", self._body(request), headers=headers
        )
        return self._completion(data, request)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.prompt},
            ],
            "stream": False,
            "options": {
                "temperature": request.temperature,
                "num_predict": request.max_output_tokens,
            },
        }
        if request.schema is not None:
            body["format"] = dict(request.schema)
        return body

    def _completion(self, data: Any, request: CompletionRequest) -> Completion:
        try:
            text = data["message"]["content"]
        except (KeyError, TypeError):
            raise provider_error(self.name, BAD_RESPONSE, "answer has no message.content") from None
        if not isinstance(text, str):
            raise provider_error(self.name, BAD_RESPONSE, "message.content is not text")
        return self.completion(
            text,
            request,
            usage=(data.get("prompt_eval_count"), data.get("eval_count")),
            model=data.get("model"),
        )
