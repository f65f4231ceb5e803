"""The tool lock end to end: `lock`, a real `mcp-reconciler run`, a server that pulls the rug.

tests/servers/rug_pull.py changes a tool's definition at run time and announces
`list_changed`; with RUG_PULL_POISONED=1 it also ships a poisoned tool from the start.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
import yaml
from mcp.shared.exceptions import MCPError

from tests.controller_harness import Controller, server_doc, suite_doc, wait_for, write_yaml
from tests.gateway_harness import mcp_client

pytestmark = pytest.mark.slow

RUG_PULL = str(Path(__file__).parent / "servers" / "rug_pull.py")


def rug_server(name: str, *, poisoned: bool = False) -> dict[str, Any]:
    env = [{"name": "RUG_PULL_POISONED", "value": "1"}] if poisoned else []
    return server_doc(name, [sys.executable, RUG_PULL], env=env)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Controller, Path]]:
    root = tmp_path_factory.mktemp("toollock-e2e")
    config = root / "config"
    config.mkdir()
    write_yaml(
        config / "resources.yaml",
        rug_server("weather"),
        rug_server("breezy"),
        rug_server("poisoned", poisoned=True),
        suite_doc("dev", ["weather", "breezy", "poisoned"]),
    )
    state = root / "state"
    # No controller yet: `lock` starts the two servers briefly to list their tools.
    locked = cli("lock", str(config), "--server", "weather", "--server", "breezy",
                 state_dir=state)  # fmt: skip
    assert "weather: added (3 tools)" in locked.stdout
    lock_file = config / "tools.lock.yaml"
    locks = list(yaml.safe_load_all(lock_file.read_text()))
    breezy = next(d for d in locks if d["metadata"]["name"] == "breezy")
    breezy["spec"]["mode"] = "warn"
    lock_file.write_text(yaml.safe_dump_all(locks, sort_keys=False))
    controller = Controller(state, str(config))
    try:
        controller.wait_ready("weather", "breezy", "poisoned", timeout=120)
        url = controller.gateway_url()
        wait_for(lambda: httpx2.get(f"{url}/readyz").status_code == 200, what="/readyz")
        yield controller, config
    finally:
        controller.terminate()


def cli(*args: str, state_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The command line; `lock` starts servers, so it gets more time than the harness's."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        check=check,
        timeout=240,
    )


def suite_url(controller: Controller) -> str:
    return f"{controller.gateway_url()}/suites/dev/mcp"


def names(result: types.ListToolsResult) -> set[str]:
    return {tool.name for tool in result.tools}


class ListChanges:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.event.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.event.wait(), 30)
        self.event.clear()


def events(controller: Controller, reason: str) -> list[dict[str, Any]]:
    from reconciler.controller.report import events_report

    return [e for e in events_report(controller.state_dir, limit=500) if e["reason"] == reason]


def withheld_gauge(controller: Controller, server: str) -> float | None:
    text = httpx2.get(f"{controller.gateway_url()}/metrics").text
    for line in text.splitlines():
        if line.startswith(f'mcp_reconciler_tools_withheld{{server="{server}"}}'):
            return float(line.split()[-1])
    return None


async def test_a_rug_pull_is_withheld_until_a_commit_accepts_it(
    running: tuple[Controller, Path],
) -> None:
    controller, config = running
    pid = controller.server("weather")["pid"]  # type: ignore[index]
    changes = ListChanges()
    async with mcp_client(suite_url(controller), message_handler=changes) as client:
        assert {"weather_get_forecast", "weather_pull_rug"} <= names(await client.list_tools())

        await client.call_tool("weather_pull_rug", {})
        await changes.wait()
        assert "weather_get_forecast" not in names(await client.list_tools())
        with pytest.raises(MCPError) as refused:
            await client.call_tool("weather_get_forecast", {"city": "Oslo"})
        message = str(refused.value)
        assert "withheld" in message
        assert "drifted from the lock" in message
        assert "description changed from" in message
        assert "parameter note added" in message
        # The server's other tools keep working, and nothing restarted.
        restored = await client.call_tool("weather_restore", {})
        assert restored.content[0].text == "get_forecast restored"  # type: ignore[union-attr]
        await changes.wait()
        assert "weather_get_forecast" in names(await client.list_tools())
        assert controller.server("weather")["pid"] == pid  # type: ignore[index]

        await client.call_tool("weather_pull_rug", {})
        await changes.wait()
        status = await asyncio.to_thread(controller.server, "weather")
        assert status is not None
        assert status["withheldTools"] == ["get_forecast"]
        resource = next(r for r in controller.status()["resources"] if r["name"] == "weather")
        locked = next(c for c in resource["conditions"] if c["type"] == "ToolsLocked")
        assert (locked["status"], locked["reason"]) == ("False", "ToolDrift")
        drift = events(controller, "ToolDrift")
        assert any(
            "weather.get_forecast withheld" in e["message"] and "sha256" in e["message"]
            for e in drift
        )
        assert withheld_gauge(controller, "weather") == 1

        # Accepting = committing the updated lock. The new text is poisoned, so the
        # scan keeps it withheld until the reviewer also accepts its findings.
        await asyncio.to_thread(cli, "lock", str(config), "--update", "--server", "weather",
                                state_dir=controller.state_dir)  # fmt: skip
        await asyncio.to_thread(
            wait_for,
            lambda: events(controller, "ToolFinding"),
            what="the scan finding reported",
        )
        with pytest.raises(MCPError) as still:
            await client.call_tool("weather_get_forecast", {"city": "Oslo"})
        assert "the scan found" in str(still.value)
        lock_file = config / "tools.lock.yaml"
        locks = list(yaml.safe_load_all(lock_file.read_text()))
        weather = next(d for d in locks if d and d["metadata"]["name"] == "weather")
        weather["spec"]["accepted"] = [
            {"tool": "get_forecast", "finding": kind}
            for kind in ("instructions-to-model", "sensitive-paths", "exfiltration")
        ]
        lock_file.write_text(yaml.safe_dump_all([d for d in locks if d], sort_keys=False))
        await changes.wait()
        assert "weather_get_forecast" in names(await client.list_tools())
        assert controller.server("weather")["pid"] == pid  # type: ignore[index]
        assert withheld_gauge(controller, "weather") == 0


async def test_under_warn_a_drifted_tool_is_served_and_reported(
    running: tuple[Controller, Path],
) -> None:
    controller, _ = running
    async with mcp_client(suite_url(controller)) as client:
        await client.call_tool("breezy_pull_rug", {})
        await asyncio.to_thread(
            wait_for,
            lambda: any(
                "breezy.get_forecast" in e["message"] for e in events(controller, "ToolDrift")
            ),
            what="ToolDrift of breezy",
        )
        assert "breezy_get_forecast" in names(await client.list_tools())
        result = await client.call_tool("breezy_get_forecast", {"city": "Oslo"})
        assert result.content[0].text == "sunny in Oslo"  # type: ignore[union-attr]
    drift = next(e for e in events(controller, "ToolDrift") if "breezy" in e["message"])
    assert "served (ToolLock mode warn)" in drift["message"]
    assert controller.server("breezy")["withheldTools"] == []  # type: ignore[index]


async def test_a_poisoned_tool_is_withheld_without_a_lock_and_the_others_served(
    running: tuple[Controller, Path],
) -> None:
    controller, _ = running
    async with mcp_client(suite_url(controller)) as client:
        listed = names(await client.list_tools())
        assert "poisoned_add_numbers" not in listed
        assert {"poisoned_get_forecast", "poisoned_pull_rug"} <= listed
        with pytest.raises(MCPError) as refused:
            await client.call_tool("poisoned_add_numbers", {"a": 1, "b": 2})
        assert "the scan found" in str(refused.value)
    assert controller.server("poisoned")["withheldTools"] == ["add_numbers"]  # type: ignore[index]
    scanned = cli("scan", "--server", "poisoned", state_dir=controller.state_dir, check=False)
    assert scanned.returncode == 2
    assert "poisoned.add_numbers: high: instructions-to-model:" in scanned.stdout
