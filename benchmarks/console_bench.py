"""First render of the web console's overview for a 100-server controller.

The state store is populated as a controller with N servers (10 tools each, a suite over
all of them, 200 events, 100 health checks per server) would leave it, plus a week of
gateway calls spread over 100 tools; the console's routes and `/healthz` are served over
real HTTP (uvicorn, as `run` does) and timed from a client in the same run. The baseline is
`/healthz` on the same listener; the target is a first `/ui/` under 300 ms. A server's
page (tools, health history) and the usage page (3 windows, charts per tool over time
buckets) are timed the same way.

    .venv/bin/python benchmarks/console_bench.py [--servers 100] [--calls 50000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx

from reconciler.console import ConsoleGuard, console_routes
from reconciler.core.models import Condition, ResourceKey
from reconciler.embedded_http import EmbeddedHttpServer
from reconciler.gateway import Gateway, HostPolicy
from reconciler.gateway.server import create_app
from reconciler.store import Store
from reconciler.store.records import CallRecord, Capability, InventoryRecord


class _Controller:
    """What the console reads of a running controller: its store, gateway and URL."""

    def __init__(self, store: Store, gateway: Gateway, state_dir: Path) -> None:
        self.store = store
        self.gateway = gateway
        self.gateway_url = "http://127.0.0.1:8765"
        self.reconciler = None
        self.options = SimpleNamespace(state_dir=state_dir)

    def trigger(self) -> None:
        pass


def populate(store: Store, servers: int, calls: int) -> None:
    ready = Condition(type="Ready", status="True", reason="Ready")
    with store.batch():
        for index in range(servers):
            name = f"server-{index:03d}"
            server = f"default/{name}"
            store.put_status(ResourceKey("MCPServer", "default", name), phase="Ready",
                             conditions=[ready])  # fmt: skip
            store.put_instance(
                InventoryRecord(server=server, phase="Ready", running=True, pid=10_000 + index,
                                started_at=time.time() - 3600, restarts=index % 3)
            )  # fmt: skip
            tools = [Capability(f"tool_{t}", f"Tool {t} of {name}.", {"type": "object"})
                     for t in range(10)]  # fmt: skip
            store.replace_capabilities(server, "tool", tools)
        store.put_status(ResourceKey("MCPSuite", "default", "all"), phase="Ready",
                         conditions=[ready])  # fmt: skip
        for index in range(200):
            store.add_event("info", "server", "Started", f"server-{index % servers:03d} ready",
                            resource=f"MCPServer/server-{index % servers:03d}")  # fmt: skip
        store.record_attempt("sha256:" + "0" * 64, outcome="Succeeded")
        now = time.time()
        for index in range(100):
            store.record_health("default/server-000", ok=index % 17 != 0, latency_ms=5.0,
                                ts=now - 30 * (100 - index))  # fmt: skip
    shuffle = random.Random(7)
    week = 7 * 86400
    store.record_calls(
        CallRecord(now - shuffle.random() * week, "all", f"server-{n // 10:03d}",
                   f"tool_{n % 10}", shuffle.expovariate(1 / 40),
                   "ok" if shuffle.random() > 0.05 else "tool_error")
        for n in (shuffle.randrange(100) for _ in range(calls))  # a hundred tools are called
    )  # fmt: skip


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


async def main(servers: int, calls: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        populate(store, servers, calls)
        gateway = Gateway(cast(Any, None), hosts=HostPolicy.of())
        controller = _Controller(store, gateway, Path(tmp))
        guard = ConsoleGuard(hosts=gateway.hosts, token_required=False)
        app = create_app(gateway, extra_routes=console_routes(cast(Any, controller), guard))
        async with EmbeddedHttpServer(app, host="127.0.0.1", port=0, name="bench") as http:
            base = f"http://127.0.0.1:{http.port}"
            async with httpx.AsyncClient(base_url=base) as client:
                await client.get("/readyz")  # open the connection: it is not what is timed
                first_health = await timed(client, "/healthz")
                first_ui = await timed(client, "/ui/")
                health = [await timed(client, "/healthz") for _ in range(repeat)]
                ui = [await timed(client, "/ui/") for _ in range(repeat)]
                size = len((await client.get("/ui/")).content)
                pages = {}
                for path in ("/ui/servers/default/server-000", "/ui/usage?window=1h",
                             "/ui/usage?window=7d"):  # fmt: skip
                    first = await timed(client, path)
                    again = [await timed(client, path) for _ in range(repeat)]
                    pages[path] = (first, statistics.median(again),
                                   len((await client.get(path)).content))  # fmt: skip
        stored = len(store.audit_calls(since=0, limit=10**9))
        store.close()
    print(f"servers: {servers}, calls stored: {stored}, /ui/ size: {size / 1024:.0f} KiB")
    print(f"first render   /ui/ {first_ui:7.1f} ms   /healthz {first_health:6.1f} ms")
    print(
        f"median of {repeat:<3} /ui/ {statistics.median(ui):7.1f} ms   "
        f"/healthz {statistics.median(health):6.1f} ms"
    )
    for path, (first, median, page_size) in pages.items():
        print(f"{path}: first {first:.1f} ms, median {median:.1f} ms, {page_size / 1024:.0f} KiB")
    print(f"target: first /ui/ under 300 ms: {'met' if first_ui < 300 else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--calls", type=int, default=50_000, help="gateway calls over a week")
    parser.add_argument("--repeat", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.servers, arguments.calls, arguments.repeat))
