"""The standalone controller's own costs, each against a baseline measured in the same run.

    latency   change -> Ready, minus the same server's own spawn -> tools/list time
              (the baseline: spawning server-everything and listing its tools directly)
    idle      CPU and memory of the controller process while it supervises N idle servers
    noop      one reconcile of an unchanged revision with 1,000 declared servers

Needs the test servers (`npm ci --prefix tests`). Usage:

    .venv/bin/python benchmarks/controller_bench.py [--servers 50] [--idle-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.controller.confinement import Confinement
from reconciler.controller.launch import this_machine
from reconciler.controller.pool import RunnerPool
from reconciler.controller.reconcile import Reconciler
from reconciler.controller.report import events_report, status_report
from reconciler.controller.supervisor import LaunchSpec, spawn
from reconciler.loading.loader import load_documents
from reconciler.secrets import SecretResolver
from reconciler.store import Store
from reconciler.upstream import UpstreamConnection, stdio_transport

ROOT = Path(__file__).resolve().parent.parent
EVERYTHING = [
    "node",
    str(ROOT / "tests" / "node_modules" / ".bin" / "mcp-server-everything"),
    "stdio",
]
TICKS = os.sysconf("SC_CLK_TCK")


def server_doc(name: str, **spec: object) -> str:
    return json.dumps(
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "MCPServer",
            "metadata": {"name": name},
            "spec": {"command": EVERYTHING[0], "args": EVERYTHING[1:], **spec},
        }
    )


async def direct_spawn_to_tools() -> float:
    """Baseline: spawn server-everything, handshake, tools/list; seconds."""
    started = time.perf_counter()
    process = await spawn(LaunchSpec(EVERYTHING[0], EVERYTHING[1:]))
    connection = UpstreamConnection("baseline", stdio_transport(process.stdout, process.stdin))
    try:
        await connection.connect()
        await connection.list_tools()
        return time.perf_counter() - started
    finally:
        await connection.close()
        await process.stop()


def wait(condition, *, timeout: float = 60.0, step: float = 0.005):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(step)
    raise SystemExit("timed out waiting for the controller")


class Controller:
    def __init__(self, config: Path, state: Path) -> None:
        self.state = state
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "run", str(config), "--state-dir", str(state),
             "--listen", "127.0.0.1:0", "--log-format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def ready(self, names: list[str]) -> bool:
        servers = {s["name"]: s for s in status_report(self.state)["servers"]}
        return all(servers.get(n, {}).get("phase") == "Ready" for n in names)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def bench_latency(tmp: Path, rounds: int) -> None:
    baseline = [asyncio.run(direct_spawn_to_tools()) for _ in range(rounds)]
    config = tmp / "latency"
    config.mkdir()
    (config / "seed.yaml").write_text(server_doc("seed"))
    controller = Controller(config, tmp / "latency-state")
    try:
        wait(lambda: controller.ready(["seed"]))
        latencies: list[float] = []
        applied: list[float] = []
        for i in range(rounds):
            name = f"added-{i}"
            started = time.time()
            tmp_file = config / f".{name}.tmp"
            tmp_file.write_text(server_doc(name))
            tmp_file.replace(config / f"{name}.yaml")
            ready = wait(
                lambda name=name: next(
                    (
                        e
                        for e in events_report(controller.state, resource=f"MCPServer/{name}")
                        if e["reason"] == "Ready"
                    ),
                    None,
                )
            )
            latencies.append(ready["ts"] - started)
            creating = next(
                e
                for e in events_report(controller.state, resource=f"MCPServer/{name}")
                if e["reason"] == "Creating"
            )
            applied.append(creating["ts"] - started)
    finally:
        controller.stop()
    base, lat = statistics.median(baseline), statistics.median(latencies)
    print(f"latency: change -> Ready median {lat * 1000:.0f} ms over {rounds} changes")
    print(f"         of which change -> planned (watch, debounce, load, plan) "
          f"{statistics.median(applied) * 1000:.0f} ms")  # fmt: skip
    print(f"         direct spawn -> tools/list median {base * 1000:.0f} ms")
    print(f"         controller overhead {(lat - base) * 1000:.0f} ms (target < 200 ms)")


def bench_idle(tmp: Path, servers: int, seconds: float) -> None:
    config = tmp / "idle"
    config.mkdir()
    names = [f"s{i}" for i in range(servers)]
    (config / "servers.yaml").write_text("\n---\n".join(server_doc(n) for n in names))
    controller = Controller(config, tmp / "idle-state")
    try:
        wait(lambda: controller.ready(names), timeout=300, step=0.2)
        cpu0, t0 = controller.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        cpu = controller.cpu_seconds() - cpu0
        elapsed = time.monotonic() - t0
        rss = controller.rss_mib()
    finally:
        controller.stop()
    print(
        f"idle:    {servers} Ready servers: controller CPU {cpu / elapsed * 100:.2f}% of one core"
        f" over {elapsed:.0f} s, RSS {rss:.0f} MiB"
    )


async def bench_noop(tmp: Path, servers: int) -> None:
    docs = "\n---\n".join(server_doc(f"s{i}", autoStart=False) for i in range(servers))
    files = [("servers.yaml", docs)]
    state = tmp / "noop-state"
    store = Store.open(state)
    machine = this_machine(SecretResolver().resolve)
    pool = RunnerPool(store=store, machine=machine, confinement=Confinement())
    reconciler = Reconciler(store=store, pool=pool)
    first = load_documents(files)
    await reconciler.reconcile(first, revision="r1")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        again = load_documents(files)
        outcome = await reconciler.reconcile(again, revision="r1")
        timings.append(time.perf_counter() - started)
        assert outcome.plan is not None
        assert outcome.plan.is_noop
    store.close()
    best = min(timings)
    print(f"noop:    unchanged reconcile of {servers} declared servers (load + plan): "
          f"{best * 1000:.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=50, help="idle servers")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--noop-servers", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        bench_latency(tmp, args.rounds)
        bench_idle(tmp, args.servers, args.idle_seconds)
        asyncio.run(bench_noop(tmp, args.noop_servers))


if __name__ == "__main__":
    main()
