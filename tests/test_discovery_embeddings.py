"""Embeddings fused into `find_tools`: a local provider speaking OpenAI's embeddings wire
format, real servers behind the gateway. Tool vectors are computed once per content; a
failing provider leaves lexical ranking working."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import mcp_types as types
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.embedded_http import EmbeddedHttpServer
from reconciler.llm.embeddings import ProviderEmbedders
from reconciler.loading.loader import load_documents
from reconciler.secrets import SecretResolver
from tests.gateway_harness import (
    SERVERS,
    Started,
    desired,
    everything_and_time,
    mcp_client,
    serving,
    suite,
)
from tests.polling import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

# A toy embedding model: each concept is one dimension, and words of a concept land on it.
CONCEPTS = [
    {"time", "clock", "hour", "timezone", "timezones", "tokyo", "o'clock"},
    {"echo", "repeat", "parrot", "message", "back"},
    {"sum", "add", "plus", "total", "numbers"},
    {"environment", "env", "variables"},
]


def embed(text: str) -> list[float]:
    words = set(re.findall(r"[a-z']+", text.lower()))
    return [float(len(words & concept)) + 0.01 for concept in CONCEPTS]


@dataclass
class EmbeddingServer:
    texts: list[str] = field(default_factory=list)
    failing: bool = False

    async def handle(self, request: Request) -> Response:
        body = await request.json()
        assert request.headers["authorization"] == "Bearer embed-key"
        if self.failing:
            return JSONResponse({"error": {"message": "overloaded"}}, 503)
        self.texts += body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": embed(text)}
            for i, text in enumerate(body["input"])
        ]
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})


SEARCH = suite(
    "dev",
    "time",
    "everything",
    extra=(
        ", discovery: {mode: search, maxResults: 3,"
        " embeddings: {providerRef: vectors, model: toy-embed}}"
    ),
)
PROVIDER = """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: LLMProvider
metadata: {name: vectors}
spec:
  type: openai-compatible
  endpoint: ENDPOINT
  model: unused-chat-model
  apiKey: {env: EMBED_KEY}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared() -> AsyncIterator[Started]:
    """server-everything and mcp-server-time, started once for the module."""
    async with everything_and_time() as started:
        yield started


def names(result: types.CallToolResult) -> list[str]:
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    return [tool["name"] for tool in json.loads(text)["tools"]]


async def test_embeddings_find_what_words_do_not_and_are_computed_once(shared: Started) -> None:
    provider = EmbeddingServer()
    app = Starlette(routes=[Route("/v1/embeddings", provider.handle, methods=["POST"])])
    async with EmbeddedHttpServer(app) as http:
        yaml = SEARCH + PROVIDER.replace("ENDPOINT", f"http://127.0.0.1:{http.port}/v1")
        environ = {"EMBED_KEY": "embed-key"}
        embedders = ProviderEmbedders(SecretResolver(environ=environ))
        embedders.update(desired(yaml).providers)
        async with (
            serving(
                yaml, shared.registry, shared.tools, environ=environ, embedders=embedders
            ) as served,
            mcp_client(served.url("dev")) as client,
        ):
            query = {"query": "which hour does the clock show"}
            await client.call_tool("find_tools", query)
            tool_count = len(served.gateway.suite("dev").tools)  # type: ignore[union-attr]
            await eventually(lambda: len(provider.texts) > tool_count, what="tools embedded")
            # no word of the query is in the time tools' definitions; the meaning is
            assert names(await client.call_tool("find_tools", query))[0].startswith("time_")
            embedded = len(provider.texts)
            served.reconfigure(yaml)  # the same catalogue: nothing is embedded again
            await client.call_tool("find_tools", query)
            await client.call_tool("find_tools", {"query": "parrot my words"})
            assert provider.texts[embedded:] == ["parrot my words"]
            provider.failing = True  # the provider failing leaves lexical ranking working
            assert names(await client.call_tool("find_tools", {"query": "echo a message"}))[0] == (
                "everything_echo"
            )


async def test_only_providers_that_serve_embeddings_are_accepted() -> None:
    yaml = (
        SEARCH
        + """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: LLMProvider
metadata: {name: vectors}
spec: {type: builtin}
"""
    )

    loaded = load_documents([("s.yaml", SERVERS + yaml)])
    assert [str(p) for p in loaded.problems if p.severity == "error"] == [
        "s.yaml:16: MCPSuite/dev: spec.discovery.embeddings.providerRef: LLMProvider 'vectors' "
        "is of type builtin, which serves no embeddings; use one of type azure-openai, ollama, "
        "openai, openai-compatible"
    ]
