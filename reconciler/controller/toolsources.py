"""Where the commands that work on servers' tools (`lock`, `scan`, `enhance`) take their
inputs from: the resources (the paths given, else what the controller on the state
directory applied) and the servers' tools (a `--tools` JSON file, the running controller
with a brief start of the servers it does not run, or what the controller recorded).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.desired import DesiredState
from ..core.errors import StateError, ValidationFailed
from ..core.models import MCPServer, qualified_name
from ..loading.loader import load_paths
from ..secrets import SecretResolver
from ..store import Store
from .live import live_state

Tools = dict[str, list[dict[str, Any]]]
"""Raw `tools/list` definitions by server (qualified name)."""


def desired_state(paths: Sequence[Path] | None, state_dir: Path) -> DesiredState:
    """The resources under `paths`, else what the controller on `state_dir` applied;
    raises ValidationFailed when they do not load."""
    result = load_paths(list(paths)) if paths else live_state(state_dir).result
    if not result.ok or result.state is None:
        raise ValidationFailed(result.errors)
    return result.state


def tools_from_file(path: Path) -> Tools:
    """`{server: [tool, ...]}` (or `{server: <tools/list result>}`) JSON."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise StateError(f"cannot read tools from {path}: {error}") from None
    if not isinstance(data, dict):
        raise StateError(f"{path}: expected a JSON object of server name to tools")
    tools: Tools = {}
    for name, value in data.items():
        listed = value.get("tools") if isinstance(value, dict) else value
        if not isinstance(listed, list):
            raise StateError(f"{path}: {name}: expected a list of tools or a tools/list result")
        tools[str(name)] = [t for t in listed if isinstance(t, dict)]
    return tools


async def discover_tools(
    desired: DesiredState,
    servers: Sequence[MCPServer],
    *,
    state_dir: Path,
    resolver: SecretResolver,
    timeout: float,
) -> tuple[Tools, dict[str, str]]:
    """The servers' tools as they sent them, by qualified name: from the controller running
    on `state_dir`, the rest started here briefly; and the servers that failed to start."""
    from .probe import controller_tools, probe_tools

    if not servers:
        return {}, {}
    live = controller_tools(state_dir) or {}
    tools = {name: live[name] for s in servers if (name := s.key.qualified_name) in live}
    missing = [s for s in servers if s.key.qualified_name not in tools]
    failures: dict[str, str] = {}
    if missing:
        probed = await probe_tools(desired, missing, resolver=resolver, timeout=timeout)
        tools.update(probed.tools)
        failures = probed.failures
    return tools, failures


def recorded_tools(state_dir: Path) -> Tools:
    """The tools the controller on `state_dir` last discovered (from its store)."""
    tools: Tools = {}
    try:
        with Store.open_readonly(state_dir) as store:
            capabilities = store.capabilities(kind="tool")
    except StateError as error:
        raise StateError(
            f"{error.message}; or pass --tools FILE with the servers' tools/list output"
        ) from None
    for capability in capabilities:
        tool: dict[str, Any] = {"name": capability.name, "inputSchema": capability.schema or {}}
        if capability.description is not None:
            tool["description"] = capability.description
        tools.setdefault(qualified_name(*capability.server.split("/", 1)), []).append(tool)
    return tools
