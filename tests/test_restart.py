"""`mcp-reconciler restart` against a real controller and real servers (standalone)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controller_harness import Controller, alive, cli, server_doc, write_yaml

pytestmark = pytest.mark.slow

FAST_RESTART = {"maxFailures": 2, "backoff": {"initialSeconds": 0.1, "maxSeconds": 0.2}}


@pytest.fixture
def controllers() -> Iterator[list[Controller]]:
    started: list[Controller] = []
    yield started
    for controller in started:
        controller.terminate()


def flaky(marker: Path, command: list[str]) -> list[str]:
    """A server that exits at once until `marker` exists (a broken dependency, fixed later)."""
    script = f"test -f {shlex.quote(str(marker))} || exit 3; exec {shlex.join(command)}"
    return ["sh", "-c", script]


def test_restart_gives_new_pids_records_events_and_revives_a_stalled_server(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    marker = tmp_path / "fixed"
    write_yaml(
        config / "s.yaml",
        server_doc("a", everything_cmd),
        server_doc("broken", flaky(marker, everything_cmd), restart=FAST_RESTART),
    )
    controller = Controller(tmp_path / "state", str(config))
    controllers.append(controller)
    before = controller.wait_ready("a")["a"]
    controller.wait_phase("broken", "Stalled")

    done = cli("restart", "a", "-o", "json", state_dir=controller.state_dir)
    (row,) = json.loads(done.stdout)["restarted"]
    assert row["name"] == "a"
    assert row["previousPid"] == before["pid"]
    assert row["pid"]
    assert row["pid"] != before["pid"]
    assert row["phase"] == "Ready"
    after = controller.server("a")
    assert after is not None
    assert after["pid"] == row["pid"]
    assert after["restarts"] == before["restarts"] + 1
    assert not alive(before)

    events = cli("events", "--type", "Restarted", "-o", "json", state_dir=controller.state_dir)
    (event,) = json.loads(events.stdout)
    assert event["resource"] == "MCPServer/a"
    assert f"pid {before['pid']} -> {row['pid']}" in event["message"]
    warnings = cli("events", "--severity", "error", "-o", "json", state_dir=controller.state_dir)
    assert {e["reason"] for e in json.loads(warnings.stdout)} == {"RestartsExhausted"}

    marker.touch()  # the cause is fixed: a restart brings the Stalled server back
    revived = cli("restart", "broken", state_dir=controller.state_dir)
    assert "was Stalled" in revived.stdout
    broken = controller.wait_ready("broken")["broken"]
    resource = next(r for r in controller.status()["resources"] if r["name"] == "broken")
    assert resource["ready"] == "True"
    assert {c["type"]: c["status"] for c in resource["conditions"]}["Stalled"] == "False"

    everything = json.loads(
        cli("restart", "--all", "-o", "json", state_dir=controller.state_dir).stdout
    )["restarted"]
    assert {r["name"] for r in everything} == {"a", "broken"}
    assert next(r for r in everything if r["name"] == "broken")["pid"] != broken["pid"]


def test_restart_of_an_unknown_server_fails_and_restarts_nothing(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("a", everything_cmd))
    controller = Controller(tmp_path / "state", str(config))
    controllers.append(controller)
    before = controller.wait_ready("a")["a"]
    refused = cli("restart", "a", "nope", state_dir=controller.state_dir, check=False)
    assert refused.returncode == 1
    assert "unknown server(s): nope" in refused.stderr
    after = controller.server("a")
    assert after is not None
    assert after["pid"] == before["pid"]


def test_restart_without_a_controller_says_what_to_do(tmp_path: Path) -> None:
    refused = cli("restart", "a", state_dir=tmp_path / "state", check=False)
    assert refused.returncode == 1
    assert "no controller is running" in refused.stderr
    usage = cli("restart", state_dir=tmp_path / "state", check=False)
    assert usage.returncode == 1
    assert "--all" in usage.stderr
