"""`bridge` and `gateway`: the commands the operator's pods run, run here as processes."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from reconciler.controller.processes import is_alive
from reconciler.controller.report import status_report
from reconciler.loading.loader import load_documents
from reconciler.operator import ManifestSettings
from reconciler.operator.gateway import render_gateway
from tests.controller_harness import wait_for
from tests.gateway_harness import mcp_client

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def process(
    args: list[str], *, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    started = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield started
    finally:
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGTERM)
            try:
                started.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(started.pid, signal.SIGKILL)
                started.wait()


def ready(base: str) -> bool:
    try:
        return httpx2.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False


async def test_bridge_serves_a_stdio_server_over_http_at_slash_mcp(
    tmp_path: Path, everything_cmd: list[str]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "reconciler", "bridge", "--listen", f"127.0.0.1:{port}"]
    talking = ["sh", "-c", f"echo server says hi >&2; exec {shlex.join(everything_cmd)}"]
    with process([*args, "--state-dir", str(tmp_path), "--", *talking]) as bridge:
        wait_for(lambda: ready(base), what="the bridge ready")
        async with mcp_client(f"{base}/mcp") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "echo" in names  # bare names: the bridge adds no prefix
            result = await client.call_tool("echo", {"message": "through the bridge"})
            assert result.content[0].text == "Echo: through the bridge"  # type: ignore[union-attr]
        state = status_report(tmp_path)
        server_pid = state["servers"][0]["pid"]
        os.killpg(bridge.pid, signal.SIGTERM)
        assert bridge.wait(timeout=20) == 0
    assert not is_alive(server_pid)
    printed = (bridge.stderr.read() if bridge.stderr else b"").decode().splitlines()
    assert "Traceback" not in "\n".join(printed)
    assert "server says hi" in printed  # the server's stderr, passed through as it is


async def test_gateway_serves_the_operators_configuration_with_its_descriptions(
    tmp_path: Path, everything_cmd: list[str]
) -> None:
    upstream_port = free_port()
    loaded = load_documents(
        [
            (
                "ns.yaml",
                """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: everything}
spec: {transport: streamable-http, image: example/everything:1, port: 3001}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec: {servers: [{name: everything}]}
""",
            )
        ]
    )
    assert loaded.state is not None
    rendered = render_gateway(
        "default",
        loaded.state,
        owners=[],
        applied={},
        settings=ManifestSettings(),
        descriptions={"everything": {"echo": "Repeat a message back, unchanged."}},
    )
    config = tmp_path / "config"
    config.mkdir()
    for name, text in rendered.config_map["data"].items():
        (config / name).write_text(text)
    upstreams = json.loads((config / "upstreams.json").read_text())
    assert "everything.default.svc" in upstreams["everything"]["url"]
    # Here the Service is a local process: point the rendered address at it.
    upstreams["everything"]["url"] = f"http://127.0.0.1:{upstream_port}/mcp"
    (config / "upstreams.json").write_text(json.dumps(upstreams))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    remote = [*everything_cmd[:-1], "streamableHttp"]
    with (
        process(remote, env={"PORT": str(upstream_port)}),
        process(
            [sys.executable, "-m", "reconciler", "gateway", "--config-dir", str(config),
             "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "state")]
        ) as gateway,
    ):  # fmt: skip
        wait_for(lambda: ready(base), what="the gateway ready")
        async with mcp_client(f"{base}/suites/dev/mcp") as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert tools["everything_echo"].description == "Repeat a message back, unchanged."
            result = await client.call_tool("everything_echo", {"message": "in cluster"})
            assert result.content[0].text == "Echo: in cluster"  # type: ignore[union-attr]
        os.killpg(gateway.pid, signal.SIGTERM)
        assert gateway.wait(timeout=20) == 0
