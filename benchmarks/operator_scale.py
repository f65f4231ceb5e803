"""The operator handling many MCPServers against the kmock Kubernetes API emulator.

For each size (default 100, then 1,000), in one process: an emulated cluster, the real
operator (kopf, logged in from a kubeconfig), then

    create    N MCPServers (+ one MCPSuite per 10 servers) posted as `kubectl apply` would,
              until every server has its Deployment, Service and ConfigMap and a status,
              and the namespace's gateway lists every suite: objects/s
    resume    the operator restarted over the same N servers: time until every server was
              re-planned (all unchanged: no object written), and objects written meanwhile
    requests  API requests per server, and per second (the emulator's own throughput)
    memory    the process's peak RSS growth, and (with --trace) the memory allocated by the
              operator's own code (reconciler, kopf, kubernetes client) per server

and prints the figures, with the per-server time of each size against the first size
(the baseline measured in the same run: a ratio near 1 is linear scaling).

The emulator runs in the same process and keeps every version of every object, so the RSS
figure includes it; --trace separates what the operator holds.

Usage: .venv/bin/python benchmarks/operator_scale.py [--sizes 100,1000] [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.operator import Operator, OperatorSettings
from tests.kube_emulator import (
    EmulatedCluster,
    emulated_cluster,
    running_operator,
)

SUITE_SIZE = 10
CONCURRENCY = 32
TRACED = ("*/reconciler/*", "*/kopf/*", "*/kubernetes/*", "*/urllib3/*")


def server(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": f"srv-{i:05d}", "labels": {"suite": f"s{i // SUITE_SIZE}"}},
        "spec": {
            "transport": "stdio",
            "command": "mcp-server-time",
            "args": ["--local-timezone", "UTC", "--instance", str(i)],
            "env": [
                {"name": "TZ", "value": "UTC"},
                {
                    "name": "API_TOKEN",
                    "valueFrom": {"secretKeyRef": {"name": f"srv-{i:05d}", "key": "token"}},
                },
            ],
        },
    }


def suite(s: int) -> dict[str, Any]:
    return {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "MCPSuite",
        "metadata": {"name": f"s{s}"},
        "spec": {"selector": {"matchLabels": {"suite": f"s{s}"}}},
    }


def settings(cluster: EmulatedCluster, state: Path) -> OperatorSettings:
    return OperatorSettings(
        all_namespaces=True,
        standalone=True,
        kubeconfig=cluster.kubeconfig,
        health_interval=3600,  # one discovery per server at start, then quiet
        drift_interval=3600,
        discovery_url="http://127.0.0.1:9/{name}",
        discovery_timeout=1.0,
        state_dir=state,
    )


async def post_all(cluster: EmulatedCluster, objects: list[dict[str, Any]]) -> None:
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(obj: dict[str, Any]) -> None:
        async with slots:
            await cluster.create(obj)

    await asyncio.gather(*(one(obj) for obj in objects))


def converged(cluster: EmulatedCluster, n: int) -> bool:
    """Every server has its three objects and a status; the gateway lists every suite.

    Reads the emulator's objects in place (no copies: this runs in the operator's loop).
    """
    counts: dict[str, int] = {"deployments": 0, "services": 0, "configmaps": 0, "status": 0}
    for (kind, _, name), obj in list(cluster.emulator.objects.items()):
        if obj.deleted:
            continue
        plural = kind.plural
        if plural in ("deployments", "services", "configmaps") and name.startswith("mcp-server-"):
            counts[plural] += 1
        elif plural == "mcpservers" and (obj.raw.get("status") or {}).get("phase"):
            counts["status"] += 1
    if min(counts.values()) < n:
        return False
    gateway = cluster.get("ConfigMap", "default", "mcp-gateway")
    text = ((gateway or {}).get("data") or {}).get("resources.yaml", "")
    return text.count("kind: MCPSuite") == n // SUITE_SIZE


async def wait(check: Any, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the operator did not converge in time")
        await asyncio.sleep(1.0)


def writes(cluster: EmulatedCluster) -> int:
    """Requests that created or changed owned objects."""
    return sum(
        1
        for r in cluster.emulator.seen
        if r.method in ("POST", "PATCH", "DELETE")
        and r.resource is not None
        and r.resource.plural in ("deployments", "services", "configmaps")
    )


def server_reads(cluster: EmulatedCluster) -> int:
    return sum(
        1
        for r in cluster.emulator.seen
        if r.method == "GET" and r.resource is not None and r.resource.plural == "deployments"
    )


@contextlib.asynccontextmanager
async def operator_in(cluster: EmulatedCluster, state: Path) -> AsyncIterator[Operator]:
    async with running_operator(cluster, settings(cluster, state)) as operator:
        yield operator


async def measure(n: int, *, trace: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        async with emulated_cluster(root) as cluster:
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if trace:
                tracemalloc.start()
            async with operator_in(cluster, root / "state") as operator:
                objects = [server(i) for i in range(n)] + [suite(s) for s in range(n // SUITE_SIZE)]
                started = time.perf_counter()
                await post_all(cluster, objects)
                posted = time.perf_counter() - started
                await wait(lambda: converged(cluster, n), timeout=60 + n * 0.5)
                create_seconds = time.perf_counter() - started
                namespace_passes = operator.namespaces.reconciles
                requests = len(cluster.emulator.seen)
                traced = 0.0
                if trace:
                    snapshot = tracemalloc.take_snapshot().filter_traces(
                        [tracemalloc.Filter(True, pattern) for pattern in TRACED]
                    )
                    traced = sum(stat.size for stat in snapshot.statistics("filename"))
                    tracemalloc.stop()
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            writes_before, reads_before = writes(cluster), server_reads(cluster)
            started = time.perf_counter()
            async with operator_in(cluster, root / "state"):
                await wait(lambda: server_reads(cluster) - reads_before >= n, timeout=60 + n * 0.5)
                resume_seconds = time.perf_counter() - started
                resume_writes = writes(cluster) - writes_before
    return {
        "servers": n,
        "post_seconds": posted,
        "create_seconds": create_seconds,
        "objects_per_second": n * 3 / create_seconds,
        "servers_per_second": n / create_seconds,
        "namespace_passes": namespace_passes,
        "requests_per_server": requests / n,
        "requests_per_second": requests / create_seconds,
        "resume_seconds": resume_seconds,
        "resume_writes": resume_writes,
        "rss_growth_mib": (rss_after - rss_before) / 1024,
        "operator_kib_per_server": traced / 1024 / n if trace else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--trace", action="store_true", help="attribute memory (slower)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sizes = [int(size) for size in args.sizes.split(",")]
    results = [asyncio.run(measure(n, trace=args.trace)) for n in sizes]
    baseline = results[0]["create_seconds"] / results[0]["servers"]
    print(
        f"{'servers':>8} {'create s':>9} {'objects/s':>10} {'servers/s':>10} {'x base':>7} "
        f"{'ns passes':>9} {'req/server':>10} {'req/s':>6} {'resume s':>9} "
        f"{'resume writes':>13} {'RSS +MiB':>9} {'KiB/server':>10}"
    )
    for r in results:
        ratio = (r["create_seconds"] / r["servers"]) / baseline
        print(
            f"{r['servers']:>8} {r['create_seconds']:>9.2f} {r['objects_per_second']:>10.1f} "
            f"{r['servers_per_second']:>10.1f} {ratio:>7.2f} {r['namespace_passes']:>9.0f} "
            f"{r['requests_per_server']:>10.1f} {r['requests_per_second']:>6.0f} "
            f"{r['resume_seconds']:>9.2f} {r['resume_writes']:>13.0f} "
            f"{r['rss_growth_mib']:>9.1f} {r['operator_kib_per_server']:>10.1f}"
        )
    print(
        "objects/s counts the Deployment, Service and ConfigMap of each server; 'x base' is\n"
        "the per-server time against the first size (1.00 = linear); req/s is what the\n"
        "in-process emulator served (it shares the event loop and dominates the time)."
    )


if __name__ == "__main__":
    main()
