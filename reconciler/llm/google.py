"""Google Gemini `generateContent`.

`POST {endpoint}/v1beta/models/{model}:generateContent` (endpoint default
`https://generativelanguage.googleapis.com`) with the key in `x-goog-api-key` (never in the
URL, where it would end up in logs). The answer's shape is enforced with
`generationConfig.responseMimeType: application/json` and `responseSchema`, Gemini's
OpenAPI subset of JSON schema (upper-case types, no `additionalProperties`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .base import BAD_RESPONSE, REJECTED, Completion, CompletionRequest, provider_error
from .http import HttpProvider

DEFAULT_ENDPOINT: Final = "https://generativelanguage.googleapis.com"
_KEPT: Final = frozenset(
    {"description", "enum", "items", "properties", "required", "minItems", "maxItems"}
)
"""JSON-schema keywords Gemini's `Schema` also has; the others are dropped."""


class GeminiGenerate(HttpProvider):
    """An LLM client speaking the Gemini API."""

    default_endpoint = DEFAULT_ENDPOINT

    async def complete(self, request: CompletionRequest) -> Completion:
        headers = {"x-goog-api-key": self._api_key} if self._api_key is not None else {}
        url = f"{self.endpoint}/v1beta/models/{self.model}:generateContent"
        data = await self._http.post(url, self._body(request), headers=headers)
        return self._completion(data, request)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        config: dict[str, Any] = {
            "temperature": request.temperature,
            "maxOutputTokens": request.max_output_tokens,
        }
        if request.schema is not None:
            config["responseMimeType"] = "application/json"
            config["responseSchema"] = gemini_schema(request.schema)
        return {
            "systemInstruction": {"parts": [{"text": request.system}]},
            "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
            "generationConfig": config,
        }

    def _completion(self, data: Any, request: CompletionRequest) -> Completion:
        if not isinstance(data, dict):
            raise provider_error(self.name, BAD_RESPONSE, "answer is not a JSON object")
        candidates = data.get("candidates")
        if not candidates:
            feedback = data.get("promptFeedback") or {}
            blocked = feedback.get("blockReason") if isinstance(feedback, dict) else None
            if blocked:
                raise provider_error(self.name, REJECTED, f"prompt blocked ({blocked})")
            raise provider_error(self.name, BAD_RESPONSE, "answer has no candidates")
        try:
            candidate = candidates[0]
            parts = candidate["content"]["parts"]
            text = "".join(part["text"] for part in parts if "text" in part)
        except (KeyError, IndexError, TypeError):
            reason = candidates[0].get("finishReason") if isinstance(candidates[0], dict) else None
            if reason in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT"):
                raise provider_error(self.name, REJECTED, f"answer withheld ({reason})") from None
            raise provider_error(
                self.name, BAD_RESPONSE, "answer has no candidates[0].content.parts"
            ) from None
        usage = data.get("usageMetadata")
        usage = usage if isinstance(usage, dict) else {}
        return self.completion(
            text,
            request,
            usage=(usage.get("promptTokenCount"), usage.get("candidatesTokenCount")),
            model=data.get("modelVersion"),
        )


def gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema rewritten as Gemini's `Schema` (upper-case types, supported keys)."""
    converted: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, str):
        converted["type"] = kind.upper()
    for key, value in schema.items():
        if key not in _KEPT:
            continue
        if key == "properties":
            converted[key] = {name: gemini_schema(sub) for name, sub in value.items()}
        elif key == "items":
            converted[key] = gemini_schema(value)
        else:
            converted[key] = value
    if "properties" in converted:
        converted["propertyOrdering"] = list(converted["properties"])
    return converted
