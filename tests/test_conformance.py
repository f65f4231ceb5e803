"""The official MCP conformance suite, run through the gateway as users run it.

`@modelcontextprotocol/conformance` (pinned in tests/conformance/ with the Node 22 it needs)
is first pointed at the project's own conformance fixture server
(`tests/conformance/fixture_server.py`) directly, over HTTP: that run is the baseline, and
every scenario passes in it. Then at suite endpoints of a real `mcp-reconciler run` serving
the same fixture over stdio: alone, beside server-everything, and behind a required bearer
token (through `tests/conformance/bearer_front.py`, since the suite cannot send headers).
Every scenario that passes directly must pass through the gateway, and no check may warn or
fail through the gateway that does not directly.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import node_server
from tests.controller_harness import Controller, server_doc, suite_doc, wait_for, write_yaml

pytestmark = pytest.mark.slow

CONFORMANCE = Path(__file__).parent / "conformance"
NODE_BIN = CONFORMANCE / "node_modules" / ".bin"
CLI = CONFORMANCE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
FRONT = CONFORMANCE / "bearer_front.py"
FIXTURE = CONFORMANCE / "fixture_server.py"
SUITES = ("active", "pending")
SCENARIOS = {"active": 30, "pending": 2}
"""How many scenarios each suite of the pinned conformance package runs."""
ENDPOINTS = ("one-server", "two-servers", "bearer-token")
TOKEN_ENV = "CONFORMANCE_BEARER_TOKEN"
SUMMARY = re.compile(r"^([✓✗]) (\S+): (\d+) passed, (\d+) failed", re.MULTILINE)
RESULT_DIR = re.compile(r"^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$")
PROBLEMS = ("FAILURE", "WARNING")


@dataclass(frozen=True)
class Scenario:
    """One scenario's summary line, and the statuses of its checks by check id."""

    name: str
    passed: bool
    successes: int
    failures: int
    checks: dict[str, frozenset[str]] = field(default_factory=dict)

    def cell(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.successes} ok, {self.failures} failed"


Run = dict[str, Scenario]


def conformance_cli() -> list[str]:
    if not CLI.is_file() or not (NODE_BIN / "node").exists():
        pytest.fail(f"{CLI} missing: run `npm ci --prefix tests/conformance` (.ci/setup does)")
    return [str(NODE_BIN / "node"), str(CLI)]


def checks_of(results: Path) -> dict[str, dict[str, frozenset[str]]]:
    """Per scenario, every check id with the statuses it was given (from checks.json)."""
    found: dict[str, dict[str, frozenset[str]]] = {}
    for folder in sorted(results.iterdir()):
        match = RESULT_DIR.match(folder.name)
        if match is None or not (folder / "checks.json").is_file():
            continue
        statuses: dict[str, set[str]] = {}
        for check in json.loads((folder / "checks.json").read_text()):
            statuses.setdefault(check["id"], set()).add(check["status"])
        found[match.group(1)] = {cid: frozenset(s) for cid, s in statuses.items()}
    return found


def run_conformance(url: str, suite: str, results: Path) -> Run:
    """Run one suite of server scenarios against `url`; the scenarios by name."""
    env = {**os.environ, "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [*conformance_cli(), "server", "--url", url, "--suite", suite, "-o", str(results)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    lines = SUMMARY.findall(done.stdout)
    if not lines:
        pytest.fail(
            f"the conformance suite reported no scenario (exit {done.returncode}) for {url}:\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    checks = checks_of(results) if results.is_dir() else {}
    return {
        name: Scenario(name, mark == "✓", int(ok), int(failed), checks.get(name, {}))
        for mark, name, ok, failed in lines
    }


def new_problems(direct: Scenario, through: Scenario) -> list[str]:
    """Checks that fail or warn through the gateway but not directly."""
    return [
        f"{check}: {status}"
        for check, statuses in sorted(through.checks.items())
        for status in PROBLEMS
        if status in statuses and status not in direct.checks.get(check, frozenset())
    ]


def outcome(statuses: frozenset[str] | None) -> str:
    """A check's statuses other than INFO, for the table."""
    shown = sorted((statuses or frozenset()) - {"INFO"})
    return "/".join(shown) or ("INFO" if statuses else "absent")


def differences(direct: Scenario, through: Scenario) -> list[str]:
    """Checks whose outcome differs; `!` marks a warning or failure new through the gateway."""
    problems = {p.partition(":")[0] for p in new_problems(direct, through)}
    notes = []
    for check in sorted({*direct.checks, *through.checks}):
        before, after = direct.checks.get(check), through.checks.get(check)
        pair = {outcome(before), outcome(after)}
        if len(pair) == 2 and not pair <= {"INFO", "absent"}:  # INFO only logs traffic
            mark = "!" if check in problems else ""
            notes.append(f"{mark}{check}: {outcome(before)} -> {outcome(after)}")
    return notes


def comparison_table(direct: Run, through: Run) -> str:
    """Scenario by scenario: the direct result, the gateway's, and check-level differences."""
    rows = [f"{'scenario':<34} {'direct':<20} {'gateway':<20} checks that differ"]
    for name in [*direct, *(n for n in through if n not in direct)]:
        left, right = direct.get(name), through.get(name)
        notes = differences(left, right) if left is not None and right is not None else []
        rows.append(
            f"{name:<34} {left.cell() if left else 'absent':<20} "
            f"{right.cell() if right else 'absent':<20} {'; '.join(notes)}"
        )
    return "\n".join(rows)


# -- the processes: the fixture alone (baseline), the controller, the bearer front ----------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepting(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start(
    command: list[str], log: Path, *, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def running(process: subprocess.Popen[bytes], log: Path) -> bool:
    """True while the process runs; fails the test at once (not at a timeout) when it exited."""
    if process.poll() is not None:
        pytest.fail(f"{process.args!r} exited with {process.returncode}:\n{log.read_text()}")
    return True


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Both suites against the fixture server directly (HTTP): what the gateway must match."""
    work = tmp_path_factory.mktemp("direct")
    port = free_port()
    log = work / "fixture.log"
    process = start([sys.executable, str(FIXTURE), "http", str(port)], log)
    try:
        wait_for(lambda: running(process, log) and accepting(port), what="the fixture server")
        url = f"http://localhost:{port}/mcp"
        return {suite: run_conformance(url, suite, work / suite) for suite in SUITES}
    finally:
        stop(process)


@dataclass(frozen=True)
class Endpoints:
    """The gateway of a running controller, and the suite URLs the conformance suite is given."""

    gateway: str
    urls: dict[str, str]


def resources() -> list[dict[str, Any]]:
    fixture = server_doc("fixture", [sys.executable, str(FIXTURE), "stdio"])
    everything = server_doc("everything", [*node_server("mcp-server-everything"), "stdio"])
    permission = {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "ToolPermission",
        "metadata": {"name": "conformance-tester"},
        "spec": {
            "suites": ["secured"],
            "subjects": [{"name": "tester", "tokenFrom": {"env": TOKEN_ENV}}],
            "rules": [{"action": "allow", "tools": ["*.*"]}],
        },
    }
    return [
        fixture,
        everything,
        suite_doc("one", ["fixture"], conflictResolution="priority"),
        suite_doc("two", ["fixture", "everything"], conflictResolution="priority"),
        suite_doc("secured", ["fixture"], conflictResolution="priority"),
        permission,
    ]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """A real `mcp-reconciler run` serving the fixture in three suites, and a bearer front."""
    work = tmp_path_factory.mktemp("gateway")
    (work / "resources").mkdir()
    write_yaml(work / "resources" / "suites.yaml", *resources())
    token = secrets.token_urlsafe(24)
    controller = Controller(work / "state", str(work / "resources"), env={TOKEN_ENV: token})
    front: subprocess.Popen[bytes] | None = None
    try:
        gateway = controller.gateway_url()

        def ready() -> bool:
            running(controller.process, controller.log)
            return httpx.get(f"{gateway}/readyz", timeout=5).status_code == 200

        wait_for(ready, timeout=60, what="the gateway's /readyz")
        front_log = work / "front.log"
        front = proxy = start(
            [sys.executable, str(FRONT), "--target", gateway, "--token-env", TOKEN_ENV],
            front_log,
            env={TOKEN_ENV: token},
        )

        def front_url() -> str | None:
            running(proxy, front_log)
            found = re.search(r"^http://\S+", front_log.read_text(), re.MULTILINE)
            return found.group(0) if found else None

        fronted = wait_for(front_url, what="the bearer front")
        local = gateway.replace("127.0.0.1", "localhost")
        yield Endpoints(
            gateway=gateway,
            urls={
                "one-server": f"{local}/suites/one/mcp",
                "two-servers": f"{local}/suites/two/mcp",
                "bearer-token": f"{fronted}/suites/secured/mcp",
            },
        )
    finally:
        if front is not None:
            stop(front)
        controller.terminate()


@pytest.mark.parametrize("suite", SUITES)
def test_the_fixture_passes_every_scenario_directly(suite: str, baseline: dict[str, Run]) -> None:
    direct = baseline[suite]
    failing = [name for name, scenario in direct.items() if not scenario.passed]
    assert not failing, f"{suite} scenarios failing against the fixture itself: {failing}"
    assert len(direct) == SCENARIOS[suite], f"{suite} suite ran {sorted(direct)}"


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_scenarios_passing_directly_pass_through_the_gateway(
    endpoint: str, suite: str, baseline: dict[str, Run], served: Endpoints, tmp_path: Path
) -> None:
    direct = baseline[suite]
    through = run_conformance(served.urls[endpoint], suite, tmp_path / "results")
    table = comparison_table(direct, through)
    print(f"{suite} suite, direct vs gateway ({endpoint}):\n{table}")
    expected = [name for name, scenario in direct.items() if scenario.passed]
    assert expected, f"no {suite} scenario passed against the fixture directly:\n{table}"
    broken = [name for name in expected if name not in through or not through[name].passed]
    degraded = [
        name for name in expected if name in through and new_problems(direct[name], through[name])
    ]
    assert not broken, f"{suite} scenarios failing through the gateway ({endpoint}):\n{table}"
    assert not degraded, f"{suite} scenarios with new warnings or failures ({endpoint}):\n{table}"


def test_secured_suite_refuses_a_client_without_the_token(served: Endpoints) -> None:
    answer = httpx.post(
        f"{served.gateway}/suites/secured/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"accept": "application/json, text/event-stream"},
        timeout=10,
    )
    assert answer.status_code == 401
