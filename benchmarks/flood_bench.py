"""Well-behaved clients while one caller floods the gateway.

A real `mcp-reconciler run` serves server-everything in suite `dev`, which two
ToolPermissions lock: `agents` (the well-behaved clients) and `flood` (the attacker). Ten
clients each open a session and call `everything_echo` in a loop, first with the gateway
to themselves, then while the flooding caller (another process, from another loopback
address, 127.0.0.2) sends at once:

- `initialize` requests as fast as it can (new sessions),
- `tools/call` of random unknown tool names (client-chosen strings),
- slow connections: sockets that send a header line every few seconds, and sockets that
  send a body a byte at a time, as many as it is allowed to hold.

Printed: the clients' success rate, p50 and p95 per phase, and what the gateway did with
the flood (sessions refused, connections refused or timed out, /metrics size).

    python benchmarks/flood_bench.py [--seconds 20] [--clients 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
EVERYTHING = ROOT / "tests" / "node_modules" / ".bin" / "mcp-server-everything"
ACCEPT = {"accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "b"}},
}
GOOD, BAD = "agents-token-4d1c9e2b", "flood-token-7a3f0c5d"


def resources() -> str:
    def permission(name: str, token_env: str, rpm: int) -> dict[str, object]:
        return {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "ToolPermission",
            "metadata": {"name": name},
            "spec": {
                "suites": ["dev"],
                "subjects": [{"name": name, "tokenFrom": {"env": token_env}}],
                "rules": [{"action": "allow", "tools": ["everything.*"]}],
                "rateLimit": {"requestsPerMinute": rpm},
            },
        }

    docs = [
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "MCPServer",
            "metadata": {"name": "everything"},
            "spec": {"command": "node", "args": [str(EVERYTHING.resolve()), "stdio"]},
        },
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "MCPSuite",
            "metadata": {"name": "dev"},
            "spec": {"servers": [{"name": "everything"}]},
        },
        permission("agents", "AGENTS_TOKEN", 1_000_000),
        permission("flood", "FLOOD_TOKEN", 120),
    ]
    return "\n---\n".join(json.dumps(d) for d in docs)


@dataclass
class Phase:
    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)

    def line(self, name: str) -> str:
        total = self.ok + self.failed
        rate = 100.0 * self.ok / total if total else 0.0
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] * 1000 if lat else float("nan")
        return f"| {name} | {total} | {rate:.2f} % | {p50:.1f} ms | {p95:.1f} ms |"


async def client(url: str, until: float, phase: Phase) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        headers = {**ACCEPT, "authorization": f"Bearer {GOOD}"}
        opened = await http.post(url, json=INITIALIZE, headers=headers)
        headers["mcp-session-id"] = opened.headers["mcp-session-id"]
        n = 0
        while time.monotonic() < until:
            n += 1
            body = {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": "everything_echo", "arguments": {"message": f"m{n}"}},
            }
            started = time.perf_counter()
            try:
                answer = await http.post(url, json=body, headers=headers)
                good = answer.status_code == 200 and f"Echo: m{n}" in answer.text
            except httpx2.HTTPError:
                good = False
            if good:
                phase.ok += 1
                phase.latencies.append(time.perf_counter() - started)
            else:
                phase.failed += 1


async def clients(url: str, count: int, seconds: float) -> Phase:
    phase = Phase()
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(url, until, phase) for _ in range(count)))
    return phase


# -- the flooding caller (its own process) --------------------------------------------


async def flood(url: str, seconds: float) -> None:
    until = time.monotonic() + seconds
    seen: dict[str, int] = {}

    def count(what: str) -> None:
        seen[what] = seen.get(what, 0) + 1

    transport = httpx2.AsyncHTTPTransport(local_address="127.0.0.2")
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    async with httpx2.AsyncClient(timeout=5, transport=transport) as http:
        headers = {**ACCEPT, "authorization": f"Bearer {BAD}"}

        async def initialize() -> None:
            while time.monotonic() < until:
                try:
                    answer = await http.post(url, json=INITIALIZE, headers=headers)
                    count(f"initialize {answer.status_code}")
                except httpx2.HTTPError as error:
                    count(f"initialize {type(error).__name__}")

        async def unknown_tools() -> None:
            session = None
            n = 0
            while time.monotonic() < until:
                n += 1
                with contextlib.suppress(httpx2.HTTPError, KeyError):
                    if session is None:
                        opened = await http.post(url, json=INITIALIZE, headers=headers)
                        session = opened.headers["mcp-session-id"]
                    name = "".join(random.choices("abcdefghij\x00\u2603", k=12))
                    body = {
                        "jsonrpc": "2.0",
                        "id": n,
                        "method": "tools/call",
                        "params": {"name": name, "arguments": {}},
                    }
                    answer = await http.post(
                        url, json=body, headers={**headers, "mcp-session-id": session}
                    )
                    code = answer.json().get("error", {}).get("code", answer.status_code)
                    count(f"unknown tool {code}")
                    if answer.status_code == 404:
                        session = None

        async def slow(kind: str) -> None:
            while time.monotonic() < until:
                try:
                    reader, writer = await asyncio.open_connection(
                        host, int(port), local_addr=("127.0.0.2", 0)
                    )
                except OSError:
                    count("slow connection refused at connect")
                    await asyncio.sleep(0.5)
                    continue
                count(f"slow {kind} connection opened")
                try:
                    if kind == "headers":
                        writer.write(b"POST /suites/dev/mcp HTTP/1.1\r\n")
                    else:
                        writer.write(
                            b"POST /suites/dev/mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                            b"content-type: application/json\r\ncontent-length: 100000\r\n\r\n"
                        )
                    while time.monotonic() < until and not reader.at_eof():
                        writer.write(b"x-a: b\r\n" if kind == "headers" else b" ")
                        await writer.drain()
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(3):
                                if (await reader.read(1000)).startswith(b"HTTP/1.1 503"):
                                    count("slow connection answered 503")
                except OSError:
                    pass
                finally:
                    writer.close()

        tasks = [initialize() for _ in range(8)] + [unknown_tools() for _ in range(8)]
        tasks += [slow("headers") for _ in range(100)] + [slow("body") for _ in range(100)]
        await asyncio.gather(*tasks)
    print(json.dumps(seen, sort_keys=True))


# -- orchestration ---------------------------------------------------------------------


def wait_url(state: Path, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    path = state / "gateway.url"
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            base = path.read_text().strip()
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"{base}/readyz", timeout=5).status_code == 200:
                    return base
        time.sleep(0.2)
    raise SystemExit("the controller did not become ready")


def metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "config").mkdir()
        (root / "config" / "resources.yaml").write_text(resources())
        env = {**os.environ, "AGENTS_TOKEN": GOOD, "FLOOD_TOKEN": BAD}
        log = open(root / "controller.log", "wb")  # noqa: SIM115
        controller = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "run", str(root / "config"), "--listen",
             "127.0.0.1:0", "--state-dir", str(root / "state"), "--log-format", "json"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        try:
            base = wait_url(root / "state")
            url = f"{base}/suites/dev/mcp"
            quiet = asyncio.run(clients(url, args.clients, args.seconds))
            flooder = subprocess.Popen(
                [sys.executable, __file__, "--flood", url, "--seconds", str(args.seconds + 2)],
                start_new_session=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(1.0)  # the flood is under way
            flooded = asyncio.run(clients(url, args.clients, args.seconds))
            flood_seen = json.loads(flooder.communicate(timeout=60)[0] or "{}")
            metrics = httpx2.get(f"{base}/metrics", timeout=10).text
        finally:
            controller.send_signal(signal.SIGTERM)
            controller.wait(timeout=30)
            log.close()
        load = os.getloadavg()
        print(f"{args.clients} clients calling everything_echo for {args.seconds:g} s per phase")
        print(f"(load average {load[0]:.1f} / {load[1]:.1f} on {os.cpu_count()} cores)\n")
        print("| phase | calls | success | p50 | p95 |")
        print("|---|---|---|---|---|")
        print(quiet.line("no flood"))
        print(flooded.line("one caller flooding"))
        refused = metric(metrics, "mcp_gateway_sessions_refused_total")
        unknown = metric(metrics, 'mcp_gateway_tool_calls_total{outcome="unknown_tool"')
        unknown += metric(metrics, 'mcp_gateway_tool_calls_total{suite="dev",server=""')
        print("\nwhat the flooding caller got:")
        for what, n in sorted(flood_seen.items()):
            print(f"  {what}: {n}")
        print(
            f"\ngateway: {refused:.0f} new sessions refused; {unknown:.0f} calls of unknown or "
            f"rate-limited tools; /metrics is {len(metrics) / 1024:.1f} KiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--flood", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:
        asyncio.run(flood(args.flood, args.seconds))
    else:
        run(args)


if __name__ == "__main__":
    main()
