"""The processes `gateway_bench.py` measures, started and stopped.

Each target is an address the echo client can reach (`echo_client.open_session`): the floor
server, the standalone controller's gateway, and mcp-proxy in front of server-everything.
Every process runs in its own process group and is stopped, with whatever it spawned, by
`Processes.stop_all`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from echo_client import EVERYTHING, ROOT

PROXY_VERSION = "0.13.0"
PROXY_VENV = ROOT / "benchmarks" / ".mcp-proxy-venv"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Target:
    """One way of reaching an echo tool: its address (URL or `stdio`) and the tool's name."""

    name: str
    address: str
    tool: str


class Processes:
    """Every process the benchmark starts, each in its own process group, with a log file.

    A process's descendants are collected before it is signalled, so servers it started in
    process groups of their own are killed too if it dies without stopping them.
    """

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], *, pipes: bool = False) -> subprocess.Popen[bytes]:
        """Start `argv`; with `pipes`, its stdin and stdout are pipes, else only its log."""
        with open(self.logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else log,
                stderr=log if pipes else subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
            )
        self.started[name] = process
        return process

    def log_tail(self, name: str, *, lines: int = 20) -> str:
        text = (self.logs / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, name: str) -> None:
        """Stop a process and everything it started.

        A process with pipes is first asked to exit by closing its stdin; then SIGTERM goes
        to its process group, SIGKILL after a grace period, and SIGKILL to any descendant
        still alive.
        """
        process = self.started.pop(name)
        family = descendants(process.pid)
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for pid, started in family.items():
            if start_time(pid) == started:  # still the same process, not a reused pid
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in reversed(list(self.started)):
            self.stop(name)


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` (whatever its process group), with its start time."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: dict[int, str] = {}
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found[child] = start_time(child)
            queue.append(child)
    return found


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (state, ppid, ...), or [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def start_time(pid: int) -> str:
    fields = stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""


def wait_for(what: str, check: Callable[[], object], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        with contextlib.suppress(OSError, ValueError):
            if check():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} was not ready within {START_TIMEOUT:.0f} s")


def answers_200(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bool(response.status == 200)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_floor(processes: Processes, tmp: Path) -> Target:
    """`floor_server.py` on a free port."""
    port_file = tmp / "floor.port"
    floor = processes.start(
        "floor", [sys.executable, str(Path(__file__).parent / "floor_server.py"), str(port_file)]
    )
    wait_for("the floor server", port_file.exists, floor)
    return Target("floor", f"http://127.0.0.1:{port_file.read_text().strip()}/mcp", "echo")


def start_gateway(processes: Processes, tmp: Path) -> Target:
    """The standalone controller serving suite `bench` (server-everything) on a free port."""
    config, state = tmp / "config", tmp / "state"
    config.mkdir()
    documents = [
        {"kind": "MCPServer", "metadata": {"name": "everything"},
         "spec": {"command": EVERYTHING[0], "args": [*EVERYTHING[1:], "stdio"]}},
        {"kind": "MCPSuite", "metadata": {"name": "bench"},
         "spec": {"servers": [{"name": "everything"}]}},
    ]  # fmt: skip
    (config / "bench.yaml").write_text(
        "\n---\n".join(
            json.dumps({"apiVersion": "mcp.reconciler.dev/v1alpha1", **d}) for d in documents
        )
    )
    controller = processes.start("controller", [
        sys.executable, "-m", "reconciler", "run", str(config), "--state-dir", str(state),
        "--listen", "127.0.0.1:0", "--log-format", "json",
    ])  # fmt: skip
    url_file = state / "gateway.url"
    wait_for("the controller's gateway", url_file.exists, controller)
    base = url_file.read_text().strip()
    wait_for("the gateway's /readyz", lambda: answers_200(f"{base}/readyz"), controller)
    return Target("gateway", f"{base}/suites/bench/mcp", "everything_echo")


def proxy_executable(venv: Path) -> Path:
    """mcp-proxy's console script, installed into its own virtualenv when missing."""
    executable = venv / "bin" / "mcp-proxy"
    installed = list(venv.glob(f"lib/python*/site-packages/mcp_proxy-{PROXY_VERSION}.dist-info"))
    if executable.exists() and installed:
        return executable
    print(f"installing mcp-proxy=={PROXY_VERSION} into {venv} ...", file=sys.stderr)
    for argv in (
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", "--quiet", f"mcp-proxy=={PROXY_VERSION}"],
    ):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}\n"
                "install it by hand, or pass --proxy-venv DIR or --skip-proxy"
            )
    return executable


def start_proxy(processes: Processes, venv: Path) -> Target:
    """mcp-proxy as users run it (default logging, stateful sessions) on a free port."""
    port = free_port()
    proxy = processes.start("mcp-proxy", [
        str(proxy_executable(venv)), "--host", "127.0.0.1", "--port", str(port),
        "--", *EVERYTHING, "stdio",
    ])  # fmt: skip
    wait_for("mcp-proxy", lambda: answers_200(f"http://127.0.0.1:{port}/status"), proxy)
    return Target("mcp-proxy", f"http://127.0.0.1:{port}/mcp", "echo")
