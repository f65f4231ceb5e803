"""Isolation widened or narrowed: how each server's `spec.sandbox` changes between revisions.

Reported in the Access section beside who-may-call-what, because a widening is what a
reviewer must look at: a sandbox removed (the server now sees everything its user can),
a path added or made writable, the network opened. Their opposites narrow. Servers
added or removed are not compared (their lifecycle says it), nor servers without a
sandbox on either side.
"""

from __future__ import annotations

from ..core.desired import DesiredState
from ..core.models import MCPServer, ResourceKey
from ..core.models.server import Sandbox
from .model import AccessChange, AccessKind, Direction

_READ = "read"
_WRITE = "write"


def sandbox_changes(old: DesiredState, new: DesiredState) -> list[AccessChange]:
    """Every change of isolation of a server declared in both revisions, server by server."""
    compared: list[tuple[ResourceKey, MCPServer, MCPServer]] = []
    before_resources = old.resources
    for key, after in new.resources.items():
        if not isinstance(after, MCPServer):
            continue
        before = before_resources.get(key)
        if before is after or not isinstance(before, MCPServer):
            continue  # the same declaration: the same sandbox
        if before.spec.sandbox is None and after.spec.sandbox is None:
            continue
        compared.append((key, before, after))
    compared.sort(key=lambda item: item[0])
    changes: list[AccessChange] = []
    for _, before, after in compared:
        changes.extend(server_sandbox_changes(before, after))
    return changes


def server_sandbox_changes(before: MCPServer, after: MCPServer) -> list[AccessChange]:
    """How the isolation of one server changes."""
    old, new = before.spec.sandbox, after.spec.sandbox
    name = after.name
    if old is None and new is None:
        return []
    if new is None:
        return [
            _change(
                after,
                "widened",
                "sandbox-removed",
                f"server {name} is no longer sandboxed: it may read and write everything"
                " its user can, and reach the network",
            )
        ]
    if old is None:
        return [
            _change(
                after,
                "narrowed",
                "sandbox-added",
                f"server {name} is sandboxed: it sees only {_grants(new)}",
            )
        ]
    changes: list[AccessChange] = []
    before_paths, after_paths = _paths(old), _paths(new)
    for path in sorted(set(before_paths) | set(after_paths)):
        was, now = before_paths.get(path), after_paths.get(path)
        if was == now:
            continue
        if was is None or (was == _READ and now == _WRITE):
            verb = now
            changes.append(
                _change(
                    after,
                    "widened",
                    "sandbox-path-added",
                    f"server {name} may now {verb} {path}",
                    path,
                )
            )
        else:
            lost = _WRITE if now == _READ else was
            changes.append(
                _change(
                    after,
                    "narrowed",
                    "sandbox-path-removed",
                    f"server {name} may no longer {lost} {path}",
                    path,
                )
            )
    if old.network != new.network:
        if new.network == "host":
            changes.append(
                _change(
                    after,
                    "widened",
                    "sandbox-network-opened",
                    f"server {name} may now reach the network (sandbox network: host)",
                )
            )
        else:
            changes.append(
                _change(
                    after,
                    "narrowed",
                    "sandbox-network-closed",
                    f"server {name} may no longer reach the network (sandbox network: none)",
                )
            )
    return changes


def _paths(sandbox: Sandbox) -> dict[str, str]:
    granted = {path: _READ for path in sandbox.filesystem.read_only}
    granted.update((path, _WRITE) for path in sandbox.filesystem.read_write)
    return granted


def _grants(sandbox: Sandbox) -> str:
    parts = [f"{path} ({mode})" for path, mode in sorted(_paths(sandbox).items())]
    network = "no network" if sandbox.network == "none" else "the network"
    return ", ".join([*parts, network])


def _change(
    server: MCPServer, direction: Direction, kind: AccessKind, message: str, *paths: str
) -> AccessChange:
    return AccessChange(
        direction=direction,
        kind=kind,
        message=message,
        server=server.key,
        patterns=tuple(paths),
    )


__all__ = ["sandbox_changes", "server_sandbox_changes"]
