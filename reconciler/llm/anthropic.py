"""Anthropic messages API.

`POST {endpoint}/v1/messages` (endpoint default `https://api.anthropic.com`) with
`x-api-key` and `anthropic-version: 2023-06-01`. A structured answer is asked for the way
the API offers it: one tool whose `input_schema` is the schema, forced with
`tool_choice: {type: tool, name}`; the answer is that `tool_use` block's `input`.
"""

from __future__ import annotations

import json
from typing import Any, Final

from .base import BAD_RESPONSE, Completion, CompletionRequest, provider_error
from .http import HttpProvider

DEFAULT_ENDPOINT: Final = "https://api.anthropic.com"
API_VERSION: Final = "2023-06-01"


class AnthropicMessages(HttpProvider):
    """An LLM client speaking Anthropic's messages API."""

    default_endpoint = DEFAULT_ENDPOINT

    async def complete(self, request: CompletionRequest) -> Completion:
        headers = {"anthropic-version": API_VERSION}
        if self._api_key is not None:
            headers["x-api-key"] = self._api_key
        data = await self._http.post(
            f"{self.endpoint}/v1/messages", self._body(request), headers=headers
        )
        return self._completion(data, request)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_output_tokens,
            "system": request.system,
            "temperature": request.temperature,
            "messages": [{"role": "user", "content": request.prompt}],
        }
        if request.schema is not None:
            body["tools"] = [
                {
                    "name": request.schema_name,
                    "description": "Record the answer in this exact structure.",
                    "input_schema": dict(request.schema),
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": request.schema_name}
        return body

    def _completion(self, data: Any, request: CompletionRequest) -> Completion:
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise provider_error(self.name, BAD_RESPONSE, "answer has no content blocks")
        text = self._answer(blocks, request)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return self.completion(
            text,
            request,
            usage=(usage.get("input_tokens"), usage.get("output_tokens")),
            model=data.get("model"),
        )

    def _answer(self, blocks: list[Any], request: CompletionRequest) -> str:
        if request.schema is not None:
            for block in blocks:
                if (
                    isinstance(block, dict)
                    and block.get("type") == "tool_use"
                    and block.get("name") == request.schema_name
                    and isinstance(block.get("input"), dict)
                ):
                    return json.dumps(block["input"], ensure_ascii=False)
        texts = [
            block["text"]
            for block in blocks
            if isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
        ]
        if not texts:
            raise provider_error(
                self.name, BAD_RESPONSE, f"answer has no {request.schema_name} tool_use or text"
            )
        return "".join(texts)
