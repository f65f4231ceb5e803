"""Agents through the gateway of a real `mcp-reconciler run`, with the official MCP client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from tests.controller_harness import Controller, cli, server_doc, suite_doc, wait_for, write_yaml
from tests.gateway_harness import mcp_client

pytestmark = pytest.mark.slow

TOKEN = "ci-bot-secret-token-0123456789"
PERMISSION = {
    "apiVersion": "mcp.reconciler.dev/v1alpha1",
    "kind": "ToolPermission",
    "metadata": {"name": "ci-bot"},
    "spec": {
        "suites": ["locked"],
        "subjects": [{"name": "ci-bot", "tokenFrom": {"env": "CI_BOT_TOKEN"}}],
        "rules": [
            {"action": "allow", "tools": ["everything.*"]},
            {"action": "deny", "tools": ["everything.get-env"]},
        ],
    },
}
BUILTIN = {
    "apiVersion": "mcp.reconciler.dev/v1alpha1",
    "kind": "LLMProvider",
    "metadata": {"name": "local"},
    "spec": {"type": "builtin"},
}


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Controller, Path, list[dict[str, Any]]]]:
    from tests.conftest import node_server, python_server

    everything = [*node_server("mcp-server-everything"), "stdio"]
    time_cmd = [python_server("mcp-server-time"), "--local-timezone", "UTC"]
    root = tmp_path_factory.mktemp("gateway-e2e")
    config = root / "config"
    config.mkdir()
    docs = [
        server_doc("everything", everything),
        server_doc("time", time_cmd, enhancement={"providerRef": "local"}),
        suite_doc("open", ["everything", "time"]),
        suite_doc("locked", ["everything", "time"]),
        PERMISSION,
        BUILTIN,
    ]
    write_yaml(config / "resources.yaml", *docs)
    controller = Controller(root / "state", str(config), env={"CI_BOT_TOKEN": TOKEN})
    try:
        controller.wait_ready("everything", "time")
        url = controller.gateway_url()
        wait_for(lambda: httpx2.get(f"{url}/readyz").status_code == 200, what="/readyz")
        yield controller, config, docs
    finally:
        controller.terminate()


def suite_url(controller: Controller, suite: str) -> str:
    return f"{controller.gateway_url()}/suites/{suite}/mcp"


def names(result: types.ListToolsResult) -> set[str]:
    return {tool.name for tool in result.tools}


async def test_suite_tools_are_prefixed_and_enhanced_descriptions_served(
    running: tuple[Controller, Path, list[dict[str, Any]]],
) -> None:
    controller, _, _ = running
    async with mcp_client(suite_url(controller, "open")) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"everything_echo", "time_get_current_time"} <= set(tools)
        enhanced = await _until_enhanced(client)
        meta = enhanced.meta or {}
        assert meta["dev.mcp-reconciler/enhancement"]["originalDescription"]
        assert "timezone" in (enhanced.description or "")
        result = await client.call_tool("everything_echo", {"message": "hello"})
        assert result.content[0].text == "Echo: hello"  # type: ignore[union-attr]
    listed = cli("enhancements", "list", "-o", "json", state_dir=controller.state_dir)
    states = {(t["server"], t["tool"]): t["state"] for t in json.loads(listed.stdout)["tools"]}
    assert states[("time", "get_current_time")] == "enhanced"


async def _until_enhanced(client: Any) -> types.Tool:
    for _ in range(100):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        tool = tools["time_get_current_time"]
        if tool.meta and "dev.mcp-reconciler/enhancement" in tool.meta:
            return tool
        await asyncio.sleep(0.1)
    raise AssertionError("the enhanced description was never served")


async def test_a_token_sees_only_permitted_tools_and_no_token_gets_401(
    running: tuple[Controller, Path, list[dict[str, Any]]],
) -> None:
    controller, _, _ = running
    url = suite_url(controller, "locked")
    async with mcp_client(url, token=TOKEN) as client:
        visible = names(await client.list_tools())
        assert "everything_echo" in visible
        assert "everything_get-env" not in visible
        assert not any(name.startswith("time_") for name in visible)
        with pytest.raises(Exception, match="not permitted"):
            await client.call_tool("everything_get-env", {})
    async with httpx2.AsyncClient() as http:
        response = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert response.status_code == 401


async def test_a_server_killed_mid_call_gives_an_error_then_calls_succeed_again(
    running: tuple[Controller, Path, list[dict[str, Any]]],
) -> None:
    controller, _, _ = running
    before = controller.wait_ready("everything")["everything"]
    async with mcp_client(suite_url(controller, "open")) as client:
        call = asyncio.create_task(
            client.call_tool(
                "everything_trigger-long-running-operation", {"duration": 5, "steps": 5}
            )
        )
        await asyncio.sleep(0.5)
        os.killpg(before["pid"], signal.SIGKILL)
        with pytest.raises(MCPError, match="went away during tools/call"):
            await asyncio.wait_for(call, 30)
        await asyncio.to_thread(
            wait_for,
            lambda: (
                (s := controller.server("everything"))
                and s["phase"] == "Ready"
                and s["pid"] not in (None, before["pid"])
            ),
            what="everything restarted",
        )
        result = await client.call_tool("everything_echo", {"message": "back"})
        assert result.content[0].text == "Echo: back"  # type: ignore[union-attr]


async def test_connected_clients_get_list_changed_when_a_server_joins_the_suite(
    running: tuple[Controller, Path, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    from tests.conftest import node_server

    controller, config, docs = running
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with mcp_client(suite_url(controller, "open"), message_handler=on_message) as client:
        assert not any(n.startswith("second_") for n in names(await client.list_tools()))
        extra = server_doc("second", [*node_server("mcp-server-everything"), "stdio"])
        grown = [d for d in docs if d["metadata"]["name"] != "open"]
        grown += [extra, suite_doc("open", ["everything", "time", "second"])]
        write_yaml(config / "resources.yaml", *grown)
        await asyncio.wait_for(changed.wait(), 30)
        assert "second_echo" in names(await client.list_tools())
        stats = await asyncio.to_thread(controller_cli, controller, "stats", "-o", "json")
        assert stats["total"]["calls"] >= 1


def controller_cli(controller: Controller, *args: str) -> Any:
    wait_for(
        lambda: json.loads(cli(*args, state_dir=controller.state_dir).stdout)["total"]["calls"],
        what="usage recorded",
    )
    return json.loads(cli(*args, state_dir=controller.state_dir).stdout)


async def test_tools_of_a_server_that_never_notifies_are_refreshed_on_health_checks(
    tmp_path: Path,
) -> None:
    import sys

    server = str(Path(__file__).parent / "servers" / "growing_tools.py")
    config = tmp_path / "config"
    config.mkdir()
    health = {"intervalSeconds": 0.3, "timeoutSeconds": 2, "failureThreshold": 3}
    write_yaml(
        config / "r.yaml",
        server_doc("growing", [sys.executable, server], healthCheck=health),
        suite_doc("dev", ["growing"]),
    )
    controller = Controller(tmp_path / "state", str(config))
    try:
        await asyncio.to_thread(controller.wait_ready, "growing")
        async with mcp_client(suite_url(controller, "dev")) as client:
            assert names(await client.list_tools()) == {"growing_add_tool"}
            await client.call_tool("growing_add_tool", {"name": "late"})
            for _ in range(100):
                if "growing_late" in names(await client.list_tools()):
                    break
                await asyncio.sleep(0.1)
            result = await client.call_tool("growing_late", {})
            assert result.content[0].text == "late"  # type: ignore[union-attr]
    finally:
        controller.terminate()


def in_process(*args: str, state_dir: Path) -> str:
    """A read-only command run in this process (the real command, no interpreter start)."""
    from typer.testing import CliRunner

    from reconciler.cli.app import app

    result = CliRunner().invoke(app, [*args, "--state-dir", str(state_dir)])
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_audit_lists_allowed_denied_and_unauthenticated_calls_and_logs_each(
    running: tuple[Controller, Path, list[dict[str, Any]]],
) -> None:
    import hashlib

    controller, _, _ = running
    url = suite_url(controller, "locked")
    started = time.time()
    async with mcp_client(url, token=TOKEN) as client:
        await client.call_tool("everything_echo", {"message": "audit-me"})
        with pytest.raises(MCPError):
            await client.call_tool("everything_get-env", {})
    async with httpx2.AsyncClient() as http:
        refused = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401

    def audit(*filters: str) -> list[dict[str, Any]]:
        shown = in_process("audit", *filters, "-o", "json", state_dir=controller.state_dir)
        rows: list[dict[str, Any]] = json.loads(shown)
        return rows

    digest = hashlib.sha256(b'{"message":"audit-me"}').hexdigest()
    mine = wait_for(  # this test's calls are in the store (written within about a second)
        lambda: [
            r for r in audit("--subject", "ci-bot", "--tool", "everything.e*")
            if r["argsSha256"] == digest
        ],
        what="this test's echo call",
    )  # fmt: skip
    assert [(r["tool"], r["outcome"]) for r in mine] == [("echo", "ok")]
    assert {r["tool"] for r in audit("--tool", "everything.e*")} <= {"echo"}  # a glob
    denied = wait_for(
        lambda: [
            r for r in audit("--outcome", "denied", "--suite", "locked") if r["ts"] >= started
        ],
        what="this test's denied call",
    )
    assert ("ci-bot", "everything", "get-env") in [
        (r["subject"], r["server"], r["tool"]) for r in denied
    ]
    assert {r["outcome"] for r in denied} == {"denied"}
    anonymous = wait_for(
        lambda: [
            r for r in audit("--outcome", "unauthenticated", "--since", "10m") if r["ts"] >= started
        ],
        what="this test's unauthenticated attempt",
    )
    assert anonymous[-1]["suite"] == "locked"
    assert anonymous[-1]["subject"] is None

    table = in_process("audit", "--outcome", "denied", state_dir=controller.state_dir)
    assert "SUBJECT" in table
    assert "ci-bot" in table

    def logged() -> list[dict[str, Any]]:
        lines = [
            json.loads(line)
            for line in controller.log.read_text().splitlines()
            if line.startswith("{")
        ]
        return [
            line
            for line in lines
            if line.get("event") == "call" and line.get("argsSha256") == digest
        ]

    (line,) = wait_for(logged, what="the call's JSON log line")
    assert line["argsSha256"] == digest
    assert line["subject"] == "ci-bot"
    assert "audit-me" not in controller.log.read_text()


async def test_llm_usage_is_shown_by_costs_and_on_metrics(
    running: tuple[Controller, Path, list[dict[str, Any]]],
) -> None:
    controller, _, _ = running

    def by_server() -> list[dict[str, Any]] | None:
        shown = in_process("costs", "--by", "server", "--window", "24h", "-o", "json",
                           state_dir=controller.state_dir)  # fmt: skip
        rows: list[dict[str, Any]] = json.loads(shown)["rows"]
        return rows or None

    (row,) = wait_for(by_server, what="the enhancement's LLM usage")
    assert row["server"] == "time"
    assert row["calls"] >= 1
    assert row["inputTokens"] > 0
    table = in_process("costs", "--by", "provider", state_dir=controller.state_dir)
    assert "local" in table
    assert "total" in table
    metrics = httpx2.get(f"{controller.gateway_url()}/metrics").text
    assert (
        f'mcp_reconciler_llm_tokens_total{{provider="local",server="time",type="input"}} '
        f"{float(row['inputTokens'])}"
    ) in metrics
    assert 'mcp_reconciler_llm_cost_usd_total{provider="local",server="time"} 0.0' in metrics
