"""What the gateway adds to a tools/call, against the same server reached other ways.

One run measures, with the same official SDK client code (`echo_client.py`:
`ClientSession.call_tool(TOOL, {"message": "hi"})`; only the transport differs):

    direct     server-everything over stdio, no gateway (the server's own cost)
    floor      a streamable HTTP endpoint that answers at once (`floor_server.py`: the cost of
               HTTP and the client SDK alone)
    gateway    the standalone controller (`python -m reconciler run`) serving a suite with
               server-everything, called as `everything_echo` on /suites/bench/mcp
    mcp-proxy  PyPI mcp-proxy (the common Python stdio-to-HTTP bridge) in front of the same
               server; it pins the 1.x SDK, so it gets its own virtualenv

Latency: after a warm-up, N sequential calls on one session per target, interleaved in
blocks so that noise from other work on the machine spreads evenly -> p50/p95.
Throughput: C concurrent clients, each with its own session (for `direct`, its own server
process), spread over a few client processes so that the client SDK is not capped at one
core, calling for a fixed time -> calls/s. Targets: gateway p50 <= 0.4 x mcp-proxy's and
<= floor + direct + 1.5 ms; gateway calls/s above mcp-proxy's.

Needs the test servers (`npm ci --prefix tests`); creates mcp-proxy's virtualenv in
benchmarks/.mcp-proxy-venv on first use (pip, from PyPI). Usage:

    .venv/bin/python benchmarks/gateway_bench.py [--calls 500] [--clients 16] [--seconds 10]
        [--rounds 2] [--client-processes 4] [--skip-proxy] [--proxy-venv DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

import anyio
import anyio.to_thread
from echo_client import EVERYTHING, STDIO, call, open_session
from gateway_targets import (
    PROXY_VENV,
    Processes,
    Target,
    start_floor,
    start_gateway,
    start_proxy,
)

WARMUP_CALLS = 50
BLOCK_CALLS = 10


@dataclass
class Figures:
    """One target's results: sequential latency percentiles and concurrent throughput."""

    p50_ms: float
    p95_ms: float
    calls_per_second: float = 0.0


async def latencies(targets: list[Target], calls: int, *, errlog: TextIO) -> dict[str, Figures]:
    """p50/p95 of `calls` sequential calls per target, measured in interleaved blocks."""
    samples: dict[str, list[float]] = {t.name: [] for t in targets}
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(open_session(t.address, errlog=errlog)) for t in targets
        ]
        for target, session in zip(targets, sessions, strict=True):
            for _ in range(WARMUP_CALLS):
                await call(session, target.tool)
        while any(len(s) < calls for s in samples.values()):
            for target, session in zip(targets, sessions, strict=True):
                timings = samples[target.name]
                for _ in range(min(BLOCK_CALLS, calls - len(timings))):
                    started = time.perf_counter()
                    await call(session, target.tool)
                    timings.append(time.perf_counter() - started)
    return {
        name: Figures(percentile(timings, 50), percentile(timings, 95))
        for name, timings in samples.items()
    }


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile of `samples` (seconds), in milliseconds."""
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


class Load:
    """The client processes putting one target under concurrent load, window after window.

    `clients` sessions are spread over `workers` processes (`echo_client.py`), so that the
    client SDK is not capped at one core; they stay open between windows.
    """

    def __init__(
        self, target: Target, processes: Processes, *, clients: int, workers: int, seconds: float
    ) -> None:
        self.processes = processes
        workers = min(workers, clients)
        shares = [clients // workers + (i < clients % workers) for i in range(workers)]
        script = str(Path(__file__).parent / "echo_client.py")
        self.names = [f"{target.name}-clients-{i}" for i in range(workers)]
        self.workers = [
            processes.start(name, [sys.executable, script, target.address, target.tool,
                                   "--clients", str(share), "--seconds", str(seconds)],
                            pipes=True)
            for name, share in zip(self.names, shares, strict=True)
        ]  # fmt: skip
        self.calls = 0
        self.seconds = 0.0

    async def ready(self) -> None:
        for index in range(len(self.workers)):
            await self._line(index)

    async def window(self) -> None:
        """One window: every client calls for the set time; counts calls and elapsed time."""
        begin = time.perf_counter()
        for worker in self.workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            worker.stdin.flush()
        self.calls += sum([int(await self._line(index)) for index in range(len(self.workers))])
        self.seconds += time.perf_counter() - begin

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def stop(self) -> None:
        for name in self.names:
            if name in self.processes.started:
                self.processes.stop(name)

    async def _line(self, index: int) -> str:
        stdout = self.workers[index].stdout
        assert stdout is not None
        text = (await anyio.to_thread.run_sync(stdout.readline)).decode().strip()
        if not text:
            name = self.names[index]
            raise RuntimeError(f"{name} exited:\n{self.processes.log_tail(name)}")
        return text


async def throughputs(
    targets: list[Target], processes: Processes, args: argparse.Namespace
) -> dict[str, float]:
    """Calls/s of each target under `args.clients` concurrent clients, in interleaved windows."""
    loads = [
        Load(t, processes, clients=args.clients, workers=args.client_processes,
             seconds=args.seconds / args.rounds)
        for t in targets
    ]  # fmt: skip
    try:
        for load in loads:
            await load.ready()
        for _ in range(args.rounds):
            for load in loads:
                await load.window()
    finally:
        for load in loads:
            load.stop()
    return {t.name: load.rate for t, load in zip(targets, loads, strict=True)}


def report(figures: dict[str, Figures], clients: int, *, load: tuple[float, float]) -> None:
    """The table, then each target's ratio; `load` is the 1-minute load average before/after."""
    rate_header = f"calls/s ({clients} clients)"
    print(f"{'target':<10} {'p50 ms':>8} {'p95 ms':>8} {rate_header:>22}")
    for name, f in figures.items():
        print(f"{name:<10} {f.p50_ms:>8.2f} {f.p95_ms:>8.2f} {f.calls_per_second:>22.0f}")
    gateway, direct, floor = figures["gateway"], figures["direct"], figures["floor"]
    overhead = gateway.p50_ms - (floor.p50_ms + direct.p50_ms)
    rows = [("gateway p50 - (floor p50 + direct p50)", f"{overhead:+.2f} ms",
             verdict("<= 1.5 ms", overhead <= 1.5))]  # fmt: skip
    proxy = figures.get("mcp-proxy")
    if proxy is not None:
        latency_ratio = gateway.p50_ms / proxy.p50_ms
        added_ratio = (gateway.p50_ms - floor.p50_ms) / (proxy.p50_ms - floor.p50_ms)
        rate_ratio = gateway.calls_per_second / proxy.calls_per_second
        rows = [
            ("gateway p50 / mcp-proxy p50", f"{latency_ratio:.2f}",
             verdict("<= 0.4", latency_ratio <= 0.4)),
            ("(gateway - floor) / (mcp-proxy - floor)", f"{added_ratio:.2f}",
             "(p50 each adds over the floor)"),
            *rows,
            ("gateway calls/s / mcp-proxy calls/s", f"{rate_ratio:.2f}",
             verdict("> 1", rate_ratio > 1)),
        ]  # fmt: skip
    print()
    for label, value, note in rows:
        print(f"{label:<40} {value:>10}  {note}")
    print(
        f"\nload average (1 min) {load[0]:.2f} before, {load[1]:.2f} after, {os.cpu_count()} CPUs"
    )


def verdict(goal: str, met: bool) -> str:
    return f"(target {goal}: {'met' if met else 'NOT met'})"


async def measure(
    targets: list[Target], processes: Processes, args: argparse.Namespace, *, errlog: TextIO
) -> dict[str, Figures]:
    print(f"latency: {args.calls} sequential calls per target ...", file=sys.stderr)
    figures = await latencies(targets, args.calls, errlog=errlog)
    print(f"throughput: {args.clients} clients per target ...", file=sys.stderr)
    for name, rate in (await throughputs(targets, processes, args)).items():
        figures[name].calls_per_second = rate
    return figures


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="sequential calls per target")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="seconds of concurrent load per target"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="windows the load seconds are split into"
    )
    parser.add_argument(
        "--client-processes", type=int, default=4, help="processes the clients are spread over"
    )
    parser.add_argument("--skip-proxy", action="store_true", help="leave mcp-proxy out")
    parser.add_argument("--proxy-venv", type=Path, default=PROXY_VENV, help="its virtualenv")
    args = parser.parse_args()
    if not Path(EVERYTHING[1]).exists():
        raise SystemExit("server-everything is not installed: run `npm ci --prefix tests`")
    signal.signal(signal.SIGTERM, interrupt)
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="gateway-bench-") as name,
        open(Path(name) / "direct.log", "w") as direct_log,
    ):
        processes = Processes(Path(name))
        try:
            targets = [
                Target("direct", STDIO, "echo"),
                start_floor(processes, Path(name)),
                start_gateway(processes, Path(name)),
            ]
            if not args.skip_proxy:
                targets.append(start_proxy(processes, args.proxy_venv))
            figures = anyio.run(lambda: measure(targets, processes, args, errlog=direct_log))
        except Exception:
            for process_name in processes.started:
                print(f"--- {process_name} log:", file=sys.stderr)
                print(processes.log_tail(process_name), file=sys.stderr)
            raise
        finally:
            processes.stop_all()
    report(figures, args.clients, load=(load_before, os.getloadavg()[0]))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: every process the benchmark started has been stopped")
