"""Enhancement throughput through a slow provider, and the cost of an unchanged run.

Starts a local OpenAI-compatible provider on 127.0.0.1 (a thread running uvicorn) that
answers every chat completion after a fixed latency, then:

    first   enhance N tools through it with the provider's maxConcurrency C; the baseline
            is the ideal (N / C) x latency, and the ratio says how close the run came
    second  the same N tools again, unchanged: the target is zero calls in under 100 ms

Usage: .venv/bin/python benchmarks/enhance_throughput.py [--tools 500] [--concurrency 25]
       [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reconciler.core.models.provider import LLMProviderSpec
from reconciler.enhancement import EnhancementStore, ToolToEnhance, enhance_tools
from reconciler.llm import ProviderPool
from reconciler.secrets import SecretResolver


class SlowProvider:
    """An OpenAI-compatible chat completions endpoint with a fixed latency, in a thread."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.requests = 0
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", backlog=2048)
        self._server = uvicorn.Server(config)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])), daemon=True
        )

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            self.requests += 1
        await asyncio.sleep(self.latency)
        prompt = body["messages"][-1]["content"]
        name = re.search(r"^Tool name: (.+)$", prompt, re.MULTILINE)
        tool = name.group(1) if name else "tool"
        answer = {
            "description": f"Runs {tool}. Requires `query`.",
            "keywords": [tool],
            "categories": ["search"],
            "useCases": [f"Run {tool}"],
            "hints": {
                "readOnly": True,
                "destructive": False,
                "idempotent": True,
                "openWorld": False,
            },
        }
        return JSONResponse(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(answer)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 400, "completion_tokens": 80, "total_tokens": 480},
            }
        )

    def __enter__(self) -> SlowProvider:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the local provider did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def tools(count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"search_index_{i}",
            "description": f"Search index number {i}",
            "inputSchema": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["query"],
            },
        }
        for i in range(count)
    ]


async def measure(args: argparse.Namespace, provider: SlowProvider, state: Path) -> None:
    spec = LLMProviderSpec.model_validate(
        {
            "type": "openai-compatible",
            "endpoint": provider.url,
            "model": "bench-model",
            "maxConcurrency": args.concurrency,
            "timeoutSeconds": 30,
            "pricing": {"inputPerMillionTokens": 0.15, "outputPerMillionTokens": 0.6},
        }
    )
    requests = [
        ToolToEnhance(f"server{i % 10}", t, "bench") for i, t in enumerate(tools(args.tools))
    ]
    resolver = SecretResolver()
    pool = ProviderPool(resolver)
    with EnhancementStore(state / "state.db") as store:
        started = time.perf_counter()
        first = await enhance_tools(
            requests, providers={"bench": spec}, store=store, resolver=resolver, pool=pool,
            concurrency=max(32, args.concurrency),
        )  # fmt: skip
        first_seconds = time.perf_counter() - started
        calls_before = provider.requests
        started = time.perf_counter()
        second = await enhance_tools(
            requests, providers={"bench": spec}, store=store, resolver=resolver, pool=pool
        )
        second_seconds = time.perf_counter() - started
    await pool.aclose()

    ideal = args.tools / args.concurrency * args.latency
    print(f"tools: {args.tools}, provider latency {args.latency * 1000:.0f} ms, "
          f"maxConcurrency {args.concurrency}")  # fmt: skip
    print(f"first run:  {first_seconds:6.2f} s for {first.counts()['enhanced']} enhanced, "
          f"{calls_before} calls, cost {first.cost:.4f}")  # fmt: skip
    print(f"  baseline (tools / concurrency) x latency = {ideal:.2f} s; "
          f"ratio {first_seconds / ideal:.2f}")  # fmt: skip
    print(f"second run: {second_seconds * 1000:6.1f} ms for {second.counts()['cached']} cached, "
          f"{provider.requests - calls_before} calls (target: 0 calls, < 100 ms)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SlowProvider(args.latency) as provider:
        asyncio.run(measure(args, provider, Path(tmp)))


if __name__ == "__main__":
    main()
