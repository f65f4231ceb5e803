"""The trust boundary of a real `mcp-reconciler run`: token rotation, suites turned open,
`status` after the controller was killed, and a quiet SIGTERM."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx2
import pytest

from reconciler.controller.report import events_report
from tests.conftest import node_server
from tests.controller_harness import Controller, cli, server_doc, suite_doc, wait_for, write_yaml

pytestmark = pytest.mark.slow

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t"}},
}
OLD = "old-token-5b1f0e9c2a"
NEW = "new-token-83d2c4a7f1"


def permission(name: str, suite: str) -> dict[str, Any]:
    return {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "ToolPermission",
        "metadata": {"name": name},
        "spec": {
            "suites": [suite],
            "subjects": [
                {"name": "bot", "tokenFrom": {"secretKeyRef": {"name": "bot", "key": "token"}}}
            ],
            "rules": [{"action": "allow", "tools": ["everything.*"]}],
        },
    }


def login(url: str, token: str) -> int:
    headers = {"accept": "application/json, text/event-stream"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx2.post(url, json=INITIALIZE, headers=headers, timeout=10).status_code


def events(state: Path) -> list[dict[str, Any]]:
    return events_report(state, limit=500)


def test_rotation_revokes_the_old_token_and_an_open_suite_needs_saying_so(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    secrets = tmp_path / "state" / "secrets" / "bot"
    secrets.mkdir(parents=True)
    (secrets / "token").write_text(OLD)
    server = server_doc("everything", [*node_server("mcp-server-everything"), "stdio"])
    write_yaml(config / "servers.yaml", server, suite_doc("dev", ["everything"]))
    write_yaml(config / "access.yaml", permission("bot-dev", "dev"))
    controller = Controller(tmp_path / "state", str(config))
    try:
        controller.wait_ready("everything")
        url = f"{controller.gateway_url()}/suites/dev/mcp"
        assert login(url, OLD) == 200

        # 1. the secret's content changes; the YAML does not
        (secrets / "token").write_text(NEW)
        cli("reconcile", state_dir=controller.state_dir)
        wait_for(lambda: login(url, NEW) == 200, what="the new token logs in")
        assert login(url, OLD) == 401
        rotated = [e for e in events(controller.state_dir) if e["reason"] == "CredentialRotated"]
        assert rotated
        assert "ToolPermission/bot-dev" in rotated[0]["message"]
        everything = json.dumps(events(controller.state_dir))
        assert OLD not in everything
        assert NEW not in everything

        # 2. the suite's last permission is removed: refused, the suite stays locked
        (config / "access.yaml").unlink()
        cli("reconcile", state_dir=controller.state_dir)
        wait_for(
            lambda: any(e["reason"] == "OpenSuiteRefused" for e in events(controller.state_dir)),
            what="OpenSuiteRefused",
        )
        status = controller.status()
        assert status["revisions"]["attempted"]["outcome"] == "OpenSuiteRefused"
        assert "spec.public" in status["revisions"]["attempted"]["message"]
        assert login(url, NEW) == 200
        assert login(url, "") == 401

        # saying so applies it
        write_yaml(config / "servers.yaml", server, suite_doc("dev", ["everything"], public=True))
        wait_for(lambda: login(url, "") == 200, what="the public suite opens")
    finally:
        controller.terminate()


def test_status_after_kill_9_says_the_controller_is_gone_and_states_are_last_seen(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(
        config / "servers.yaml",
        server_doc("everything", [*node_server("mcp-server-everything"), "stdio"]),
    )
    controller = Controller(tmp_path / "state", str(config))
    try:
        ready = controller.wait_ready("everything")["everything"]
        controller.process.send_signal(signal.SIGKILL)
        controller.process.wait(timeout=10)
        wait_for(lambda: not _alive(ready["pid"]), what="the server exits with its parent")
        text = cli("status", state_dir=controller.state_dir).stdout
        assert "controller: not running" in text
        assert "as last seen" in text
        assert "last seen" in text.split("everything", 1)[1].splitlines()[0]
        report = json.loads(cli("status", "-o", "json", state_dir=controller.state_dir).stdout)
        row = next(s for s in report["servers"] if s["name"] == "everything")
        assert row["asLastSeen"] is True
        assert row["ageSeconds"] is not None
        assert row["pid"] is None
        assert report["controller"]["running"] is False
    finally:
        controller.kill()


def test_sigterm_shuts_down_quietly(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(
        config / "servers.yaml",
        server_doc("everything", [*node_server("mcp-server-everything"), "stdio"]),
        suite_doc("dev", ["everything"]),
    )
    controller = Controller(tmp_path / "state", str(config))
    url = f"{controller.gateway_url()}/suites/dev/mcp"
    controller.wait_ready("everything")
    with httpx2.Client(timeout=10) as http:  # a client session open while it stops
        opened = http.post(url, json=INITIALIZE, headers={"accept": "application/json"})
        assert opened.status_code == 200
        assert controller.terminate() == 0
    log = controller.log.read_text()
    assert "Traceback" not in log, log
    assert "Event loop is closed" not in log, log


def _alive(pid: int) -> bool:
    try:
        return (
            Path(f"/proc/{pid}").exists()
            and "Z" not in (Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0])
        )
    except OSError:
        return False
