"""The standalone controller, run as users run it, with real third-party MCP servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controller_harness import (
    Controller,
    alive,
    cli,
    server_doc,
    suite_doc,
    wait_for,
    write_yaml,
)

pytestmark = pytest.mark.slow

FAST_HEALTH = {"intervalSeconds": 0.5, "timeoutSeconds": 0.5, "failureThreshold": 2}
FAST_RESTART = {"maxFailures": 3, "backoff": {"initialSeconds": 0.1, "maxSeconds": 0.5}}


@pytest.fixture
def controllers(tmp_path: Path) -> Iterator[list[Controller]]:
    """Controllers a test starts; all terminated (and checked for leftovers) at the end."""
    started: list[Controller] = []
    yield started
    for controller in started:
        controller.terminate()


def start(controllers: list[Controller], state: Path, *args: str) -> Controller:
    controller = Controller(state, *args)
    controllers.append(controller)
    return controller


def test_declared_servers_become_ready_with_their_real_tools(
    tmp_path: Path,
    controllers: list[Controller],
    everything_cmd: list[str],
    time_cmd: list[str],
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(
        config / "servers.yaml",
        server_doc("everything", everything_cmd),
        server_doc("time", time_cmd),
        suite_doc("dev", ["everything", "time"]),
    )
    controller = start(controllers, tmp_path / "state", str(config))
    controller.wait_ready("everything", "time")

    report = json.loads(cli("status", "-o", "json", state_dir=controller.state_dir).stdout)
    servers = {s["name"]: s for s in report["servers"]}
    assert {t["name"] for t in servers["time"]["tools"]} == {"get_current_time", "convert_time"}
    assert "echo" in {t["name"] for t in servers["everything"]["tools"]}
    assert servers["everything"]["toolCount"] == len(servers["everything"]["tools"])
    assert report["controller"]["running"] is True
    suite = next(r for r in report["resources"] if r["kind"] == "MCPSuite")
    assert suite["ready"] == "True"
    assert report["revisions"]["applied"]["revision"].startswith("sha256:")

    same = cli("diff", str(config), state_dir=controller.state_dir, check=False)
    assert same.returncode == 0, same.stderr
    proposal = tmp_path / "proposal"
    proposal.mkdir()
    write_yaml(
        proposal / "servers.yaml",
        server_doc("everything", everything_cmd),
        server_doc("time", [*time_cmd[:-1], "Europe/Paris"]),
        suite_doc("dev", ["everything", "time"]),
    )
    changed = cli("diff", str(proposal), state_dir=controller.state_dir, check=False)
    assert changed.returncode == 2, changed.stderr
    assert "MCPServer/time changed: spec.args (restart)" in changed.stdout


def test_args_change_restarts_only_that_server_label_change_restarts_nothing(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    a = server_doc("a", everything_cmd)
    b = server_doc("b", everything_cmd)
    write_yaml(config / "servers.yaml", a, b)
    controller = start(controllers, tmp_path / "state", str(config))
    before = controller.wait_ready("a", "b")

    a["metadata"]["labels"] = {"team": "x"}
    write_yaml(config / "servers.yaml", a, b)
    wait_for(
        lambda: any("1 update" in e["message"] for e in _events(controller)),
        what="the label change applied",
    )
    after_label = controller.wait_ready("a", "b")
    assert after_label["a"]["pid"] == before["a"]["pid"]
    assert after_label["b"]["pid"] == before["b"]["pid"]

    a["spec"]["args"] = [*everything_cmd[1:]]
    a["spec"]["env"] = [{"name": "VERSION", "value": "2"}]
    write_yaml(config / "servers.yaml", a, b)
    wait_for(
        lambda: (s := controller.server("a")) and s["pid"] not in (None, before["a"]["pid"]),
        what="server a restarted",
    )
    after_args = controller.wait_ready("a", "b")
    assert after_args["b"]["pid"] == before["b"]["pid"]
    assert not alive(before["a"])

    write_yaml(config / "servers.yaml", b)
    wait_for(lambda: controller.server("a") is None, what="server a pruned")
    assert not alive(after_args["a"])
    assert alive(before["b"])


def test_server_killed_from_outside_is_restarted_with_backoff(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("e", everything_cmd, restart=FAST_RESTART))
    controller = start(controllers, tmp_path / "state", str(config))
    first = controller.wait_ready("e")["e"]

    os.killpg(first["pid"], signal.SIGKILL)
    again = wait_for(
        lambda: (
            (s := controller.server("e"))
            and s["phase"] == "Ready"
            and s["pid"] != first["pid"]
            and s
        ),
        what="server restarted",
    )
    assert again["restarts"] == 1
    reasons = [e["reason"] for e in _events(controller)]
    assert "BackOff" in reasons


def test_server_that_exits_at_once_is_stalled_after_max_failures(
    tmp_path: Path, controllers: list[Controller]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    crash = [sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"]
    write_yaml(config / "s.yaml", server_doc("crashy", crash, restart=FAST_RESTART))
    controller = start(controllers, tmp_path / "state", str(config))
    stalled = controller.wait_phase("crashy", "Stalled")
    assert stalled["consecutiveFailures"] == 3
    resource = next(r for r in controller.status()["resources"] if r["name"] == "crashy")
    conditions = {c["type"]: c for c in resource["conditions"]}
    assert conditions["Stalled"]["status"] == "True"
    assert conditions["Stalled"]["reason"] == "RestartsExhausted"
    assert conditions["Ready"]["status"] == "False"
    assert "RestartsExhausted" in [e["reason"] for e in _events(controller)]


def test_server_that_stops_answering_is_detected_and_restarted(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(
        config / "s.yaml",
        server_doc("e", everything_cmd, healthCheck=FAST_HEALTH, restart=FAST_RESTART),
    )
    controller = start(controllers, tmp_path / "state", str(config))
    first = controller.wait_ready("e")["e"]

    os.killpg(first["pid"], signal.SIGSTOP)  # alive, but answers nothing
    wait_for(
        lambda: (
            (s := controller.server("e")) and s["phase"] == "Ready" and s["pid"] != first["pid"]
        ),
        what="hung server replaced",
    )
    assert not alive(first)
    assert "HealthCheckFailed" in [e["reason"] for e in _events(controller)]


def test_emptied_source_is_not_pruned_without_the_flag(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("e", everything_cmd))
    write_yaml(config / "other.yaml", suite_doc("dev", ["e"]))
    controller = start(controllers, tmp_path / "state", str(config))
    first = controller.wait_ready("e")["e"]

    write_yaml(config / "s.yaml")  # every server gone at once
    (config / "other.yaml").unlink()
    wait_for(
        lambda: "MassPruneRefused" in [e["reason"] for e in _events(controller)],
        what="mass prune refused",
    )
    assert alive(first)
    report = controller.status()
    assert report["revisions"]["attempted"]["outcome"] == "MassPruneRefused"
    assert (
        report["revisions"]["attempted"]["revision"] != report["revisions"]["applied"]["revision"]
    )


def test_sigterm_stops_every_server_and_exits_zero(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("a", everything_cmd), server_doc("b", everything_cmd))
    controller = start(controllers, tmp_path / "state", str(config))
    ready = controller.wait_ready("a", "b")

    assert controller.terminate() == 0
    assert not alive(ready["a"])
    assert not alive(ready["b"])
    after = json.loads(cli("status", "-o", "json", state_dir=controller.state_dir).stdout)
    assert after["controller"]["running"] is False
    assert {s["phase"] for s in after["servers"]} == {"Stopped"}


def test_restart_after_kill_9_cleans_up_and_runs_exactly_one_copy(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    marker = [{"name": "MARKER", "value": str(tmp_path)}]
    write_yaml(config / "s.yaml", server_doc("e", everything_cmd, env=marker))
    state = tmp_path / "state"
    first = start(controllers, state, str(config))
    old = first.wait_ready("e")["e"]
    first.kill()

    second = start(controllers, state, str(config))
    new = wait_for(
        lambda: (
            (s := second.server("e"))
            and s["phase"] == "Ready"
            and s["pid"] not in (None, old["pid"])
            and s
        ),
        what="a fresh copy after the crash",
    )
    assert not alive(old)
    copies = _processes_with(str(tmp_path))
    assert copies == [new["pid"]], f"expected exactly one server process, found {copies}"


def test_broken_commit_is_not_applied_and_last_good_revision_keeps_running(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    repo = tmp_path / "repo"
    (repo / "mcp").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    write_yaml(repo / "mcp" / "s.yaml", server_doc("e", everything_cmd))
    _commit(repo, "good")
    controller = start(
        controllers, tmp_path / "state", "--git", str(repo), "--path", "mcp", "--interval", "0.3"
    )
    good = controller.wait_ready("e")["e"]

    (repo / "mcp" / "s.yaml").write_text("kind: MCPServer\nmetadata: {name: e}\nspec: [oops\n")
    _commit(repo, "broken")
    report = wait_for(
        lambda: (
            (r := controller.status())["revisions"]["attempted"]["outcome"] == "ValidationFailed"
            and r
        ),
        what="the broken commit attempted",
    )
    assert (
        report["revisions"]["applied"]["revision"] != report["revisions"]["attempted"]["revision"]
    )
    assert "mcp/s.yaml:" in report["revisions"]["attempted"]["message"]
    assert alive(good)
    assert controller.server("e")["phase"] == "Ready"

    e = server_doc("e", everything_cmd, labels={"fixed": "yes"})
    write_yaml(repo / "mcp" / "s.yaml", e)
    _commit(repo, "fixed")
    wait_for(
        lambda: (
            (r := controller.status())["revisions"]["applied"]["revision"]
            == r["revisions"]["attempted"]["revision"]
        ),
        what="the fixed commit applied",
    )
    assert controller.status()["revisions"]["applied"]["revision"].startswith("main@sha1:")


def _events(controller: Controller) -> list[dict[str, object]]:
    from reconciler.controller.report import events_report

    return events_report(controller.state_dir, limit=500)


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds MARKER=`marker`."""
    found = []
    needle = f"MARKER={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != "Z":
            found.append(int(entry.name))
    return found


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(
        repo,
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.com",
        "commit",
        "-q",
        "-m",
        message,
    )


def test_emptied_source_is_pruned_with_allow_mass_prune(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("e", everything_cmd))
    controller = start(controllers, tmp_path / "state", str(config), "--allow-mass-prune")
    first = controller.wait_ready("e")["e"]

    write_yaml(config / "s.yaml")
    wait_for(lambda: controller.server("e") is None, what="server pruned")
    assert not alive(first)


def test_remote_server_is_connected_not_spawned_and_reconcile_cli_triggers_a_pass(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    remote = subprocess.Popen(
        [*everything_cmd[:-1], "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _port_open(port), what="the remote server listening")
        config = tmp_path / "config"
        config.mkdir()
        write_yaml(
            config / "s.yaml",
            {
                "apiVersion": "mcp.reconciler.dev/v1alpha1",
                "kind": "MCPServer",
                "metadata": {"name": "remote"},
                "spec": {"transport": "streamable-http", "url": f"http://127.0.0.1:{port}/mcp"},
            },
        )
        controller = start(controllers, tmp_path / "state", str(config))
        ready = controller.wait_ready_remote("remote")
        assert ready["pid"] is None
        assert "echo" in {t["name"] for t in ready["tools"]}

        answer = cli("reconcile", "-o", "json", state_dir=controller.state_dir)
        assert json.loads(answer.stdout)["triggered"] is True
        events = json.loads(cli("events", "-o", "json", state_dir=controller.state_dir).stdout)
        assert any(e["reason"] == "Ready" and e["resource"] == "MCPServer/remote" for e in events)
    finally:
        os.killpg(remote.pid, signal.SIGTERM)
        remote.wait(timeout=10)


def test_reconcile_cli_without_a_controller_says_what_to_do(tmp_path: Path) -> None:
    result = cli("reconcile", state_dir=tmp_path, check=False)
    assert result.returncode == 1
    assert "mcp-reconciler run" in result.stderr


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_removed_source_directory_keeps_servers_running_and_is_followed_again(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    import shutil

    config = tmp_path / "config"
    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("e", everything_cmd))
    controller = start(controllers, tmp_path / "state", str(config), "--interval", "0.5")
    first = controller.wait_ready("e")["e"]

    shutil.rmtree(config)
    wait_for(
        lambda: "SourceUnavailable" in [e["reason"] for e in _events(controller)],
        what="the source failure reported",
    )
    assert alive(first)

    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("e", everything_cmd), server_doc("f", everything_cmd))
    controller.wait_ready("e", "f")
    assert alive(first)


def test_events_follow_prints_new_events_as_they_happen(
    tmp_path: Path, controllers: list[Controller], everything_cmd: list[str]
) -> None:
    import threading

    config = tmp_path / "config"
    config.mkdir()
    write_yaml(config / "s.yaml", server_doc("a", everything_cmd))
    controller = start(controllers, tmp_path / "state", str(config))
    controller.wait_ready("a")
    follower = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "events", "--follow", "-o", "json",
         "--state-dir", str(controller.state_dir)],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    seen: list[dict[str, object]] = []
    reader = threading.Thread(
        target=lambda: seen.extend(json.loads(line) for line in follower.stdout or ()),
        daemon=True,
    )
    reader.start()
    try:
        write_yaml(
            config / "s.yaml", server_doc("a", everything_cmd), server_doc("b", everything_cmd)
        )
        wait_for(
            lambda: any(e["resource"] == "MCPServer/b" and e["reason"] == "Ready" for e in seen),
            what="the follower printing b's Ready event",
        )
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0
        reader.join(timeout=5)
