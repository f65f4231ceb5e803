"""`mcp-reconciler enhance` and `enhancements list`, run as users run them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from test_llm_providers import WireServer

from reconciler.store import Store
from reconciler.store.records import Capability, InventoryRecord

RESOURCES = """\
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: time}
spec:
  command: mcp-server-time
  enhancement: {providerRef: local, style: concise}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: notes}
spec:
  command: notes-server
  tools: {exclude: ["debug_*"]}
  enhancement: {providerRef: paid, style: detailed}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: LLMProvider
metadata: {name: local}
spec: {type: builtin}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: LLMProvider
metadata: {name: paid}
spec:
  type: openai-compatible
  endpoint: ENDPOINT
  model: local-model
  apiKey: {env: PAID_KEY}
  pricing: {inputPerMillionTokens: 2.5, outputPerMillionTokens: 10}
"""

TIME_TOOL = {
    "name": "get_current_time",
    "description": "Get current time in a specific timezone",
    "inputSchema": {
        "type": "object",
        "properties": {"timezone": {"type": "string", "description": "IANA timezone name"}},
        "required": ["timezone"],
    },
}
NOTES_TOOLS = [
    {
        "name": "add_note",
        "description": "Add a note",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
    {"name": "debug_dump", "description": "Dump state", "inputSchema": {"type": "object"}},
]


def write_resources(root: Path, endpoint: str) -> Path:
    resources = root / "resources"
    resources.mkdir()
    (resources / "all.yaml").write_text(RESOURCES.replace("ENDPOINT", endpoint))
    return resources


def discovered_by_controller(state: Path) -> None:
    """What a controller that ran the two servers wrote to its state."""
    with Store.open(state) as store:
        for server, tools in (("time", [TIME_TOOL]), ("notes", NOTES_TOOLS)):
            store.put_instance(InventoryRecord(server=f"default/{server}", phase="Ready"))
            store.replace_capabilities(
                f"default/{server}",
                "tool",
                [Capability(t["name"], t["description"], t["inputSchema"]) for t in tools],
            )


async def cli(*args: str | Path) -> tuple[int, str, str]:
    env = {**os.environ, "PAID_KEY": "sk-paid"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reconciler",
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_dry_run_shows_the_cost_and_spends_nothing(tmp_path: Path) -> None:
    async with WireServer("openai") as llm:
        resources = write_resources(tmp_path, f"{llm.url}/v1")
        discovered_by_controller(tmp_path / "state")
        code, out, _ = await cli(
            "enhance", "--path", resources, "--dry-run", "--state-dir", tmp_path / "state"
        )
        assert code == 0
        assert llm.requests == []
    assert "2 tools to enhance; estimated" in out
    assert "paid      1" in out
    assert "dry run: nothing was sent" in out

    code, out, _ = await cli(
        "enhance", "-p", resources, "--dry-run", "--state-dir", tmp_path / "state", "-o", "json"
    )
    estimate = json.loads(out)["estimate"]
    assert estimate["providers"]["paid"]["tools"] == 1
    assert estimate["providers"]["paid"]["cost"] > 0
    assert estimate["providers"]["local"]["cost"] == 0


async def test_enhance_then_list_and_export(tmp_path: Path) -> None:
    async with WireServer("openai") as llm:
        resources = write_resources(tmp_path, f"{llm.url}/v1")
        state = tmp_path / "state"
        discovered_by_controller(state)
        exported = tmp_path / "enhancements"
        code, out, err = await cli(
            "enhance", "--path", resources, "--state-dir", state, "--export", exported
        )
        assert code == 0, err
        assert len(llm.requests) == 1  # debug_dump is excluded, the time tool is builtin's
        assert "2 enhanced; 2 LLM calls" in out
        assert "estimated" in err

        code, out, _ = await cli("enhancements", "list", "-p", resources, "--state-dir", state)
        assert code == 0
        lines = out.splitlines()
        assert lines[0].split() == ["SERVER", "TOOL", "STATE", "PROVIDER", "DETAIL"]
        assert lines[1].split()[:4] == ["notes", "add_note", "enhanced", "paid"]
        assert lines[2].split()[:4] == ["time", "get_current_time", "enhanced", "local"]

        code, out, _ = await cli("enhance", "--path", resources, "--state-dir", state)
        assert "2 cached; 0 LLM calls" in out
        assert len(llm.requests) == 1

        code, out, _ = await cli(
            "enhancements", "list", "-p", resources, "--state-dir", state,
            "--pins", exported, "-o", "json",
        )  # fmt: skip
        states = {t["tool"]: t["state"] for t in json.loads(out)["tools"]}
        assert states == {"add_note": "pinned", "get_current_time": "pinned"}

    document: dict[str, Any] = yaml.safe_load((exported / "time.yaml").read_text())
    entry = document["tools"]["get_current_time"]
    assert document["server"] == "time"
    assert entry["pinned"] is True
    assert entry["description"].startswith("Get current time in a specific timezone.")
    assert entry["metadata"]["categories"] == ["time"]
    assert entry["generatedBy"] == "local/builtin-1"


async def test_enhance_refuses_to_export_into_the_resources(tmp_path: Path) -> None:
    resources = write_resources(tmp_path, "http://127.0.0.1:9/v1")
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps({"time": {"tools": [TIME_TOOL]}}))
    code, _, err = await cli(
        "enhance", "-p", resources, "--tools", tools, "--export", resources / "enhancements",
        "--state-dir", tmp_path / "state",
    )  # fmt: skip
    assert code == 1
    assert "is inside the resource directory" in err


async def test_enhance_without_discovered_tools_says_what_to_do(tmp_path: Path) -> None:
    resources = write_resources(tmp_path, "http://127.0.0.1:9/v1")
    code, _, err = await cli("enhance", "-p", resources, "--state-dir", tmp_path / "nothing")
    assert code == 1
    assert "mcp-reconciler run" in err
    assert "--tools FILE" in err


async def test_a_failing_provider_exits_1_and_names_the_tool(tmp_path: Path) -> None:
    resources = write_resources(tmp_path, "http://127.0.0.1:9/v1")  # nothing listens there
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps({"notes": NOTES_TOOLS, "time": [TIME_TOOL]}))
    code, out, err = await cli(
        "enhance", "-p", resources, "--tools", tools, "--state-dir", tmp_path / "state"
    )
    assert code == 1
    assert "notes.add_note: failed (ProviderUnavailable)" in err
    assert "sk-paid" not in out + err
    assert "1 enhanced, 1 failed" in out
