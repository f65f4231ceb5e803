"""A workflow served as one tool by the gateway of a real `mcp-reconciler run`, called with
the official MCP client, its steps going to real mcp-server-time and server-everything."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from tests.controller_harness import Controller, cli, server_doc, suite_doc, wait_for, write_yaml
from tests.gateway_harness import mcp_client

pytestmark = pytest.mark.slow

FULL_TOKEN = "full-agent-token-0123456789abcdef"
NARROW_TOKEN = "narrow-agent-token-0123456789abcd"
API = "mcp.reconciler.dev/v1alpha1"

RELEASE_NOTES = {
    "apiVersion": API,
    "kind": "Workflow",
    "metadata": {"name": "release-notes"},
    "spec": {
        "active": True,
        "suites": ["dev", "locked"],
        "inputs": {"type": "object", "properties": {"tz": {"type": "string"}}},
        "steps": [
            {
                "id": "now",
                "tool": "time.get_current_time",
                "arguments": {"timezone": "{{ inputs.tz }}"},
            },
            {
                "id": "say",
                "tool": "everything.echo",
                "arguments": {"message": "{{ steps.now.result }}"},
                "dependsOn": ["now"],
                "retry": {"attempts": 3},
                "timeoutSeconds": 30,
                "onError": "abort",
            },
        ],
    },
}


SLOW_THEN_ECHO = {
    "apiVersion": API,
    "kind": "Workflow",
    "metadata": {"name": "slow-then-echo"},
    "spec": {
        "suites": ["dev"],
        "steps": [
            {
                "id": "wait",
                "tool": "everything.trigger-long-running-operation",
                "arguments": {"duration": 30, "steps": 30},
                "timeoutSeconds": 0.5,
                "onError": "continue",
            },
            {
                "id": "after",
                "tool": "everything.echo",
                "arguments": {"message": "wait {{ steps.wait.status }}: {{ steps.wait.error }}"},
            },
        ],
    },
}


def permission(name: str, token_env: str, tools: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ToolPermission",
        "metadata": {"name": name},
        "spec": {
            "suites": ["locked"],
            "subjects": [{"name": name, "tokenFrom": {"env": token_env}}],
            "rules": [{"action": "allow", "tools": tools}],
        },
    }


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    from tests.conftest import node_server, python_server

    root = tmp_path_factory.mktemp("workflows-e2e")
    config = root / "config"
    config.mkdir()
    write_yaml(
        config / "resources.yaml",
        server_doc("everything", [*node_server("mcp-server-everything"), "stdio"]),
        server_doc("time", [python_server("mcp-server-time"), "--local-timezone", "UTC"]),
        suite_doc("dev", ["time", "everything"]),
        suite_doc("locked", ["time", "everything"]),
        permission("full", "FULL_TOKEN", ["workflow.*", "time.*", "everything.*"]),
        permission("narrow", "NARROW_TOKEN", ["workflow.*", "time.*"]),
        RELEASE_NOTES,
        SLOW_THEN_ECHO,
    )
    running = Controller(
        root / "state",
        str(config),
        env={"FULL_TOKEN": FULL_TOKEN, "NARROW_TOKEN": NARROW_TOKEN},
    )
    try:
        running.wait_ready("everything", "time")
        url = running.gateway_url()
        wait_for(lambda: httpx2.get(f"{url}/readyz").status_code == 200, what="/readyz")
        yield running
    finally:
        running.terminate()


def suite_url(controller: Controller, suite: str) -> str:
    return f"{controller.gateway_url()}/suites/{suite}/mcp"


def text_of(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent)
    return first.text


async def test_the_workflow_is_listed_and_echoes_the_current_time(controller: Controller) -> None:
    reported: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, total, message))

    async with mcp_client(suite_url(controller, "dev")) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        workflow = tools["workflow_release-notes"]
        assert workflow.input_schema["properties"] == {"tz": {"type": "string"}}
        result = await client.call_tool(
            "workflow_release-notes", {"tz": "UTC"}, progress_callback=on_progress
        )
    assert result.is_error is False
    echoed = text_of(result)
    assert echoed.startswith("Echo: ")
    stamp = json.loads(echoed.removeprefix("Echo: "))
    assert stamp["timezone"] == "UTC"
    assert stamp["datetime"].startswith(str(datetime.now(UTC).year))
    steps = (result.structured_content or {})["steps"]
    assert [steps[s]["status"] for s in ("now", "say")] == ["ok", "ok"]
    assert steps["say"]["result"] == echoed
    assert reported == [
        (1, 2, "step now (time.get_current_time): ok"),
        (2, 2, "step say (everything.echo): ok"),
    ]


async def test_a_failing_step_makes_the_call_an_error_naming_it(controller: Controller) -> None:
    async with mcp_client(suite_url(controller, "dev")) as client:
        result = await client.call_tool("workflow_release-notes", {"tz": "Mars/Olympus_Mons"})
        missing = await client.call_tool("workflow_release-notes", {})
    assert result.is_error is True
    assert text_of(result).startswith(
        "workflow release-notes failed at step now (time.get_current_time): "
    )
    assert "Mars/Olympus_Mons" in text_of(result)
    steps = (result.structured_content or {})["steps"]
    assert steps["now"]["status"] == "failed"
    assert steps["say"] == {
        "status": "cancelled",
        "result": None,
        "error": None,
        "attempts": 0,
        "durationMs": 0,
    }
    assert missing.is_error is True
    assert "input 'tz' is missing" in text_of(missing)


async def test_a_step_out_of_time_fails_and_continue_goes_on(controller: Controller) -> None:
    async with mcp_client(suite_url(controller, "dev")) as client:
        result = await client.call_tool("workflow_slow-then-echo", {})
    assert result.is_error is False
    steps = (result.structured_content or {})["steps"]
    assert steps["wait"]["status"] == "failed"
    assert steps["after"]["status"] == "ok"
    assert text_of(result) == f"Echo: wait failed: {steps['wait']['error']}"
    assert "0.5" in steps["wait"]["error"]

    def recorded() -> bool:
        listed = cli("stats", "--top", "50", "-o", "json", state_dir=controller.state_dir)
        failing = json.loads(listed.stdout)["failingTools"]
        return any(r["tool"] == "trigger-long-running-operation" for r in failing)

    assert await asyncio.to_thread(wait_for, recorded, what="the timeout recorded")


async def test_a_workflow_cannot_reach_a_tool_its_caller_may_not_call(
    controller: Controller,
) -> None:
    url = suite_url(controller, "locked")
    async with mcp_client(url, token=NARROW_TOKEN) as client:
        visible = {tool.name for tool in (await client.list_tools()).tools}
        assert "workflow_release-notes" in visible
        assert "everything_echo" not in visible
        with pytest.raises(MCPError) as refused:
            await client.call_tool("workflow_release-notes", {"tz": "UTC"})
    assert refused.value.code == -32003
    assert refused.value.error.message == (
        "workflow release-notes is not permitted for subject narrow: its step say calls "
        "everything.echo, which the subject may not call"
    )
    async with mcp_client(url, token=FULL_TOKEN) as client:
        allowed = await client.call_tool("workflow_release-notes", {"tz": "UTC"})
    assert allowed.is_error is False


async def test_each_step_is_recorded_as_a_call_for_usage(controller: Controller) -> None:
    async with mcp_client(suite_url(controller, "dev")) as client:
        await client.call_tool("workflow_release-notes", {"tz": "Europe/Paris"})

    def recorded() -> set[str] | None:
        listed = cli("stats", "--top", "50", "-o", "json", state_dir=controller.state_dir)
        rows = json.loads(listed.stdout)["topTools"]
        found = {f"{r['server']}.{r['tool']}" for r in rows if r["suite"] == "dev"}
        wanted = {"workflow.release-notes", "time.get_current_time", "everything.echo"}
        return found if wanted <= found else None

    assert await asyncio.to_thread(wait_for, recorded, what="steps recorded as calls")


async def test_arguments_not_matching_the_inputs_schema_are_refused_before_any_step(
    controller: Controller,
) -> None:
    from mcp.shared.exceptions import MCPError

    async with mcp_client(suite_url(controller, "dev")) as client:
        with pytest.raises(MCPError, match="tz: 5 is not of type 'string'"):
            await client.call_tool("workflow_release-notes", {"tz": 5})
