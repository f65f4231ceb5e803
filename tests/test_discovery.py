"""Discovery: schema hashes, tool diffs and the include/exclude/override filter (pure), and
`discover` against real servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest

from reconciler.core.errors import InvalidInput
from reconciler.core.models.server import ToolOverride
from reconciler.upstream import (
    ServerTool,
    ToolChanges,
    UpstreamConnection,
    apply_filter,
    diff_tools,
    discover,
    schema_hash,
    stdio_transport,
)


def tool(name: str, **fields: Any) -> ServerTool:
    raw = {"name": name, "inputSchema": {"type": "object"}, **fields}
    return ServerTool.from_raw(raw)


TOOLS = [
    tool("get_time", description="Now"),
    tool("convert_time", description="Convert"),
    tool("delete_all", description="Danger"),
]


# -- schema hashes -------------------------------------------------------------------------


def test_schema_hash_ignores_key_order_and_whitespace() -> None:
    a = {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "number"}}}
    b = {"properties": {"y": {"type": "number"}, "x": {"type": "string"}}, "type": "object"}
    assert schema_hash(a, None) == schema_hash(b, None)
    assert len(schema_hash(a, None)) == 64


def test_schema_hash_covers_the_output_schema() -> None:
    schema = {"type": "object"}
    assert schema_hash(schema, None) != schema_hash(schema, {"type": "object"})


def test_server_tool_keeps_the_definition_as_sent() -> None:
    raw = {
        "name": "echo",
        "title": "Echo",
        "description": "Echoes",
        "inputSchema": {"type": "object"},
        "outputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
        "annotations": {"readOnlyHint": True},
        "_meta": {"vendor/x": 1},
        "icons": [{"src": "https://example.org/echo.png"}],
    }
    parsed = ServerTool.from_raw(raw)
    assert parsed.raw is raw
    assert (parsed.title, parsed.description) == ("Echo", "Echoes")
    assert parsed.annotations == {"readOnlyHint": True}
    assert parsed.meta == {"vendor/x": 1}
    assert parsed.schema_hash == schema_hash(raw["inputSchema"], raw["outputSchema"])
    status = parsed.to_status(exposed=False)
    assert (status.name, status.schema_hash, status.exposed) == ("echo", parsed.schema_hash, False)


# -- diffs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(TOOLS, TOOLS, ToolChanges(), id="unchanged"),
        pytest.param(
            TOOLS[:2],
            TOOLS,
            ToolChanges(added=("delete_all",)),
            id="added",
        ),
        pytest.param(
            TOOLS,
            TOOLS[1:],
            ToolChanges(removed=("get_time",)),
            id="removed",
        ),
        pytest.param(
            TOOLS,
            [tool("get_time", description="Now", inputSchema={"type": "string"}), *TOOLS[1:]],
            ToolChanges(changed=("get_time",)),
            id="schema changed",
        ),
        pytest.param(
            TOOLS,
            [tool("get_time", description="The time now"), *TOOLS[1:]],
            ToolChanges(changed=("get_time",)),
            id="description changed",
        ),
        pytest.param(
            TOOLS,
            [tool("get_time", description="Now", _meta={"at": 2}), *TOOLS[1:]],
            ToolChanges(),
            id="only _meta changed",
        ),
        pytest.param(
            TOOLS,
            [tool("b"), tool("a"), TOOLS[1]],
            ToolChanges(added=("a", "b"), removed=("delete_all", "get_time")),
            id="names sorted",
        ),
    ],
)
def test_diff_tools(old: list[ServerTool], new: list[ServerTool], expected: ToolChanges) -> None:
    changes = diff_tools(old, new)
    assert changes == expected
    assert bool(changes) == (expected != ToolChanges())


# -- the filter ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("include", "exclude", "exposed"),
    [
        pytest.param(["*"], [], ["get_time", "convert_time", "delete_all"], id="everything"),
        pytest.param(["*_time"], [], ["get_time", "convert_time"], id="include glob"),
        pytest.param(["*"], ["delete_*"], ["get_time", "convert_time"], id="exclude glob"),
        pytest.param(["get_time"], ["get_*"], [], id="exclude wins"),
        pytest.param([], [], [], id="nothing included"),
        pytest.param(["GET_TIME"], [], [], id="case sensitive"),
    ],
)
def test_apply_filter_include_and_exclude(
    include: list[str], exclude: list[str], exposed: list[str]
) -> None:
    assert [t.name for t in apply_filter(TOOLS, include, exclude, {})] == exposed


def test_overrides_rename_and_describe_by_the_servers_name() -> None:
    overrides = {
        "get_time": ToolOverride(name="now", description="Current time in a zone"),
        "convert_time": ToolOverride(name="convert"),
        "delete_all": ToolOverride(description="excluded anyway"),
    }
    exposed = apply_filter(TOOLS, ["*"], ["delete_*"], overrides)
    assert [(t.name, t.server_name, t.description, t.description_overridden) for t in exposed] == [
        ("now", "get_time", "Current time in a zone", True),
        ("convert", "convert_time", "Convert", False),
    ]


def test_exposed_definition_keeps_the_servers_fields() -> None:
    original = tool("get_time", description="Now", annotations={"readOnlyHint": True})
    [exposed] = apply_filter([original], ["*"], [], {"get_time": ToolOverride(name="now")})
    assert exposed.definition() == {
        "name": "now",
        "description": "Now",
        "inputSchema": {"type": "object"},
        "annotations": {"readOnlyHint": True},
    }
    assert original.raw["name"] == "get_time"


def test_a_rename_onto_another_tools_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"spec\.tools\.overrides\.convert_time\.name"):
        apply_filter(TOOLS, ["*"], [], {"convert_time": ToolOverride(name="get_time")})


def test_a_rename_onto_an_excluded_tools_name_is_fine() -> None:
    exposed = apply_filter(
        TOOLS, ["*"], ["delete_all"], {"get_time": ToolOverride(name="delete_all")}
    )
    assert [t.name for t in exposed] == ["delete_all", "convert_time"]


# -- discover against real servers ---------------------------------------------------------


@contextlib.asynccontextmanager
async def connected(command: list[str]) -> AsyncIterator[UpstreamConnection]:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdin is not None
        connection = UpstreamConnection("s", stdio_transport(process.stdout, process.stdin))
        await connection.connect(timeout=20)
        try:
            yield connection
        finally:
            await connection.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def test_discover_lists_the_time_servers_tools(time_cmd: list[str]) -> None:
    async with connected(time_cmd) as connection:
        found = await discover(connection, timeout=10)
    assert sorted(t.name for t in found.tools) == ["convert_time", "get_current_time"]
    assert found.server_info["name"] == "mcp-time"
    assert found.resources == found.prompts == ()
    now = found.tool("get_current_time")
    assert now is not None
    assert now.schema_hash == schema_hash(now.input_schema, now.output_schema)
    assert "timezone" in now.input_schema["properties"]


async def test_discover_lists_everything_the_capabilities_announce(
    everything_cmd: list[str],
) -> None:
    async with connected(everything_cmd) as connection:
        found = await discover(connection)
    assert found.protocol_version == "2025-11-25"
    assert found.instructions
    assert len(found.tools) == 17
    assert found.resources
    assert found.resource_templates
    assert found.prompts
    structured = found.tool("get-structured-content")
    assert structured is not None
    assert structured.output_schema is not None
    assert structured.annotations is not None
