"""The offline `builtin` enhancer, end to end on the tools real MCP servers report.

The tools are captured from server-everything and mcp-server-time by starting each over
stdio and sending initialize + tools/list as plain JSON lines.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import node_server, python_server

from reconciler.core.models.provider import LLMProviderSpec
from reconciler.enhancement import (
    EnhancementStore,
    ToolToEnhance,
    enhance_tools,
    parse_answer,
)
from reconciler.llm import CompletionRequest, enhance_offline
from reconciler.llm.builtin import BuiltinEnhancer
from reconciler.llm.vocabulary import CATEGORIES
from reconciler.secrets import SecretResolver
from tests.polling import wait_for

STYLES = ("concise", "detailed", "technical")


def list_tools(command: list[str], *, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Start an MCP server, ask for its tools over stdio, and stop its process group."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    try:
        process.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
        process.stdin.flush()
        buffer = bytearray()

        def listed() -> list[dict[str, Any]] | None:
            """The tools once the tools/list answer has arrived; reads what is there."""
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 0)
            if not ready:
                return None
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"{command[0]} closed its output before listing tools")
            buffer.extend(chunk)
            *lines, rest = bytes(buffer).split(b"\n")
            buffer[:] = rest
            for line in lines:
                message = json.loads(line) if line.strip() else {}
                if message.get("id") == 2:
                    return list(message["result"]["tools"])
            return None

        return wait_for(listed, timeout=timeout, what=f"{command[0]} to list its tools")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def time_tools() -> list[dict[str, Any]]:
    return list_tools([python_server("mcp-server-time"), "--local-timezone", "UTC"])


@pytest.fixture(scope="module")
def everything_tools() -> list[dict[str, Any]]:
    return list_tools([*node_server("mcp-server-everything"), "stdio"])


def by_name(tools: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(tool for tool in tools if tool["name"] == name)


def test_get_current_time_reads_well(time_tools: list[dict[str, Any]]) -> None:
    tool = by_name(time_tools, "get_current_time")
    result = enhance_offline(tool, style="concise")
    assert result["description"] == (
        "Get current time in a specific timezone. Requires `timezone` (IANA timezone name)."
    )
    assert result["keywords"][:3] == ["current time", "time", "timezone"]
    assert result["categories"] == ["time"]
    assert result["useCases"][0] == "Get current time in a specific timezone"
    assert result["hints"] == {
        "readOnly": True,
        "destructive": False,
        "idempotent": True,
        "openWorld": False,
    }


def test_detailed_and_technical_styles_list_every_parameter(
    time_tools: list[dict[str, Any]],
) -> None:
    tool = by_name(time_tools, "convert_time")
    detailed = enhance_offline(tool, style="detailed")["description"]
    assert detailed.startswith("Convert time between timezones.\n\nParameters:\n")
    assert "- `source_timezone` (string, required): Source IANA timezone name" in detailed
    assert "Returns `source`, `target` and `time_difference`." in detailed
    technical = enhance_offline(tool, style="technical")["description"]
    assert "Behaviour: read-only, not destructive, idempotent, no external access." in technical


def test_every_real_tool_passes_validation_in_every_style(
    time_tools: list[dict[str, Any]], everything_tools: list[dict[str, Any]]
) -> None:
    tools = time_tools + everything_tools
    assert len(tools) >= 10
    names = [tool["name"] for tool in tools]
    for tool in tools:
        for style in STYLES:
            answer = json.dumps(enhance_offline(tool, style=style))
            enhancement = parse_answer(answer, tool, known_names=names)  # raises if rejected
            assert set(enhancement.categories) <= set(CATEGORIES)
            assert enhancement.keywords
            assert enhancement.description[0].isupper()
            assert enhancement.description.endswith(".")


def test_hints_follow_the_verb_when_the_server_declares_none() -> None:
    def hints(name: str, description: str = "") -> dict[str, bool]:
        tool = {"name": name, "description": description, "inputSchema": {"type": "object"}}
        return enhance_offline(tool)["hints"]

    assert hints("list_directory")["readOnly"] is True
    assert hints("delete_file")["destructive"] is True
    assert hints("reset-counter")["destructive"] is True
    assert hints("create_entities")["idempotent"] is False
    assert hints("set_config")["idempotent"] is True
    assert hints("fetch", "Fetches a URL from the internet")["openWorld"] is True
    assert hints("gzip-file", "Compresses a file")["readOnly"] is False


def test_a_tool_without_a_description_gets_one_from_its_name() -> None:
    tool = {
        "name": "search_nodes",
        "inputSchema": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "Text to match"}},
            "required": ["query"],
        },
    }
    result = enhance_offline(tool)
    assert result["description"] == "Searches the nodes. Requires `query` (text to match)."
    assert "search" in result["categories"]


def test_the_same_tool_always_gets_the_same_text(
    everything_tools: list[dict[str, Any]],
) -> None:
    first = [enhance_offline(tool, style="detailed") for tool in everything_tools]
    again = [
        enhance_offline(json.loads(json.dumps(tool)), style="detailed") for tool in everything_tools
    ]
    assert first == again


async def test_the_builtin_provider_answers_only_enhancement_requests() -> None:
    enhancer = BuiltinEnhancer("local")
    with pytest.raises(Exception, match="only writes tool enhancements"):
        await enhancer.complete(CompletionRequest(system="s", prompt="hello"))


async def test_builtin_enhances_real_servers_end_to_end(
    tmp_path: Path, time_tools: list[dict[str, Any]], everything_tools: list[dict[str, Any]]
) -> None:
    requests = [ToolToEnhance("time", tool, "local") for tool in time_tools]
    requests += [
        ToolToEnhance("everything", tool, "local", style="detailed") for tool in everything_tools
    ]
    providers = {"local": LLMProviderSpec(type="builtin")}
    with EnhancementStore(tmp_path / "state.db") as store:
        report = await enhance_tools(
            requests, providers=providers, store=store, resolver=SecretResolver()
        )
        assert report.counts() == {"enhanced": len(requests)}
        assert report.cost == 0
        descriptions = report.descriptions()
        assert descriptions["time"]["get_current_time"].startswith("Get current time")
        assert "Parameters:" in descriptions["everything"]["get-sum"]
        again = await enhance_tools(
            requests, providers=providers, store=store, resolver=SecretResolver()
        )
        assert again.counts() == {"cached": len(requests)}
        assert again.calls == 0
