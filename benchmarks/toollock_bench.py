"""What the tool lock and the poisoning scan cost.

Times, on generated tool definitions shaped like the reference servers' (a description of a
few sentences, three parameters each with its own description):

    scan        scan_tool over 1,000 tools (what `mcp-reconciler scan` spends after discovery)
    judge       judge_state over 1,000 tools of 50 servers with a ToolLock each
                (hash + scan + verdict: done once per change of tools or resources)
    config      build_gateway_config for the same 50 servers / 1,000 tools, without any
                ToolLock (the baseline: main's work plus the scan) and with a lock per server
    tools/list  Gateway.visible_tools for one suite of 1,000 tools, and the route lookup of
                a tools/call, against the same configuration without locks

The lock is applied when the configuration is built; tools/list and tools/call read the
built configuration, so their figures must be equal with and without locks.

Usage: .venv/bin/python benchmarks/toollock_bench.py [--tools 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.core.desired import DesiredState
from reconciler.core.models import MCPServer, MCPSuite, ToolLock
from reconciler.gateway import Gateway, build_gateway_config
from reconciler.secrets import SecretResolver
from reconciler.toollock import judge_state, lock_of, scan_tool

SERVERS = 50


def tool(server: int, index: int) -> dict[str, Any]:
    return {
        "name": f"action_{index:03d}",
        "description": (
            f"Perform action {index} of service {server}. Reads the record identified by the "
            "given key and returns it as JSON. Fails when the key does not exist; the caller "
            "may retry with another key. Results are cached for a minute."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "key": {"type": "string", "description": "Identifier of the record."},
                "limit": {"type": "integer", "description": "Maximum number of items."},
                "verbose": {"type": "boolean", "description": "Include every field."},
            },
            "required": ["key"],
        },
        "annotations": {"readOnlyHint": True},
    }


def fixture(total: int) -> tuple[DesiredState, DesiredState, dict[str, list[dict[str, Any]]]]:
    per = max(1, total // SERVERS)
    tools = {f"srv-{s:02d}": [tool(s, i) for i in range(per)] for s in range(SERVERS)}
    servers = [
        MCPServer.model_validate({"metadata": {"name": name}, "spec": {"command": "x"}})
        for name in tools
    ]
    suite = MCPSuite.model_validate(
        {"metadata": {"name": "all"}, "spec": {"servers": [{"name": n} for n in tools]}}
    )
    locks = [
        ToolLock.model_validate(
            {
                "metadata": {"name": name},
                "spec": {"tools": {k: v.model_dump() for k, v in lock_of(found).items()}},
            }
        )
        for name, found in tools.items()
    ]
    return DesiredState.of([*servers, suite]), DesiredState.of([*servers, suite, *locks]), tools


def best(fn: Callable[[], object], repeat: int) -> float:
    """Median of `repeat` runs, in milliseconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def per_call(fn: Callable[[], object], count: int, repeat: int) -> float:
    """Median over `repeat` batches of the time of one call, in microseconds."""

    def batch() -> None:
        for _ in range(count):
            fn()

    return best(batch, repeat) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tools", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    plain, locked, tools = fixture(args.tools)
    flat = [t for found in tools.values() for t in found]
    resolver = SecretResolver(Path("/nonexistent"))
    print(f"{len(flat)} tools of {len(tools)} servers, median of {args.repeat} runs")
    scan_ms = best(lambda: [scan_tool("s", t) for t in flat], args.repeat)
    judge_ms = best(lambda: judge_state(locked, tools), args.repeat)
    base_ms = best(lambda: build_gateway_config(plain, tools, resolver=resolver), args.repeat)
    lock_ms = best(lambda: build_gateway_config(locked, tools, resolver=resolver), args.repeat)
    print(f"scan of {len(flat)} tools           {scan_ms:8.1f} ms")
    print(f"judge_state (hash+scan+verdict) {judge_ms:8.1f} ms")
    print(f"gateway config, no ToolLock     {base_ms:8.1f} ms")
    print(f"gateway config, 50 ToolLocks    {lock_ms:8.1f} ms  (x{lock_ms / base_ms:.2f})")
    for label, state in (("no ToolLock", plain), ("50 ToolLocks", locked)):
        listed, list_us, route_us = serving(state, tools, resolver, args.repeat)
        print(
            f"{label:<13} tools/list of {listed} tools {list_us:6.2f} µs;"
            f" tools/call route lookup {route_us:6.3f} µs"
        )


def serving(
    state: DesiredState,
    tools: dict[str, list[dict[str, Any]]],
    resolver: SecretResolver,
    repeat: int,
) -> tuple[int, float, float]:
    """Tools listed, µs per tools/list and per tools/call route lookup on a built config."""
    gateway = Gateway(upstreams=None)  # type: ignore[arg-type]
    config = build_gateway_config(state, tools, resolver=resolver)
    gateway.update(config)
    suite = config.suites["all"]
    listed = len(gateway.visible_tools(suite, "anonymous")[0])
    list_us = per_call(lambda: gateway.visible_tools(suite, "anonymous"), 2000, repeat)
    name = next(iter(suite.tools))
    route_us = per_call(lambda: suite.tools.get(name), 200000, repeat)
    return listed, list_us, route_us


if __name__ == "__main__":
    main()
