"""A suite in `discovery.mode: search` with real servers behind the gateway: the client
finds tools by intent, calls them by name or through `call_tool`, and permissions hold."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import mcp_types as types
import pytest
import pytest_asyncio
from mcp.shared.exceptions import MCPError

from tests.gateway_harness import (
    Started,
    everything_and_time,
    mcp_client,
    serving,
    suite,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SEARCH = suite("dev", "time", "everything", extra=", discovery: {mode: search, maxResults: 3}")
PERMISSION = """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: bot}
spec:
  suites: [dev]
  subjects: [{name: bot, tokenFrom: {env: BOT_TOKEN}}]
  rules:
    - {action: allow, tools: ["time.*", "everything.*"]}
    - {action: deny, tools: ["everything.get-env"]}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared() -> AsyncIterator[Started]:
    """server-everything and mcp-server-time, started once for the module."""
    async with everything_and_time() as started:
        yield started


def found(result: types.CallToolResult) -> list[dict[str, Any]]:
    assert not result.is_error, result
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    tools: list[dict[str, Any]] = json.loads(text)["tools"]
    assert result.structured_content == {"tools": tools}
    return tools


async def test_a_search_suite_lists_only_the_two_discovery_tools(shared: Started) -> None:
    async with (
        serving(SEARCH, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev")) as client,
    ):
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == ["find_tools", "call_tool"]


async def test_found_tools_join_the_session_list_and_are_callable_by_name(
    shared: Started,
) -> None:
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with (
        serving(SEARCH, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev"), message_handler=on_message) as client,
        mcp_client(served.url("dev")) as other,
    ):
        result = await client.call_tool("find_tools", {"query": "the current time in Tokyo"})
        tools = found(result)
        assert tools[0]["name"] == "time_get_current_time"
        assert tools[0]["inputSchema"]["properties"]["timezone"]
        assert len(tools) <= 3
        await asyncio.wait_for(changed.wait(), 10)
        listed = [t.name for t in (await client.list_tools()).tools]
        assert listed[:2] == ["find_tools", "call_tool"]
        assert "time_get_current_time" in listed
        answer = await client.call_tool("time_get_current_time", {"timezone": "Asia/Tokyo"})
        assert "Asia/Tokyo" in answer.content[0].text  # type: ignore[union-attr]
        # another session's list is its own
        assert [t.name for t in (await other.list_tools()).tools] == ["find_tools", "call_tool"]


async def test_call_tool_reaches_the_real_tool_and_is_recorded_as_it(shared: Started) -> None:
    async with (
        serving(SEARCH, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev")) as client,
    ):
        result = await client.call_tool(
            "call_tool", {"name": "everything_echo", "arguments": {"message": "hi"}}
        )
        assert result.content[0].text == "Echo: hi"  # type: ignore[union-attr]
        assert [(r.server, r.tool, r.outcome) for r in served.records] == [
            ("everything", "echo", "ok")
        ]


async def test_find_tools_and_call_tool_honour_permissions(shared: Started) -> None:
    async with (
        serving(
            SEARCH + PERMISSION, shared.registry, shared.tools, environ={"BOT_TOKEN": "bot-secret"}
        ) as served,
        mcp_client(served.url("dev"), token="bot-secret") as client,
    ):
        names = [t["name"] for t in found(await client.call_tool(
            "find_tools", {"query": "print the environment variables of the server"}
        ))]  # fmt: skip
        assert "everything_get-env" not in names
        with pytest.raises(MCPError) as refused:
            await client.call_tool("call_tool", {"name": "everything_get-env", "arguments": {}})
        assert "not permitted" in str(refused.value)
        assert served.records[-1].outcome == "denied"
        assert served.records[-1].tool == "get-env"


async def test_bad_discovery_arguments_are_invalid_params(shared: Started) -> None:
    async with (
        serving(SEARCH, shared.registry, shared.tools) as served,
        mcp_client(served.url("dev")) as client,
    ):
        for arguments in ({}, {"query": ""}, {"query": "x" * 2000}, {"query": "time", "limit": 0}):
            with pytest.raises(MCPError) as refused:
                await client.call_tool("find_tools", arguments)
            assert refused.value.error.code == -32602
        with pytest.raises(MCPError):
            await client.call_tool("call_tool", {"arguments": {}})
