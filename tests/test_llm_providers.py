"""Each provider adapter against a real local HTTP server speaking that provider's wire format.

`WireServer` is a Starlette app under uvicorn on 127.0.0.1: it records every request and
answers with real-shaped provider responses, or with scripted failures (429 with
Retry-After, 500, a stall past the client's timeout, a body that is not JSON).
`test_enhancement_*.py` and the benchmark reuse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from reconciler.core.errors import ProviderError
from reconciler.core.models.provider import LLMProviderSpec
from reconciler.llm import CompletionRequest, RetryPolicy, build_client
from reconciler.llm.base import (
    BAD_RESPONSE,
    CIRCUIT_OPEN,
    RATE_LIMITED,
    TIMED_OUT,
    UNAUTHORIZED,
)
from reconciler.llm.resilient import ResilientClient
from reconciler.secrets import SecretResolver

API_KEY = "sk-test-0123456789abcdef"


# -- the local provider ---------------------------------------------------------------------


def answer_for(prompt: str) -> dict[str, Any]:
    """What a well-behaved model answers to an enhancement prompt (names required params)."""
    name = re.search(r"^Tool name: (.+)$", prompt, re.MULTILINE)
    required = re.search(r"^Required parameters: (.+)$", prompt, re.MULTILINE)
    tool = name.group(1) if name else "tool"
    params = required.group(1) if required and required.group(1) != "(none)" else ""
    description = f"Runs {tool} for the caller." + (f" Requires {params}." if params else "")
    return {
        "description": description,
        "keywords": [tool.lower()],
        "categories": ["general"],
        "useCases": [f"Run {tool}"],
        "hints": {"readOnly": True, "destructive": False, "idempotent": True, "openWorld": False},
    }


def openai_reply(body: dict[str, Any], answer: str, usage: bool) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "id": "chatcmpl-9x",
        "object": "chat.completion",
        "created": 1_730_000_000,
        "model": f"{body.get('model', 'deployment')}-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "system_fingerprint": "fp_test",
    }
    if usage:
        reply["usage"] = {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}
    return reply


def anthropic_reply(body: dict[str, Any], answer: str, usage: bool) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [
            {"type": "text", "text": "Here is the enhancement."},
            {
                "type": "tool_use",
                "id": "toolu_01",
                "name": body["tool_choice"]["name"],
                "input": json.loads(answer),
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
    }
    if usage:
        reply["usage"] = {"input_tokens": 321, "output_tokens": 54}
    return reply


def google_reply(body: dict[str, Any], answer: str, usage: bool) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "candidates": [
            {
                "content": {"parts": [{"text": answer}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "modelVersion": "gemini-2.0-flash-001",
    }
    if usage:
        reply["usageMetadata"] = {
            "promptTokenCount": 321,
            "candidatesTokenCount": 54,
            "totalTokenCount": 375,
        }
    return reply


def ollama_reply(body: dict[str, Any], answer: str, usage: bool) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "model": body["model"],
        "created_at": "2025-01-01T00:00:00.000000Z",
        "message": {"role": "assistant", "content": answer},
        "done_reason": "stop",
        "done": True,
        "total_duration": 1_000_000,
    }
    if usage:
        reply["prompt_eval_count"] = 321
        reply["eval_count"] = 54
    return reply


def user_prompt(body: dict[str, Any]) -> str:
    """The user message of a request in any of the four wire formats."""
    if "contents" in body:
        return str(body["contents"][-1]["parts"][0]["text"])
    return str(body["messages"][-1]["content"])


REPLIES: dict[str, Callable[[dict[str, Any], str, bool], dict[str, Any]]] = {
    "openai": openai_reply,
    "anthropic": anthropic_reply,
    "google": google_reply,
    "ollama": ollama_reply,
}


SERVED_MODELS = frozenset(
    {
        "test-model",
        "gpt-4o-mini",
        "qwen2.5-7b",
        "prod-gpt4o",
        "claude-3-5-haiku-latest",
        "gemini-2.0-flash",
        "llama3.2",
    }
)
"""Models (Azure deployments) the local provider knows: its model list answers with them."""


def model_answer(
    wire: str, path: str, headers: dict[str, str], *, models: frozenset[str], key: str | None
) -> tuple[int, Any]:
    """(status, body) of a provider's model endpoints, in its own format (zero-token probes)."""
    sent = {
        "anthropic": headers.get("x-api-key"),
        "google": headers.get("x-goog-api-key"),
    }.get(wire)
    if wire in ("openai", "ollama"):
        bearer = headers.get("authorization", "")
        sent = headers.get("api-key") or (bearer[7:] if bearer.startswith("Bearer ") else None)
    if key is not None and sent != key:
        if wire == "google":
            message = "API key not valid. Please pass a valid API key."
            return 400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
        if wire == "anthropic":
            error = {"type": "authentication_error", "message": "invalid x-api-key"}
            return 401, {"type": "error", "error": error}
        message = f"Incorrect API key provided: {str(sent)[:3]}***."
        return 401, {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
    if wire == "ollama" and path == "/api/tags":
        listed = [
            {"name": f"{m}:latest", "model": f"{m}:latest", "size": 2019393189}
            for m in sorted(models)
        ]
        return 200, {"models": listed}
    if wire == "openai" and path.startswith("/openai/deployments/"):
        deployment = path.rsplit("/", 1)[1]
        if deployment not in models:
            message = "The API deployment for this resource does not exist."
            return 404, {"error": {"code": "DeploymentNotFound", "message": message}}
        return 200, {
            "id": deployment,
            "model": "gpt-4o",
            "status": "succeeded",
            "object": "deployment",
        }
    if wire == "openai" and path.endswith("/models"):
        data = [
            {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
            for m in sorted(models)
        ]
        return 200, {"object": "list", "data": data}
    name = path.rsplit("/", 1)[1]
    if wire == "anthropic" and path.startswith("/v1/models/"):
        if name not in models:
            return 404, {
                "type": "error",
                "error": {"type": "not_found_error", "message": f"model: {name}"},
            }
        return 200, {
            "type": "model",
            "id": name,
            "display_name": name,
            "created_at": "2024-10-22T00:00:00Z",
        }
    if wire == "google" and path.startswith("/v1beta/models/"):
        if name not in models:
            message = f"models/{name} is not found for API version v1beta"
            return 404, {"error": {"code": 404, "message": message, "status": "NOT_FOUND"}}
        return 200, {"name": f"models/{name}", "version": "001", "displayName": name}
    return 404, {"error": {"message": f"no route {path}"}}


@dataclass
class Reply:
    """A scripted answer: status, JSON body (or raw text), headers, delay."""

    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class WireServer:
    """A local LLM provider: real HTTP on 127.0.0.1, a given wire format, a request log."""

    def __init__(
        self,
        wire: str = "openai",
        *,
        latency: float = 0.0,
        usage: bool = True,
        models: frozenset[str] = SERVED_MODELS,
        key: str | None = None,
    ) -> None:
        self.wire = wire
        self.models = models
        self.key = key
        """The API key the model endpoints require (None: any)."""
        self.latency = latency
        self.usage = usage
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self.answer: Callable[[str], dict[str, Any]] = answer_for
        self._stopping = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def _handle(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(
            Recorded(request.url.path, dict(request.query_params), dict(request.headers), body)
        )
        reply = self.script.popleft() if self.script else Reply()
        delay = reply.delay or self.latency
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        if reply.text is not None:
            return PlainTextResponse(reply.text, reply.status, headers=reply.headers)
        if reply.body is None:
            answer = json.dumps(self.answer(user_prompt(body)))
            reply.body = REPLIES[self.wire](body, answer, self.usage)
        return JSONResponse(reply.body, reply.status, headers=reply.headers)

    async def _models(self, request: Request) -> Response:
        self.requests.append(
            Recorded(request.url.path, dict(request.query_params), dict(request.headers), None)
        )
        status, body = model_answer(
            self.wire, request.url.path, dict(request.headers), models=self.models, key=self.key
        )
        return JSONResponse(body, status)

    async def __aenter__(self) -> WireServer:
        app = Starlette(
            routes=[
                Route("/{path:path}", self._handle, methods=["POST"]),
                Route("/{path:path}", self._models, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done() or time.monotonic() > deadline:
                raise RuntimeError("local provider did not start")
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        assert self._task is not None
        self._stopping.set()
        self._server.should_exit = True
        await self._task


@pytest.fixture
async def local_provider() -> AsyncIterator[WireServer]:
    async with WireServer("openai") as server:
        yield server


# -- cases: one per wire format ----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    type: str
    wire: str
    suffix: str
    """Appended to the server URL to make spec.endpoint."""
    path: str
    model: str = "test-model"
    api_version: str | None = None

    def spec(self, url: str, **fields: Any) -> LLMProviderSpec:
        values: dict[str, Any] = {
            "type": self.type,
            "endpoint": url + self.suffix,
            "model": self.model,
            "timeoutSeconds": 5,
            "pricing": {"inputPerMillionTokens": 1.0, "outputPerMillionTokens": 2.0},
        }
        if self.type != "ollama":
            values["apiKey"] = {"env": "LLM_KEY"}
        if self.api_version:
            values["apiVersion"] = self.api_version
        values.update(fields)
        return LLMProviderSpec.model_validate(values)


CASES = [
    Case("openai", "openai", "/v1", "/v1/chat/completions", model="gpt-4o-mini"),
    Case("openai-compatible", "openai", "/v1", "/v1/chat/completions", model="qwen2.5-7b"),
    Case(
        "azure-openai",
        "openai",
        "",
        "/openai/deployments/prod-gpt4o/chat/completions",
        model="prod-gpt4o",
        api_version="2024-10-21",
    ),
    Case("anthropic", "anthropic", "", "/v1/messages", model="claude-3-5-haiku-latest"),
    Case(
        "google",
        "google",
        "",
        "/v1beta/models/gemini-2.0-flash:generateContent",
        model="gemini-2.0-flash",
    ),
    Case("ollama", "ollama", "", "/api/chat", model="llama3.2"),
]
IDS = [case.type for case in CASES]

QUESTION = CompletionRequest(
    system="You improve tool descriptions.",
    prompt="Tool name: get_current_time\nRequired parameters: `timezone`",
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["description"],
        "properties": {"description": {"type": "string"}},
    },
    schema_name="tool_enhancement",
    max_output_tokens=300,
)
FAST_RETRY = RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.05)


def client_for(case: Case, server: WireServer, **fields: Any) -> ResilientClient:
    resolver = SecretResolver(environ={"LLM_KEY": API_KEY})
    return build_client(case.type, case.spec(server.url, **fields), resolver, retry=FAST_RETRY)


def error_body(case: Case, status: int, message: str) -> dict[str, Any]:
    """The error document each provider sends with a failing status."""
    if case.wire == "anthropic":
        kind = {429: "rate_limit_error", 500: "api_error", 401: "authentication_error"}
        return {"type": "error", "error": {"type": kind.get(status, "error"), "message": message}}
    if case.wire == "google":
        state = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 401: "UNAUTHENTICATED"}
        return {"error": {"code": status, "message": message, "status": state.get(status)}}
    if case.wire == "ollama":
        return {"error": message}
    return {"error": {"message": message, "type": "requests", "param": None, "code": None}}


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_each_provider_speaks_its_wire_format(case: Case) -> None:
    async with WireServer(case.wire) as server:
        client = client_for(case, server)
        completion = await client.complete(QUESTION)
        await client.aclose()
    [sent] = server.requests
    assert sent.path == case.path
    body, headers = sent.body, sent.headers
    assert json.loads(completion.text)["description"].startswith("Runs get_current_time")
    assert (completion.input_tokens, completion.output_tokens) == (321, 54)
    assert not completion.tokens_estimated
    assert completion.cost == pytest.approx((321 * 1.0 + 54 * 2.0) / 1e6)
    if case.type in ("openai", "openai-compatible"):
        assert headers["authorization"] == f"Bearer {API_KEY}"
        assert body["model"] == case.model
        assert body["messages"][0] == {"role": "system", "content": QUESTION.system}
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True
        assert body["response_format"]["json_schema"]["schema"] == QUESTION.schema
        limit = "max_completion_tokens" if case.type == "openai" else "max_tokens"
        assert body[limit] == 300
    elif case.type == "azure-openai":
        assert headers["api-key"] == API_KEY
        assert "authorization" not in headers
        assert sent.query == {"api-version": "2024-10-21"}
        assert "model" not in body
        assert body["max_tokens"] == 300
    elif case.type == "anthropic":
        assert headers["x-api-key"] == API_KEY
        assert headers["anthropic-version"] == "2023-06-01"
        assert body["system"] == QUESTION.system
        assert body["max_tokens"] == 300
        assert body["tools"][0]["input_schema"] == QUESTION.schema
        assert body["tool_choice"] == {"type": "tool", "name": "tool_enhancement"}
    elif case.type == "google":
        assert headers["x-goog-api-key"] == API_KEY
        assert body["systemInstruction"] == {"parts": [{"text": QUESTION.system}]}
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseSchema"]["type"] == "OBJECT"
        assert "additionalProperties" not in config["responseSchema"]
        assert config["maxOutputTokens"] == 300
    else:
        assert "authorization" not in headers
        assert body["stream"] is False
        assert body["format"] == QUESTION.schema
        assert body["options"]["num_predict"] == 300


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_tokens_are_estimated_when_the_provider_omits_them(case: Case) -> None:
    async with WireServer(case.wire, usage=False) as server:
        client = client_for(case, server)
        completion = await client.complete(QUESTION)
        await client.aclose()
    assert completion.tokens_estimated
    assert completion.input_tokens > 10
    assert completion.output_tokens > 10


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_429_is_retried_after_the_time_the_provider_asks(case: Case) -> None:
    async with WireServer(case.wire) as server:
        server.script.append(
            Reply(429, error_body(case, 429, "Rate limit reached"), headers={"Retry-After": "1"})
        )
        client = client_for(case, server)
        started = time.monotonic()
        completion = await client.complete(QUESTION)
        elapsed = time.monotonic() - started
        await client.aclose()
    assert len(server.requests) == 2
    assert elapsed >= 0.95
    assert completion.text
    assert client.counts.retried == 1


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_server_errors_are_retried_with_backoff(case: Case) -> None:
    async with WireServer(case.wire) as server:
        server.script.extend(
            [Reply(500, error_body(case, 500, "boom")), Reply(503, error_body(case, 503, "busy"))]
        )
        client = client_for(case, server)
        completion = await client.complete(QUESTION)
        await client.aclose()
    assert len(server.requests) == 3
    assert completion.input_tokens == 321


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_stalled_provider_times_out(case: Case) -> None:
    async with WireServer(case.wire) as server:
        server.script.extend([Reply(delay=5.0) for _ in range(3)])
        client = client_for(case, server, timeoutSeconds=0.3)
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            await client.complete(QUESTION)
        elapsed = time.monotonic() - started
        await client.aclose()
    assert caught.value.reason == TIMED_OUT
    assert len(server.requests) == 3
    assert elapsed < 4


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_malformed_json_is_a_bad_response_and_retried(case: Case) -> None:
    async with WireServer(case.wire) as server:
        server.script.append(Reply(200, text='{"choices": [ oops'))
        client = client_for(case, server)
        completion = await client.complete(QUESTION)
        await client.aclose()
    assert len(server.requests) == 2
    assert json.loads(completion.text)["description"]

    async with WireServer(case.wire) as server:
        server.script.extend([Reply(200, text="<html>bad gateway</html>") for _ in range(3)])
        client = client_for(case, server)
        with pytest.raises(ProviderError) as caught:
            await client.complete(QUESTION)
        await client.aclose()
    assert caught.value.reason == BAD_RESPONSE
    assert "not JSON" in caught.value.message


@pytest.mark.parametrize("case", [c for c in CASES if c.type != "ollama"], ids=IDS[:-1])
async def test_a_wrong_key_is_not_retried_and_never_shown(case: Case) -> None:
    async with WireServer(case.wire) as server:
        server.script.append(
            Reply(401, error_body(case, 401, f"Incorrect API key provided: {API_KEY}"))
        )
        client = client_for(case, server)
        with pytest.raises(ProviderError) as caught:
            await client.complete(QUESTION)
        await client.aclose()
    assert len(server.requests) == 1
    assert caught.value.reason == UNAUTHORIZED
    assert API_KEY not in caught.value.message
    assert "apiKey" in caught.value.message


async def test_a_wrong_shape_of_answer_is_a_bad_response(local_provider: WireServer) -> None:
    local_provider.script.extend([Reply(200, {"object": "list", "data": []}) for _ in range(3)])
    client = client_for(CASES[0], local_provider)
    with pytest.raises(ProviderError) as caught:
        await client.complete(QUESTION)
    await client.aclose()
    assert caught.value.reason == BAD_RESPONSE


async def test_a_retry_after_beyond_the_limit_fails_at_once(local_provider: WireServer) -> None:
    local_provider.script.append(
        Reply(429, error_body(CASES[0], 429, "slow down"), headers={"Retry-After": "3600"})
    )
    client = client_for(CASES[0], local_provider)
    with pytest.raises(ProviderError) as caught:
        await client.complete(QUESTION)
    await client.aclose()
    assert caught.value.reason == RATE_LIMITED
    assert caught.value.retry_after == pytest.approx(3600)
    assert len(local_provider.requests) == 1


async def test_the_circuit_opens_after_repeated_failures(local_provider: WireServer) -> None:
    local_provider.script.extend([Reply(500, {"error": {"message": "down"}}) for _ in range(6)])
    client = client_for(CASES[0], local_provider)
    for _ in range(2):  # 3 tries each: the fifth failure opens the circuit
        with pytest.raises(ProviderError):
            await client.complete(QUESTION)
    sent = len(local_provider.requests)
    with pytest.raises(ProviderError) as caught:
        await client.complete(QUESTION)
    await client.aclose()
    assert sent == 5
    assert caught.value.reason == CIRCUIT_OPEN
    assert len(local_provider.requests) == 5


async def test_concurrent_calls_keep_to_max_concurrency(local_provider: WireServer) -> None:
    local_provider.latency = 0.2
    client = client_for(CASES[0], local_provider, maxConcurrency=2)
    started = time.monotonic()
    await asyncio.gather(*(client.complete(QUESTION) for _ in range(4)))
    elapsed = time.monotonic() - started
    await client.aclose()
    assert len(local_provider.requests) == 4
    assert elapsed >= 0.38  # two waves of two


async def test_requests_per_minute_spread_calls_out(local_provider: WireServer) -> None:
    client = client_for(CASES[0], local_provider, rateLimit={"requestsPerMinute": 60})
    started = time.monotonic()
    await asyncio.gather(*(client.complete(QUESTION) for _ in range(62)))
    elapsed = time.monotonic() - started
    await client.aclose()
    assert len(local_provider.requests) == 62
    assert elapsed >= 1.9  # a minute's allowance at once, then one request per second
