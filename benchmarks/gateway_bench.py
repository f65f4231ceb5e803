"""What the gateway adds to a tools/call, against the same server reached other ways.

One run measures, with the same official SDK client code (`echo_client.py`:
`ClientSession.call_tool(TOOL, {"message": "hi"})`; only the transport differs):

    direct         server-everything over stdio, no gateway (the server's own cost)
    floor          a streamable HTTP endpoint that answers at once (`floor_server.py`: the
                   cost of HTTP and the client SDK alone)
    relay          the bare relay (`bare_relay.py`): the floor's HTTP stack forwarding each
                   request to server-everything's stdio and nothing else; the least any
                   Python gateway can do, and the baseline the gateway is held to
    gateway        the standalone controller (`python -m reconciler run`) serving a suite
                   with server-everything, called as `everything_echo`; one target (and
                   one controller) per `GATEWAY_VARIANTS` entry (`gateway`: no authentication,
                   `gateway-token`: a static bearer token and an allow rule,
                   `gateway-oidc`: a JWT verified against a warm JWKS, `gateway-lock`: the
                   server's tools pinned by an enforced ToolLock)
    mcp-proxy      PyPI mcp-proxy (the common Python stdio-to-HTTP bridge) in front of the
                   same server; it pins the 1.x SDK, so it gets its own virtualenv

Latency: after a warm-up, N sequential calls on one session per target, interleaved in
blocks so that noise from other work on the machine spreads evenly, in R rounds -> the
best round's p50 and p95, and the CPU time the serving process spent per call (all its
threads; the server behind it not counted), which other work on the machine disturbs far
less than wall-clock time. Throughput at 1, 16 and 64 concurrent clients, each with its
own session (for `direct`, its own server process), spread over a few client processes
so that the client SDK is not capped at one core, in W windows per target taken in turn
(the order rotated each time, so that no target always follows the same one) -> the best
window's calls/s (every window's figure is kept in figures.json, and the 16-client
target also shows the ratio of the median windows), the least CPU time the serving
process spent per call in a window, and every failed call counted. Memory: the
gateway's resident set before and after K idle sessions are opened (initialized, then
left alone) -> KB per session. Profile: py-spy samples the gateway while one client
calls it back to back (`--profile-clients`); the flame graph and the collapsed stacks are
written to --out, the functions with the most samples are printed (samples holding the
GIL only: waits on sockets and pipes are left out).

The report ends with the targets (the gateway hot path against the bare relay), each
PASS or FAIL with the figures it was decided on, for every gateway variant:

    p50                gateway p50 - relay p50                    <= 0.3 ms
    added vs mcp-proxy gateway p50 - (floor p50 + direct p50)
                           <= 0.25 x (mcp-proxy p50 - (floor p50 + direct p50))
    calls/s@16         gateway calls/s at 16 clients              >= 0.9 x relay's
                       (best window of each; the median windows' ratio beside it)
    failed calls       failed calls of the gateway, whole run     0
    memory             KB per idle session                        < 20 KB

and the same figures as Markdown tables (`report.md` in --out) for the README.

Needs the test servers (`npm ci --prefix tests`); creates mcp-proxy's virtualenv in
benchmarks/.mcp-proxy-venv and installs py-spy into the project's virtualenv on first use
(pip, from PyPI). Usage:

    .venv/bin/python benchmarks/gateway_bench.py [--calls 300] [--rounds 3]
        [--clients 1,16,64] [--windows 5] [--seconds 2] [--client-processes 4]
        [--sessions 1000]
        [--profile-seconds 8] [--profile-clients 1] [--skip-proxy] [--skip-profile]
        [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

import anyio
import anyio.to_thread
import httpx2
from echo_client import EVERYTHING, STDIO, call, open_session
from gateway_targets import (
    GATEWAY_VARIANTS,
    PROXY_VENV,
    ROOT,
    Processes,
    Target,
    start_floor,
    start_gateway,
    start_proxy,
    start_relay,
)

WARMUP_CALLS = 50
BLOCK_CALLS = 5
PY_SPY_VERSION = "0.4.3"


@dataclass
class Figures:
    """One target's results: the best round's latency, the best window's calls/s per
    number of clients, failed calls, and memory per idle session."""

    p50_ms: float = float("inf")
    p95_ms: float = float("inf")
    cpu_us: float | None = None
    """CPU time of the serving process per sequential call (best round), microseconds."""
    rates: dict[int, float] = field(default_factory=dict)
    """Calls/s of the best window, per number of clients."""
    windows: dict[int, list[float]] = field(default_factory=dict)
    """Calls/s of every window, in the order they ran, per number of clients."""
    load_cpu_us: dict[int, float] = field(default_factory=dict)
    """CPU time of the serving process per call (least of the windows), per number of
    clients, microseconds."""
    failed: int = 0
    session_kb: float | None = None


# -- latency ----------------------------------------------------------------------------


async def latencies(
    targets: list[Target], figures: dict[str, Figures], calls: int, rounds: int, *, errlog: TextIO
) -> None:
    """p50/p95 of `calls` sequential calls per target per round, in interleaved blocks;
    each target keeps its best round."""
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                open_session(t.address, errlog=errlog, headers=t.headers)
            )
            for t in targets
        ]
        for target, session in zip(targets, sessions, strict=True):
            for _ in range(WARMUP_CALLS):
                await call(session, target.tool)
        for number in range(rounds):
            print(f"  latency round {number + 1}/{rounds}", file=sys.stderr)
            samples: dict[str, list[float]] = {t.name: [] for t in targets}
            cpu = dict.fromkeys(samples, 0.0)
            while any(len(s) < calls for s in samples.values()):
                for target, session in zip(targets, sessions, strict=True):
                    timings = samples[target.name]
                    before = cpu_seconds(target.pid)
                    for _ in range(min(BLOCK_CALLS, calls - len(timings))):
                        started = time.perf_counter()
                        await call(session, target.tool)
                        timings.append(time.perf_counter() - started)
                    cpu[target.name] += cpu_seconds(target.pid) - before
            for target in targets:
                f, timings = figures[target.name], samples[target.name]
                f.p50_ms = min(f.p50_ms, percentile(timings, 50))
                f.p95_ms = min(f.p95_ms, percentile(timings, 95))
                if target.pid is not None:
                    per_call = cpu[target.name] / len(timings) * 1e6
                    f.cpu_us = per_call if f.cpu_us is None else min(f.cpu_us, per_call)


def cpu_seconds(pid: int | None) -> float:
    """CPU time a process has run so far, all its threads (0 for no process)."""
    if pid is None:
        return 0.0
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile of `samples` (seconds), in milliseconds."""
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


# -- throughput -------------------------------------------------------------------------


class Load:
    """The client processes putting one target under concurrent load, window after window.

    `clients` sessions are spread over `workers` processes (`echo_client.py`), so that the
    client SDK is not capped at one core; they stay open between windows.
    """

    def __init__(self, target: Target, processes: Processes, *, clients: int, workers: int) -> None:
        self.processes = processes
        self.pid = target.pid
        workers = min(workers, clients)
        shares = [clients // workers + (i < clients % workers) for i in range(workers)]
        script = str(Path(__file__).parent / "echo_client.py")
        headers = [arg for k, v in target.headers.items() for arg in ("--header", f"{k}:{v}")]
        self.names = [f"{target.name}-{clients}-clients-{i}" for i in range(workers)]
        self.workers = [
            processes.start(name, [sys.executable, script, target.address, target.tool,
                                   "--clients", str(share), *headers], pipes=True)
            for name, share in zip(self.names, shares, strict=True)
        ]  # fmt: skip
        self.best = 0.0
        """The best window's calls/s."""
        self.rates: list[float] = []
        """Every window's calls/s."""
        self.cpu_us: float | None = None
        """The least CPU time the serving process spent per call in a window, microseconds."""
        self.failed = 0

    async def ready(self) -> None:
        for index in range(len(self.workers)):
            await self._line(index)

    async def window(self, seconds: float) -> None:
        """One window: every client calls for `seconds`; keeps the best rate and the least
        CPU time per call."""
        cpu = cpu_seconds(self.pid)
        begin = time.perf_counter()
        for worker in self.workers:
            assert worker.stdin is not None
            worker.stdin.write(f"go {seconds}\n".encode())
            worker.stdin.flush()
        counts = [(await self._line(index)).split() for index in range(len(self.workers))]
        elapsed = time.perf_counter() - begin
        cpu = cpu_seconds(self.pid) - cpu
        done = sum(int(done) for done, _ in counts)
        self.best = max(self.best, done / elapsed)
        self.rates.append(done / elapsed)
        if self.pid is not None and done:
            per_call = cpu / done * 1e6
            self.cpu_us = per_call if self.cpu_us is None else min(self.cpu_us, per_call)
        self.failed += sum(int(failed) for _, failed in counts)

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
    targets: list[Target],
    figures: dict[str, Figures],
    processes: Processes,
    args: argparse.Namespace,
) -> None:
    """Calls/s of each target at each number of clients: `--windows` windows per target,
    the targets taken in turn, the order rotated by one target each time."""
    for clients in args.clients:
        print(f"  {clients} clients per target", file=sys.stderr)
        loads = [
            Load(t, processes, clients=clients, workers=args.client_processes) for t in targets
        ]
        try:
            for load in loads:
                await load.ready()
            for number in range(args.windows):
                turn = number % len(loads)
                for load in loads[turn:] + loads[:turn]:
                    await load.window(args.seconds)
        finally:
            for load in loads:
                load.stop()
        for target, load in zip(targets, loads, strict=True):
            figures[target.name].rates[clients] = load.best
            figures[target.name].windows[clients] = load.rates
            if load.cpu_us is not None:
                figures[target.name].load_cpu_us[clients] = load.cpu_us
            figures[target.name].failed += load.failed


# -- memory per idle session ------------------------------------------------------------


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def session_memory(target: Target, sessions: int) -> float:
    """KB of resident memory the target's process gains per idle session: `sessions`
    sessions are initialized (initialize + notifications/initialized) and left open."""
    assert target.pid is not None
    headers = {"accept": "application/json, text/event-stream", **target.headers}
    initialize = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "1"}},
    }  # fmt: skip
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:

        async def open_one() -> None:
            response = await http.post(target.address, json=initialize)
            response.raise_for_status()
            session = {"mcp-session-id": response.headers["mcp-session-id"]}
            (await http.post(target.address, json=initialized, headers=session)).raise_for_status()

        for _ in range(50):  # warm up: first allocations, caches
            await open_one()
        before = resident_kb(target.pid)
        for _ in range(sessions):
            await open_one()
        await anyio.sleep(1)
        after = resident_kb(target.pid)
    return (after - before) / sessions


# -- profile ----------------------------------------------------------------------------


def py_spy() -> Path:
    """py-spy in the project's virtualenv (a benchmark-only tool), installed when missing."""
    executable = Path(sys.executable).parent / "py-spy"
    if not executable.exists():
        print(f"installing py-spy=={PY_SPY_VERSION} ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", f"py-spy=={PY_SPY_VERSION}"],
            check=True,
        )
    return executable


async def profile(target: Target, processes: Processes, args: argparse.Namespace) -> list[str]:
    """Sample the target's process while --profile-clients clients call it back to back: a
    flame graph and collapsed stacks in --out; returns the report lines (functions with
    the most samples)."""
    assert target.pid is not None
    spy = py_spy()
    load = Load(target, processes, clients=args.profile_clients, workers=args.client_processes)
    lines: list[str] = []
    try:
        await load.ready()
        for kind, name in (("flamegraph", "gateway-flame.svg"), ("raw", "gateway-stacks.txt")):
            output = args.out / name
            recorder = start_py_spy(spy, target.pid, kind, output, args.profile_seconds)
            await load.window(args.profile_seconds)
            _, error = await anyio.to_thread.run_sync(recorder.communicate)
            if recorder.returncode != 0:
                return [f"py-spy failed ({recorder.returncode}): {error.decode()[-500:]}"]
        lines = top_frames(args.out / "gateway-stacks.txt")
    finally:
        load.stop()
    return lines


def start_py_spy(
    spy: Path, pid: int, kind: str, output: Path, seconds: float
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--rate", "250", "--nonblocking", "--gil",
         "--duration", str(int(seconds)), "--format", kind, "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def top_frames(stacks: Path, *, count: int = 25) -> list[str]:
    """The frames with the most samples, by self (innermost) and by total (on the stack)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in stacks.read_text().splitlines():
        frames_text, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        n = int(number)
        frames = [short_frame(f) for f in frames_text.split(";") if f]
        samples += n
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return ["no samples"]
    out = [f"{samples} samples; self % | total % | function (file:line)"]
    for frame, n in own.most_common(count):
        out.append(f"{100 * n / samples:6.1f} | {100 * total[frame] / samples:6.1f} | {frame}")
    return out


def short_frame(frame: str) -> str:
    """`function (path/to/module.py:12)` with the path cut to the package."""
    for marker in ("site-packages/", "python3.11/", str(ROOT) + "/"):
        if marker in frame:
            head, _, rest = frame.partition("(")
            return f"{head}({rest.split(marker, 1)[1]}"
    return frame


# -- report -----------------------------------------------------------------------------

LABELS = {
    "direct": "direct stdio",
    "floor": "floor (HTTP, answers at once)",
    "relay": "bare relay",
    "gateway": "**gateway** (open suite)",
    "gateway-token": "**gateway-token** (static bearer token)",
    "gateway-oidc": "**gateway-oidc** (OIDC JWT, warm JWKS)",
    "gateway-lock": "**gateway-lock** (enforced ToolLock)",
    "mcp-proxy": "mcp-proxy 0.13",
}
"""How each target is named in the Markdown table."""


@dataclass(frozen=True)
class Check:
    """One target checked for one gateway variant."""

    variant: str
    target: str
    measured: str
    goal: str
    met: bool


def checks(figures: dict[str, Figures]) -> list[Check]:
    """Every target of every gateway variant, decided on this run's figures."""
    direct, floor, relay = figures["direct"], figures["floor"], figures["relay"]
    proxy = figures.get("mcp-proxy")
    base = floor.p50_ms + direct.p50_ms
    found = []
    for name, f in figures.items():
        if not name.startswith("gateway"):
            continue
        behind = f.p50_ms - relay.p50_ms
        found.append(Check(name, "p50 - relay p50", f"{behind:+.2f} ms", "<= 0.3 ms",
                           behind <= 0.3))  # fmt: skip
        if proxy is not None:
            added, proxy_added = f.p50_ms - base, proxy.p50_ms - base
            ratio = added / proxy_added if proxy_added > 0 else float("inf")
            found.append(Check(
                name, "added over floor+direct / mcp-proxy's",
                f"{added:+.2f} / {proxy_added:+.2f} ms = {ratio:.2f}", "<= 0.25",
                added <= 0.25 * proxy_added,
            ))  # fmt: skip
        if relay.rates.get(16):
            ratio = f.rates.get(16, 0.0) / relay.rates[16]
            typical = median_ratio(f.windows.get(16, []), relay.windows.get(16, []))
            found.append(Check(name, "calls/s at 16 clients / relay's",
                               f"{ratio:.2f} (median windows {typical:.2f})",
                               ">= 0.9", ratio >= 0.9))  # fmt: skip
        found.append(Check(name, "failed calls", str(f.failed), "0", f.failed == 0))
        if f.session_kb is not None:
            found.append(Check(name, "memory per idle session", f"{f.session_kb:.1f} KB",
                               "< 20 KB", f.session_kb < 20))  # fmt: skip
    return found


def median_ratio(rates: list[float], baseline: list[float]) -> float:
    """The median window's calls/s over the baseline's median window's (0 without any)."""
    if not rates or not baseline:
        return 0.0
    return statistics.median(rates) / statistics.median(baseline)


def report(
    figures: dict[str, Figures], clients: list[int], *, load: tuple[float, float]
) -> list[str]:
    """The table, the ratios to the relay, then every target with PASS or FAIL."""
    lines = []
    rate_headers = "".join(f"{f'calls/s@{c}':>12}" for c in clients)
    cpu_headers = "".join(f"{f'CPU us@{c}':>11}" for c in clients)
    lines.append(f"{'target':<16}{'p50 ms':>8}{'p95 ms':>8}{'CPU us':>8}{rate_headers}"
                 f"{cpu_headers}{'failed':>8}{'KB/session':>12}")  # fmt: skip
    for name, f in figures.items():
        rates = "".join(f"{f.rates.get(c, 0.0):>12.0f}" for c in clients)
        loaded = "".join(
            f"{f.load_cpu_us[c]:>11.0f}" if c in f.load_cpu_us else f"{'':>11}" for c in clients
        )
        cpu = f"{f.cpu_us:>8.0f}" if f.cpu_us is not None else f"{'':>8}"
        memory = f"{f.session_kb:>12.1f}" if f.session_kb is not None else f"{'':>12}"
        lines.append(f"{name:<16}{f.p50_ms:>8.2f}{f.p95_ms:>8.2f}{cpu}{rates}{loaded}"
                     f"{f.failed:>8}{memory}")  # fmt: skip
    direct, floor, relay = figures["direct"], figures["floor"], figures["relay"]
    lines.append("")
    lines.append(f"relay p50 - (floor p50 + direct p50) = "
                 f"{relay.p50_ms - floor.p50_ms - direct.p50_ms:+.2f} ms "
                 "(what forwarding over a pipe costs)")  # fmt: skip
    for name, f in figures.items():
        if name.startswith("gateway") or name == "mcp-proxy":
            parts = [f"p50 {f.p50_ms - relay.p50_ms:+.2f} ms"]
            if f.cpu_us is not None and relay.cpu_us is not None:
                parts.append(f"CPU per call {f.cpu_us - relay.cpu_us:+.0f} us")
            parts += [
                f"CPU per call@{c} {f.load_cpu_us[c] - relay.load_cpu_us[c]:+.0f} us"
                for c in clients
                if c in f.load_cpu_us and c in relay.load_cpu_us
            ]
            parts += [
                f"calls/s@{c} x{f.rates[c] / relay.rates[c]:.2f}"
                for c in clients
                if relay.rates.get(c) and c in f.rates
            ]
            lines.append(f"{name} against the relay: {', '.join(parts)}")
    found = checks(figures)
    passed = sum(c.met for c in found)
    lines += ["", f"targets: {passed} of {len(found)} PASS"]
    for c in found:
        lines.append(f"  {'PASS' if c.met else 'FAIL'}  {c.variant:<15}{c.target:<40}"
                     f"{c.measured:>26}  (target {c.goal})")  # fmt: skip
    lines.append(load_line(load))
    return lines


def load_line(load: tuple[float, float]) -> str:
    return (
        f"\nload average (1 min) {load[0]:.2f} before, {load[1]:.2f} after, {os.cpu_count()} CPUs"
    )


def markdown(
    figures: dict[str, Figures], clients: list[int], *, load: tuple[float, float]
) -> list[str]:
    """The README's tables: every target's figures, then the targets with PASS or FAIL."""
    rate_headers = " | ".join(f"calls/s, {c} client{'s' if c > 1 else ''}" for c in clients)
    lines = [
        f"| target | p50 | p95 | CPU per call | CPU per call, 16 clients | {rate_headers} "
        "| failed | memory per idle session |",
        "|---" * (7 + len(clients)) + "|",
    ]
    for name, f in figures.items():
        cpu = f"{f.cpu_us:.0f} µs" if f.cpu_us is not None else "—"
        loaded = f"{f.load_cpu_us[16]:.0f} µs" if 16 in f.load_cpu_us else "—"
        memory = f"{f.session_kb:.1f} KB" if f.session_kb is not None else "—"
        rates = " | ".join(f"{f.rates.get(c, 0.0):.0f}" for c in clients)
        lines.append(f"| {LABELS.get(name, name)} | {f.p50_ms:.2f} ms | {f.p95_ms:.2f} ms | "
                     f"{cpu} | {loaded} | {rates} | {f.failed} | {memory} |")  # fmt: skip
    lines += ["", "| gateway | target | measured | goal | result |", "|---|---|---|---|---|"]
    for c in checks(figures):
        result = "**PASS**" if c.met else "**FAIL**"
        lines.append(f"| {c.variant} | {c.target} | {c.measured} | {c.goal} | {result} |")
    lines += ["", f"Load average (1 min): {load[0]:.2f} before, {load[1]:.2f} after, "
              f"{os.cpu_count()} CPUs."]  # fmt: skip
    return lines


# -- the run ----------------------------------------------------------------------------


async def measure(
    targets: list[Target], processes: Processes, args: argparse.Namespace, *, errlog: TextIO
) -> tuple[dict[str, Figures], list[str]]:
    figures = {t.name: Figures() for t in targets}
    print(f"latency: {args.calls} sequential calls per target per round", file=sys.stderr)
    await latencies(targets, figures, args.calls, args.rounds, errlog=errlog)
    print("throughput:", file=sys.stderr)
    await throughputs(targets, figures, processes, args)
    profile_lines: list[str] = []
    gateway = next(t for t in targets if t.name == "gateway")
    if not args.skip_profile:
        print(
            f"profile: py-spy on the gateway, {args.profile_clients} client(s), "
            f"{args.profile_seconds:g} s",
            file=sys.stderr,
        )
        profile_lines = await profile(gateway, processes, args)
    print(f"memory: {args.sessions} idle sessions", file=sys.stderr)
    for target in targets:
        if target.name.startswith("gateway") or target.name == "mcp-proxy":
            figures[target.name].session_kb = await session_memory(target, args.sessions)
    return figures, profile_lines


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="sequential calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds")
    parser.add_argument(
        "--clients",
        type=lambda text: [int(c) for c in text.split(",")],
        default=[1, 16, 64],
        help="numbers of concurrent clients, comma-separated",
    )
    parser.add_argument(
        "--windows", type=int, default=5, help="load windows per target per number of clients"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per load window")
    parser.add_argument(
        "--client-processes", type=int, default=4, help="processes the clients are spread over"
    )
    parser.add_argument("--sessions", type=int, default=1000, help="idle sessions opened")
    parser.add_argument("--profile-seconds", type=float, default=8.0)
    parser.add_argument(
        "--profile-clients",
        type=int,
        default=1,
        help="clients calling the gateway while it is profiled (1: sequential calls)",
    )
    parser.add_argument("--skip-proxy", action="store_true", help="leave mcp-proxy out")
    parser.add_argument("--skip-profile", action="store_true", help="no py-spy profile")
    parser.add_argument("--proxy-venv", type=Path, default=PROXY_VENV, help="its virtualenv")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "out" / "gateway",
        help="where the report, figures and profile are written",
    )
    args = parser.parse_args()
    if not Path(EVERYTHING[1]).exists():
        raise SystemExit("server-everything is not installed: run `npm ci --prefix tests`")
    args.out.mkdir(parents=True, exist_ok=True)
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
                start_relay(processes, Path(name)),
                # one controller per variant: 64 clients of every variant at once would
                # pass one controller's cap of connections per client address
                *(
                    target
                    for variant in GATEWAY_VARIANTS
                    for target in start_gateway(
                        processes, Path(name), [variant], name=f"controller-{variant.name}"
                    )
                ),
            ]
            if not args.skip_proxy:
                targets.append(start_proxy(processes, args.proxy_venv))
            figures, profile_lines = anyio.run(
                lambda: measure(targets, processes, args, errlog=direct_log)
            )
        except Exception:
            for process_name in processes.started:
                print(f"--- {process_name} log:", file=sys.stderr)
                print(processes.log_tail(process_name), file=sys.stderr)
            raise
        finally:
            processes.stop_all()
    load = (load_before, os.getloadavg()[0])
    lines = report(figures, args.clients, load=load)
    if profile_lines:
        lines += [
            "",
            f"profile of the gateway, {args.profile_clients} client(s) calling back to back "
            f"(py-spy; {args.out}):",
        ]
        lines += profile_lines
    text = "\n".join(lines)
    table = "\n".join(markdown(figures, args.clients, load=load))
    print(text)
    print(f"\nMarkdown for the README ({args.out / 'report.md'}):\n\n{table}")
    (args.out / "report.txt").write_text(text + "\n")
    (args.out / "report.md").write_text(table + "\n")
    (args.out / "figures.json").write_text(
        json.dumps({name: asdict(f) for name, f in figures.items()}, indent=2) + "\n"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted: every process the benchmark started has been stopped")
