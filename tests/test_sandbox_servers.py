"""Sandboxed real MCP servers under a real `mcp-reconciler run`, driven through its gateway.

One controller serves the same servers with and without `sandbox`, so every test compares
what a server can do confined against what the very same server does unconfined.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli.app import app
from reconciler.cli.options import BWRAP_ENV
from tests.conftest import TESTS, node_server, python_server
from tests.controller_harness import (
    Controller,
    cli,
    server_doc,
    suite_doc,
    wait_for,
    write_yaml,
)
from tests.gateway_harness import mcp_client

pytestmark = pytest.mark.slow

PROBE = [sys.executable, str(TESTS / "servers" / "probe.py")]
GREETING = b"hello from the host\n"


@dataclass
class Boxed:
    controller: Controller
    root: Path
    home: Path
    data: Path
    out: Path
    port: int
    secret: Path
    """A file of the controller's state directory (its secrets)."""

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> str:
        url = f"{self.controller.gateway_url()}/suites/all/mcp"
        async with mcp_client(url) as client:
            result = await client.call_tool(f"{server}_{tool}", arguments)
        return "\n".join(getattr(part, "text", "") for part in result.content)


def _listener() -> tuple[socket.socket, int]:
    """A TCP server on the host's 127.0.0.1 that greets whoever connects."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(GREETING)

    threading.Thread(target=serve, daemon=True).start()
    return sock, sock.getsockname()[1]


@pytest.fixture(scope="module")
def boxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Boxed]:
    root = tmp_path_factory.mktemp("sandbox")
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE-KEY")
    data = root / "data"
    (data / "public").mkdir(parents=True)
    (data / "public" / "readme.txt").write_text("PUBLIC")
    (data / "secret.txt").write_text("SECRET")
    out = root / "out"
    out.mkdir()
    work = root / "work"
    state = work / "state"  # inside the working dir the sandboxed probe may write
    secret = state / "secrets" / "vault" / "key"
    secret.parent.mkdir(parents=True)
    secret.write_text("VAULT-VALUE")

    filesystem = node_server("mcp-server-filesystem")
    home_env = [{"name": "HOME", "value": str(home)}]
    box = {
        "filesystem": {"readOnly": [str(data / "public")], "readWrite": [str(out)]},
        "network": "none",
    }
    servers = [
        server_doc("fs-open", [*filesystem, str(data)]),
        server_doc("fs-boxed", [*filesystem, str(data)], sandbox=box),
        server_doc("probe-open", PROBE, env=home_env),
        server_doc("probe-boxed", PROBE, env=home_env, sandbox=box, workingDir=str(work)),
        server_doc("probe-host", PROBE, env=home_env, sandbox={"network": "host"}),
        server_doc("everything", [*node_server("mcp-server-everything"), "stdio"], sandbox={}),
        server_doc("time", [python_server("mcp-server-time")], sandbox={}),
    ]
    config = root / "config"
    config.mkdir()
    names = [doc["metadata"]["name"] for doc in servers]
    write_yaml(config / "servers.yaml", *servers, suite_doc("all", names))
    listener, port = _listener()
    controller = Controller(state, str(config))
    try:
        controller.wait_ready(*names, timeout=180)
        yield Boxed(controller, root, home, data, out, port, secret)
    finally:
        controller.terminate()
        listener.close()


async def test_sandboxed_filesystem_server_reads_its_declared_path_and_nothing_else(
    boxed: Boxed,
) -> None:
    secret = str(boxed.data / "secret.txt")
    public = str(boxed.data / "public" / "readme.txt")
    assert await boxed.call("fs-open", "read_text_file", {"path": secret}) == "SECRET"
    assert await boxed.call("fs-boxed", "read_text_file", {"path": public}) == "PUBLIC"
    refused = await boxed.call("fs-boxed", "read_text_file", {"path": secret})
    assert "SECRET" not in refused
    assert "ENOENT" in refused


async def test_sandboxed_server_cannot_read_the_home_or_reach_the_hosts_loopback(
    boxed: Boxed,
) -> None:
    key = "~/.ssh/id_rsa"
    assert await boxed.call("probe-open", "read", {"path": key}) == "ok: PRIVATE-KEY"
    assert (await boxed.call("probe-boxed", "read", {"path": key})).startswith("denied: read")
    assert (await boxed.call("probe-host", "read", {"path": key})).startswith("denied: read")

    greeting = f"ok: {GREETING.decode()}"
    assert await boxed.call("probe-open", "connect", {"port": boxed.port}) == greeting
    refused = await boxed.call("probe-boxed", "connect", {"port": boxed.port})
    assert refused.startswith("denied: connect: ConnectionRefusedError")
    assert await boxed.call("probe-host", "connect", {"port": boxed.port}) == greeting


async def test_sandboxed_server_writes_only_its_writable_paths_and_a_private_tmp(
    boxed: Boxed,
) -> None:
    written = boxed.out / "note.txt"
    assert (
        await boxed.call("probe-boxed", "write", {"path": str(written), "text": "x"})
    ).startswith("ok")
    assert written.read_text() == "x"
    read_only = boxed.data / "public" / "note.txt"
    answer = await boxed.call("probe-boxed", "write", {"path": str(read_only), "text": "x"})
    assert answer.startswith("denied: write: OSError: Read-only file system")
    assert not read_only.exists()
    private = Path("/tmp") / f"sandbox-{uuid.uuid4().hex}"
    assert (
        await boxed.call("probe-boxed", "write", {"path": str(private), "text": "x"})
    ).startswith("ok")
    assert not private.exists()  # its /tmp is its own


async def test_the_controllers_state_is_hidden_even_inside_a_granted_working_directory(
    boxed: Boxed,
) -> None:
    relative = str(boxed.secret.relative_to(boxed.root / "work"))
    assert await boxed.call("probe-open", "read", {"path": str(boxed.secret)}) == "ok: VAULT-VALUE"
    assert (await boxed.call("probe-boxed", "read", {"path": relative})).startswith("denied: read")
    assert (await boxed.call("probe-boxed", "read", {"path": str(boxed.secret)})).startswith(
        "denied: read"
    )


async def test_time_and_everything_answer_their_tools_inside_the_sandbox(boxed: Boxed) -> None:
    assert await boxed.call("everything", "echo", {"message": "boxed"}) == "Echo: boxed"
    now = json.loads(await boxed.call("time", "get_current_time", {"timezone": "UTC"}))
    assert now["timezone"] == "UTC"


# -- process handling and failure modes ----------------------------------------------------


def _processes_with(marker: str) -> list[tuple[int, int]]:
    """(pid, process group) of live processes whose environment holds MARKER=`marker`."""
    found = []
    needle = f"MARKER={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if needle in environ and fields[0] != "Z":
            found.append((int(entry.name), int(fields[2])))
    return found


def test_kill_9_of_the_controller_leaves_no_sandboxed_process_and_a_restart_runs_one_copy(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    marker = [{"name": "MARKER", "value": str(tmp_path)}]
    everything = [*node_server("mcp-server-everything"), "stdio"]
    write_yaml(config / "s.yaml", server_doc("e", everything, env=marker, sandbox={}))
    first = Controller(tmp_path / "state", str(config))
    second: Controller | None = None
    try:
        old = first.wait_ready("e", timeout=60)["e"]
        group = _processes_with(str(tmp_path))
        assert len(group) >= 2
        assert {pgid for _, pgid in group} == {old["pid"]}
        first.kill()
        wait_for(lambda: not _processes_with(str(tmp_path)), what="no sandboxed process left")

        second = Controller(tmp_path / "state", str(config))
        new = wait_for(
            lambda: (
                (s := second.server("e"))
                and s["phase"] == "Ready"
                and s["pid"] not in (None, old["pid"])
                and s
            ),
            timeout=60,
            what="a fresh sandboxed copy after the crash",
        )
        assert {pgid for _, pgid in _processes_with(str(tmp_path))} == {new["pid"]}
    finally:
        first.terminate()
        if second is not None:
            assert second.terminate() == 0
    assert not _processes_with(str(tmp_path))


def test_without_bubblewrap_a_sandboxed_server_is_stalled_never_run_bare_and_validate_warns(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    marker = [{"name": "MARKER", "value": str(tmp_path)}]
    everything = [*node_server("mcp-server-everything"), "stdio"]
    write_yaml(
        config / "s.yaml",
        server_doc("boxed", everything, env=marker, sandbox={}),
        server_doc("plain", everything),
    )
    missing = str(tmp_path / "no-bwrap-here")
    controller = Controller(tmp_path / "state", str(config), "--bwrap", missing)
    try:
        controller.wait_ready("plain", timeout=60)
        stalled = controller.wait_phase("boxed", "Stalled", timeout=60)
        assert stalled["pid"] is None
        assert stalled["restarts"] == 0
        resource = next(r for r in controller.status()["resources"] if r["name"] == "boxed")
        conditions = {c["type"]: c for c in resource["conditions"]}
        assert conditions["Stalled"]["status"] == "True"
        assert conditions["Stalled"]["reason"] == "SandboxUnavailable"
        assert "apt-get install bubblewrap" in conditions["Stalled"]["message"]
        assert not _processes_with(str(tmp_path))  # never started unsandboxed
        shown = json.loads(cli("status", "-o", "json", state_dir=controller.state_dir).stdout)
        row = next(s for s in shown["servers"] if s["name"] == "boxed")
        assert "bubblewrap is not installed" in row["lastError"]
    finally:
        assert controller.terminate() == 0

    warned = CliRunner().invoke(app, ["validate", str(config)], env={BWRAP_ENV: missing})
    assert warned.exit_code == 0
    assert "s.yaml:" in warned.stderr
    assert "MCPServer/boxed: spec.sandbox: warning: " in warned.stderr
    assert "apt-get install bubblewrap" in warned.stderr
    assert "MCPServer/plain" not in warned.stderr
    clean = CliRunner().invoke(app, ["validate", str(config)], env={BWRAP_ENV: None})
    assert clean.exit_code == 0
    assert "warning" not in clean.stderr
