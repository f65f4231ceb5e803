"""Discover servers' tools without a controller: start each briefly, list, stop.

Used by `mcp-reconciler lock` and `scan` when no controller runs on the state directory.
Each server is started exactly as the controller starts it (same environment, secrets,
working directory and transport) by a ServerRunner writing to a throwaway store, and
stopped (its whole process group) as soon as its tools are listed.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.desired import DesiredState
from ..core.models import MCPServer, ResourceKey
from ..core.spec_changes import spec_hash
from ..secrets import SecretResolver
from ..store import Store
from .confinement import Confinement
from .control import request_control
from .launch import this_machine
from .runner import ServerRunner

DEFAULT_TIMEOUT = 60.0
"""Seconds a server gets to start and list its tools."""


@dataclass(frozen=True, slots=True)
class Probed:
    """Tools found per server (raw `tools/list` definitions), and servers that failed."""

    tools: dict[str, list[dict[str, Any]]]
    failures: dict[str, str]


def controller_tools(state_dir: Path) -> dict[str, list[dict[str, Any]]] | None:
    """The running controller's servers' tools as they sent them; None when none runs."""
    answer = request_control(state_dir, "GET", "/tools")
    if answer is None:
        return None
    servers = answer.get("servers")
    return dict(servers) if isinstance(servers, dict) else {}


async def probe_tools(
    desired: DesiredState,
    servers: Sequence[MCPServer],
    *,
    resolver: SecretResolver,
    timeout: float = DEFAULT_TIMEOUT,
) -> Probed:
    """Start the servers (all at once), list their tools, stop them."""
    base_dirs = _base_dirs(desired, servers)
    with (
        tempfile.TemporaryDirectory(prefix="mcp-reconciler-probe-") as scratch,
        Store.open(Path(scratch)) as store,
    ):
        machine = this_machine(resolver.resolve)
        results = await asyncio.gather(
            *(
                _probe(
                    ServerRunner(
                        server,
                        spec_hash=spec_hash(server),
                        base_dir=base_dirs.get(server.key, Path.cwd()),
                        store=store,
                        machine=machine,
                        confinement=Confinement(),
                    ),
                    timeout,
                )
                for server in servers
            )
        )
    tools = {name: found for name, found, _ in results if found is not None}
    failures = {name: error for name, _, error in results if error is not None}
    return Probed(tools, failures)


def _base_dirs(desired: DesiredState, servers: Sequence[MCPServer]) -> dict[ResourceKey, Path]:
    """Directory of each server's file, for a relative command or workingDir."""
    return {
        server.key: Path(origin.file).absolute().parent
        for server in servers
        if (origin := desired.origins.get(server.key)) is not None
    }


async def _probe(
    runner: ServerRunner, timeout: float
) -> tuple[str, list[dict[str, Any]] | None, str | None]:
    server = runner.server
    runner.start()
    try:
        if await runner.wait_ready(timeout):
            return server.key.qualified_name, list(runner.tools), None
        error = runner.last_error or f"did not list its tools within {timeout:g} s"
        return server.key.qualified_name, None, error
    finally:
        await runner.stop()
