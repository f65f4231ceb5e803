"""The processes `gateway_bench.py` measures, started and stopped.

Each target is an address the echo client can reach (`echo_client.open_session`): the floor
server, the bare relay, the standalone controller's gateway (one suite per configuration
measured, `GATEWAY_VARIANTS`), and mcp-proxy in front of server-everything. Every process
runs in its own process group and is stopped, with whatever it spawned, by
`Processes.stop_all`.

A gateway configuration to measure is one `GatewayVariant`: the resources its suite needs
beside the server and the suite, the environment the controller needs, the headers every
client sends. Adding one (an identity provider's token, a tool lock) is one entry in
`GATEWAY_VARIANTS`, and it is measured in every table and ratio of `gateway_bench.py`.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from echo_client import EVERYTHING, ROOT

PROXY_VERSION = "0.13.0"
PROXY_VENV = ROOT / "benchmarks" / ".mcp-proxy-venv"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Target:
    """One way of reaching an echo tool: its address (URL or `stdio`), the tool's name, the
    headers a client sends, and the pid of the process serving it (None for `stdio`)."""

    name: str
    address: str
    tool: str
    headers: dict[str, str] = field(default_factory=dict)
    pid: int | None = None


STATIC_TOKEN = "bench-static-token-0123456789abcdef"
SESSION_LIMITS = {
    "maxSessions": 100_000,
    "maxSessionsPerCaller": 100_000,
    "initializePerMinute": 1_000_000,
}
"""Every suite's session limits: the benchmark's clients are one caller (one address or
one subject) opening sessions far faster than the defaults let one caller, and the idle
sessions of the memory figure must all stay open."""


@dataclass(frozen=True)
class GatewayVariant:
    """One configuration of the gateway to measure: suite `bench-<name>` (server-everything)
    with `documents(suite)` beside it, `env` for the controller, `headers` for every client."""

    name: str
    documents: Callable[[str], list[dict[str, Any]]] = lambda suite: []
    env: dict[str, str] = field(default_factory=dict)
    headers: Callable[[str], dict[str, str]] = lambda url: {}
    """The headers every client sends, given the suite's URL (a JWT's audience)."""
    locked: bool = False
    """The suite's server has a ToolLock (mode enforce) pinning all its tools, written by
    `mcp-reconciler lock` before the controller starts. A lock belongs to a server, so
    this suite gets a server of its own (`locked`, another server-everything)."""

    @property
    def server(self) -> str:
        return "locked" if self.locked else "everything"

    @property
    def target(self) -> str:
        return "gateway" if self.name == "open" else f"gateway-{self.name}"


def _token_permission(suite: str) -> list[dict[str, Any]]:
    return [
        {"kind": "ToolPermission", "metadata": {"name": f"{suite}-callers"},
         "spec": {"suites": [suite],
                  "subjects": [{"name": "bench", "tokenFrom": {"env": "BENCH_TOKEN"}}],
                  "rules": [{"action": "allow", "tools": ["everything.*"]}]}},
    ]  # fmt: skip


_ISSUER: list[Any] = []


def oidc_issuer() -> Any:
    """The tests' OpenID Connect issuer (tests/oidc_issuer.py), started once, on 127.0.0.1."""
    if not _ISSUER:
        sys.path.insert(0, str(ROOT))
        from tests.oidc_issuer import OidcIssuer

        _ISSUER.append(OidcIssuer().start())
    return _ISSUER[0]


def _oidc_permission(suite: str) -> list[dict[str, Any]]:
    issuer = oidc_issuer().url
    return [
        {"kind": "ToolPermission", "metadata": {"name": f"{suite}-callers"},
         "spec": {"suites": [suite],
                  "subjects": [{"name": "bench",
                                "oidc": {"issuer": issuer, "claims": {"groups": "bench"}}}],
                  "rules": [{"action": "allow", "tools": ["everything.*"]}]}},
    ]  # fmt: skip


def _oidc_headers(url: str) -> dict[str, str]:
    claims = {"sub": "bench", "aud": url, "groups": ["bench"]}
    return {"authorization": f"Bearer {oidc_issuer().mint(claims, lifetime=7200)}"}


GATEWAY_VARIANTS = [
    GatewayVariant("open"),
    GatewayVariant(
        "token",
        documents=_token_permission,
        env={"BENCH_TOKEN": STATIC_TOKEN},
        headers=lambda url: {"authorization": f"Bearer {STATIC_TOKEN}"},
    ),
    GatewayVariant("oidc", documents=_oidc_permission, headers=_oidc_headers),
    GatewayVariant("lock", locked=True),
]
"""`gateway` (a suite without ToolPermissions: no authentication, every tool),
`gateway-token` (a static bearer token, with an allow rule checked on every call),
`gateway-oidc` (a JWT from a local OpenID Connect issuer, verified with its cached JWKS) and
`gateway-lock` (no authentication; the server's tools pinned by an enforced ToolLock)."""


class Processes:
    """Every process the benchmark starts, each in its own process group, with a log file.

    A process's descendants are collected before it is signalled, so servers it started in
    process groups of their own are killed too if it dies without stopping them.
    """

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        pipes: bool = False,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` (with `env` added to the environment); with `pipes`, its stdin and
        stdout are pipes, else only its log."""
        with open(self.logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else log,
                stderr=log if pipes else subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
                env={**os.environ, **env} if env else None,
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
    port = port_file.read_text().strip()
    return Target("floor", f"http://127.0.0.1:{port}/mcp", "echo", pid=floor.pid)


def start_relay(processes: Processes, tmp: Path) -> Target:
    """`bare_relay.py` (in front of its own server-everything) on a free port."""
    port_file = tmp / "relay.port"
    relay = processes.start(
        "relay", [sys.executable, str(Path(__file__).parent / "bare_relay.py"), str(port_file)]
    )
    wait_for("the bare relay", port_file.exists, relay)
    port = port_file.read_text().strip()
    return Target("relay", f"http://127.0.0.1:{port}/mcp", "echo", pid=relay.pid)


def start_gateway(
    processes: Processes,
    tmp: Path,
    variants: list[GatewayVariant],
    *,
    name: str = "controller",
) -> list[Target]:
    """The standalone controller on a free port, serving one suite per variant, each with
    the one server-everything."""
    config, state = tmp / name / "config", tmp / name / "state"
    config.mkdir(parents=True)
    servers = sorted({variant.server for variant in variants})
    documents: list[dict[str, Any]] = [
        {"kind": "MCPServer", "metadata": {"name": server},
         "spec": {"command": EVERYTHING[0], "args": [*EVERYTHING[1:], "stdio"]}}
        for server in servers
    ]  # fmt: skip
    env: dict[str, str] = {}
    for variant in variants:
        suite = f"bench-{variant.name}"
        documents.append(
            {"kind": "MCPSuite", "metadata": {"name": suite},
             "spec": {"servers": [{"name": variant.server}], "sessions": SESSION_LIMITS}}
        )  # fmt: skip
        documents.extend(variant.documents(suite))
        env.update(variant.env)
    (config / "bench.yaml").write_text(
        "\n---\n".join(
            json.dumps({"apiVersion": "mcp.reconciler.dev/v1alpha1", **d}) for d in documents
        )
    )
    if any(variant.locked for variant in variants):
        write_lock(config, state, "locked")
    controller = processes.start(name, [
        sys.executable, "-m", "reconciler", "run", str(config),
        "--state-dir", str(state), "--listen", "127.0.0.1:0", "--log-format", "json",
    ], env=env)  # fmt: skip
    url_file = state / "gateway.url"
    wait_for("the controller's gateway", url_file.exists, controller)
    base = url_file.read_text().strip()
    wait_for("the gateway's /readyz", lambda: answers_200(f"{base}/readyz"), controller)
    pid = controller.pid
    return [
        Target(variant.target, url, f"{variant.server}_echo", headers=variant.headers(url), pid=pid)
        for variant in variants
        for url in [f"{base}/suites/bench-{variant.name}/mcp"]
    ]


def write_lock(config: Path, state: Path, server: str) -> None:
    """`mcp-reconciler lock CONFIG --server SERVER`: the server is started briefly and all
    its tools are pinned (mode enforce) in CONFIG/tools.lock.yaml."""
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "lock", str(config), "--server", server,
         "--state-dir", str(state), "-o", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=START_TIMEOUT,
    )  # fmt: skip
    lock = config / "tools.lock.yaml"
    if done.returncode != 0 or not lock.exists():
        raise RuntimeError(
            f"mcp-reconciler lock failed ({done.returncode}):\n{done.stderr[-2000:]}"
        )
    if "mode: enforce" not in lock.read_text():
        raise RuntimeError(f"{lock} does not enforce the lock")


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
    return Target("mcp-proxy", f"http://127.0.0.1:{port}/mcp", "echo", pid=proxy.pid)
