"""Restarting servers on request (`mcp-reconciler restart`), Stalled ones included.

A restart replaces the server's runner with a fresh one: the process group is stopped
(SIGTERM, grace, SIGKILL), a new process is started from the applied spec, and the
consecutive-failure count starts again from zero, so a server that was `Stalled` after
exhausting `restart.maxFailures` gets a new set of tries. The restart counter carries on
(+1). A `Restarted` event records each one with the old and the new pid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidInput
from ..core.models import MCPServer, ResourceKey, named
from .runner import ServerRunner

if TYPE_CHECKING:
    from .reconcile import Reconciler


@dataclass(frozen=True, slots=True)
class Restarted:
    """One server the controller restarted, as it stood when the answer was given."""

    name: str
    namespace: str
    previous_pid: int | None
    pid: int | None
    phase: str
    was_stalled: bool
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "previousPid": self.previous_pid,
            "pid": self.pid,
            "phase": self.phase,
            "wasStalled": self.was_stalled,
            "error": self.error,
        }


def restartable(reconciler: Reconciler, names: list[str], *, every: bool) -> list[ResourceKey]:
    """The keys of the named running (or Stalled) servers; `InvalidInput` naming the unknown,
    not-running or ambiguous ones.

    A name is `namespace/name`, or a bare `name` when only one namespace has such a server.
    """
    runners = sorted((runner.server.key for runner in reconciler.pool), key=_order)
    if every:
        return runners
    declared = sorted(_declared(reconciler), key=_order)
    keys, unknown, idle, ambiguous = [], [], [], []
    for name in dict.fromkeys(names):
        matches = [key for key in declared if named(key, name)]
        if len(matches) > 1:
            choices = ", ".join(key.qualified_name for key in matches)
            ambiguous.append(f"{name} (one of: {choices})")
        elif not matches:
            unknown.append(name)
        elif matches[0] in runners:
            keys.append(matches[0])
        else:
            idle.append(name)
    problems = []
    if ambiguous:
        problems.append(f"server in several namespaces, name one: {'; '.join(ambiguous)}")
    if unknown:
        problems.append(f"unknown server(s): {', '.join(unknown)}")
    if idle:
        problems.append(
            f"not running (disabled, or autoStart false and no active workflow): {', '.join(idle)}"
        )
    if problems:
        raise InvalidInput("; ".join(problems), reason="UnknownServer")
    return keys


async def restart_servers(
    reconciler: Reconciler, keys: list[ResourceKey], *, wait_seconds: float
) -> list[Restarted]:
    """Replace the runners of `keys` with fresh ones; wait (up to `wait_seconds`) until each
    is Ready, or failed again, and report where it stands."""
    started: list[tuple[ServerRunner, int | None, bool]] = []
    async with reconciler.lock:
        for key in keys:
            old = reconciler.pool.runner(key)
            if old is None:
                continue
            previous_pid = old.process.pid if old.process else None
            was_stalled = old.stalled
            fresh = await reconciler.pool.renew(key)
            if fresh is not None:
                started.append((fresh, previous_pid, was_stalled))
    deadline = time.monotonic() + wait_seconds
    results = []
    for runner, previous_pid, was_stalled in started:
        await runner.wait_settled(max(0.0, deadline - time.monotonic()))
        pid = runner.process.pid if runner.process else None
        reconciler.store.add_event(
            severity="info",
            category="server",
            reason="Restarted",
            message=(
                "restarted on request"
                + (" (was Stalled)" if was_stalled else "")
                + f": pid {previous_pid or '-'} -> {pid or '-'}, now {runner.phase}"
            ),
            resource=str(runner.server.key),
        )
        results.append(
            Restarted(
                name=runner.server.name,
                namespace=runner.server.metadata.ns,
                previous_pid=previous_pid,
                pid=pid,
                phase=str(runner.phase),
                was_stalled=was_stalled,
                error=runner.last_error,
            )
        )
    return results


def _order(key: ResourceKey) -> tuple[str, str]:
    return (key.namespace, key.name)


def _declared(reconciler: Reconciler) -> list[ResourceKey]:
    applied = reconciler.applied
    if applied is None:
        return []
    return [server.key for server in applied.servers if isinstance(server, MCPServer)]
