"""RunnerPool: the one owner of a controller's ServerRunners, and the gateway's registry.

The reconciler starts, updates and stops runners through it; the gateway finds a server's
live connection through it (`get`, by qualified name: `namespace/name` outside the default
namespace), so the two never reach into each other. Each runner is given everything it
needs when it is created: where its file is, its spec hash, where its messages go, whom
to tell when it changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.conditions import Phase
from ..core.models import MCPServer, ResourceKey, split_qualified
from ..store import Store
from ..upstream.connection import UpstreamConnection
from ..upstream.sinks import MessageSink
from .confinement import Confinement
from .launch import Machine
from .runner import Listener, ServerRunner
from .serverlogs import ServerLogs


class RunnerPool:
    """Every supervised server, by key."""

    def __init__(
        self,
        *,
        store: Store,
        machine: Machine,
        confinement: Confinement,
        logs: ServerLogs | None = None,
    ) -> None:
        self.store = store
        self.machine = machine
        self.confinement = confinement
        self.logs = logs
        """Where each stdio server's stderr is kept (`mcp-reconciler logs`)."""
        self._runners: dict[ResourceKey, ServerRunner] = {}
        self._keys: dict[str, ResourceKey] = {}
        """Qualified name -> key, as worked out before (`get` runs on every call)."""

    # -- the gateway's upstream registry -----------------------------------------------

    def get(self, server: str) -> UpstreamConnection | None:
        """The connection of `server` (qualified name) while it is Ready."""
        key = self._keys.get(server)
        if key is None:  # the names come from the configuration: a handful
            if len(self._keys) >= 4096:
                self._keys.clear()
            key = self._keys[server] = ResourceKey(MCPServer.kind_name, *split_qualified(server))
        runner = self._runners.get(key)
        return runner.connection if runner is not None and runner.phase == Phase.READY else None

    # -- what runs ----------------------------------------------------------------------

    def runner(self, key: ResourceKey) -> ServerRunner | None:
        return self._runners.get(key)

    def __iter__(self) -> Iterator[ServerRunner]:
        return iter(list(self._runners.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._runners

    def is_current(self, runner: ServerRunner) -> bool:
        """Whether `runner` still supervises its server (not replaced, not stopped)."""
        return self._runners.get(runner.server.key) is runner

    def tools(self) -> dict[str, list[dict[str, Any]]]:
        """Each supervised server's tools (raw dicts) by qualified name: while a server
        restarts, its last known tools stay listed (calls fail as unavailable), so clients
        see no churn."""
        return {
            key.qualified_name: runner.tools
            for key, runner in self._runners.items()
            if runner.tools and runner.phase != Phase.STALLED
        }

    # -- control, from the reconciler ---------------------------------------------------

    def start(
        self,
        server: MCPServer,
        *,
        spec_hash: str,
        runtime_hash: str | None,
        base_dir: Path,
        sink: MessageSink | None,
        on_change: Listener | None,
        restarts: int = 0,
    ) -> ServerRunner:
        """Supervise `server` (declared in a file in `base_dir`) with a new runner; the
        hashes are the plan's, `restarts` the count it carries on from."""
        runner = ServerRunner(
            server,
            spec_hash=spec_hash,
            runtime=runtime_hash,
            base_dir=base_dir,
            store=self.store,
            machine=self.machine,
            confinement=self.confinement,
            sink=sink,
            on_change=on_change,
            logs=self.logs,
        )
        runner.restarts = restarts
        self._runners[server.key] = runner
        runner.start()
        return runner

    async def renew(self, key: ResourceKey) -> ServerRunner | None:
        """Replace the server's runner with a fresh one made the same way: its process is
        stopped and started again, its failure count starts from zero, its restart count
        carries on (+1). None when the server has no runner."""
        old = self._runners.get(key)
        if old is None:
            return None
        await old.stop()
        return self.start(
            old.server,
            spec_hash=old.spec_hash,
            runtime_hash=old.runtime_hash,
            base_dir=old.base_dir,
            sink=old.sink,
            on_change=old.on_change,
            restarts=old.restarts + 1,
        )

    async def stop(self, key: ResourceKey) -> None:
        """Stop the server's runner, if any (SIGTERM to its group, then SIGKILL)."""
        runner = self._runners.pop(key, None)
        if runner is not None:
            await runner.stop()

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(key) for key in list(self._runners)))
