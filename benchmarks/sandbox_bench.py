"""What the bubblewrap sandbox costs, against the same server unsandboxed in the same run.

    start   spawn -> initialize -> tools/list, unsandboxed and sandboxed (network none),
            alternating, median of N rounds; the sandboxed time includes finding the
            installation and building the bubblewrap command line
    call    per-call latency of one tools/call over stdio (p50 and p95 of M calls)
    floor   the sandbox's own fixed cost, free of server start-up noise: building the
            wrapped launch (`confine`: installation discovery), and spawning `true` to its
            exit bare and under bubblewrap (median of 30)

Servers: server-everything (Node, `echo`) and mcp-server-time (Python, `get_current_time`).
Needs bubblewrap and the test servers (`bash .ci/setup`). Usage:

    .venv/bin/python benchmarks/sandbox_bench.py [--rounds 5] [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.controller.confinement import Confinement, sandbox_problem
from reconciler.controller.supervisor import LaunchSpec, ManagedProcess, spawn
from reconciler.core.models.server import Sandbox
from reconciler.upstream import UpstreamConnection, stdio_transport

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Subject:
    name: str
    launch: LaunchSpec
    tool: str
    arguments: dict[str, Any]


def subjects() -> list[Subject]:
    time_server = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    if time_server is None:
        raise SystemExit("mcp-server-time missing: pip install -e '.[test]'")
    everything = ROOT / "tests" / "node_modules" / ".bin" / "mcp-server-everything"
    return [
        Subject(
            "server-everything",
            LaunchSpec("node", [str(everything), "stdio"]),
            "echo",
            {"message": "hi"},
        ),
        Subject(
            "mcp-server-time",
            LaunchSpec(time_server, ["--local-timezone", "UTC"]),
            "get_current_time",
            {"timezone": "UTC"},
        ),
    ]


async def start(
    launch: LaunchSpec, confinement: Confinement | None
) -> tuple[float, ManagedProcess, UpstreamConnection]:
    """Seconds from spawn to the tools/list answer, with the running server."""
    started = time.perf_counter()
    if confinement is not None:
        launch = await confinement.confine(launch, Sandbox())
    process = await spawn(launch)
    connection = UpstreamConnection("bench", stdio_transport(process.stdout, process.stdin))
    await connection.connect(timeout=120)
    await connection.list_tools()
    return time.perf_counter() - started, process, connection


async def calls(connection: UpstreamConnection, subject: Subject, count: int) -> list[float]:
    params = {"name": subject.tool, "arguments": subject.arguments}
    for _ in range(10):  # warm up
        await connection.request("tools/call", params)
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        await connection.request("tools/call", params)
        latencies.append(time.perf_counter() - began)
    return latencies


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def measure(subject: Subject, *, rounds: int, count: int) -> dict[str, dict[str, float]]:
    confinement = Confinement()
    starts: dict[str, list[float]] = {"bare": [], "sandboxed": []}
    latencies: dict[str, list[float]] = {"bare": [], "sandboxed": []}
    for _ in range(rounds):
        for mode, box in (("bare", None), ("sandboxed", confinement)):
            seconds, process, connection = await start(subject.launch, box)
            starts[mode].append(seconds)
            try:
                latencies[mode] += await calls(connection, subject, count)
            finally:
                await connection.close()
                await process.stop()
    return {
        mode: {
            "start": statistics.median(starts[mode]),
            "p50": statistics.median(latencies[mode]),
            "p95": p95(latencies[mode]),
        }
        for mode in starts
    }


async def floor(samples: int = 30) -> dict[str, float]:
    """Seconds: confine() alone, and spawn-to-exit of `true` bare and sandboxed (medians)."""
    confinement = Confinement()
    launch = LaunchSpec("true")
    await confinement.check()
    confine_times, bare, boxed = [], [], []
    for _ in range(samples):
        began = time.perf_counter()
        wrapped = await confinement.confine(launch, Sandbox())
        confine_times.append(time.perf_counter() - began)
        for spec, into in ((launch, bare), (wrapped, boxed)):
            began = time.perf_counter()
            process = await spawn(spec)
            await process.wait()
            into.append(time.perf_counter() - began)
            await process.stop()
    return {
        "confine": statistics.median(confine_times),
        "bare": statistics.median(bare),
        "sandboxed": statistics.median(boxed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    problem = sandbox_problem()
    if problem is not None:
        raise SystemExit(problem)
    fixed = asyncio.run(floor())
    print(
        f"floor: confine() {fixed['confine'] * 1000:.1f} ms; spawn->exit of `true`:"
        f" bare {fixed['bare'] * 1000:.1f} ms, sandboxed {fixed['sandboxed'] * 1000:.1f} ms"
        f" (+{(fixed['sandboxed'] - fixed['bare']) * 1000:.1f} ms)"
    )
    print(f"{'server':<20} {'mode':<10} {'start (median)':>15} {'call p50':>10} {'call p95':>10}")
    for subject in subjects():
        figures = asyncio.run(measure(subject, rounds=args.rounds, count=args.calls))
        for mode, row in figures.items():
            print(
                f"{subject.name:<20} {mode:<10} {row['start'] * 1000:>12.0f} ms"
                f" {row['p50'] * 1000:>7.2f} ms {row['p95'] * 1000:>7.2f} ms"
            )
        bare, boxed = figures["bare"], figures["sandboxed"]
        print(
            f"{'':<20} {'added':<10} {(boxed['start'] - bare['start']) * 1000:>+12.0f} ms"
            f" {(boxed['p50'] - bare['p50']) * 1000:>+7.2f} ms"
            f" {(boxed['p95'] - bare['p95']) * 1000:>+7.2f} ms"
        )


if __name__ == "__main__":
    main()
