"""`tools.lock.yaml`: the ToolLocks of a directory, computed and rendered deterministically.

`plan_locks` decides, per server, whether its lock is added, updated or kept; `render_locks`
writes them as YAML documents ordered by namespace and server, with tools and parameters
sorted by name, so an unchanged surface gives byte-identical text and a change is a small,
reviewable diff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from ..core.models import API_VERSION, DEFAULT_NAMESPACE, ObjectMeta, ToolLock
from ..core.models.toollock import AcceptedFinding, ToolLockSpec
from .definitions import ToolDict
from .verdicts import lock_of

LOCK_FILE = "tools.lock.yaml"

HEADER = """\
# The reviewed tool definitions of each server, written by `mcp-reconciler lock`.
# A tool whose upstream definition no longer matches its sha256 (or that is not listed)
# is withheld by the gateway under mode: enforce. Accept a change by committing the lock
# written by `mcp-reconciler lock PATH --update` after reviewing its diff.
"""

LockAction = Literal["added", "updated", "unchanged", "kept"]


@dataclass(frozen=True, slots=True)
class LockChange:
    """What `lock` did for one server."""

    server: str
    namespace: str
    action: LockAction
    """`added` (no lock before), `updated`, `unchanged`, `kept` (locked; no --update)."""
    tools: int


def plan_locks(
    existing: Sequence[ToolLock],
    discovered: Mapping[tuple[str, str], Sequence[ToolDict]],
    *,
    update: bool,
) -> tuple[list[ToolLock], list[LockChange]]:
    """The locks to write and what changed, from the existing locks and the tools found.

    Without `update` only servers without a lock get one; with it, every discovered
    server's tools are replaced (its `mode` and the `accepted` entries of tools it still
    offers are kept). Locks of servers not discovered are kept as they are.
    """
    by_key = {(lock.metadata.ns, lock.name): lock for lock in existing}
    changes: list[LockChange] = []
    for key in sorted(discovered):
        tools = lock_of(discovered[key])
        old = by_key.get(key)
        if old is not None and not update:
            changes.append(LockChange(key[1], key[0], "kept", len(old.spec.tools)))
            continue
        spec = ToolLockSpec(
            mode=old.spec.mode if old else "enforce",
            tools=tools,
            accepted=[a for a in (old.spec.accepted if old else []) if a.tool in tools],
        )
        namespace = None if key[0] == DEFAULT_NAMESPACE else key[0]
        lock = ToolLock(metadata=ObjectMeta(name=key[1], namespace=namespace), spec=spec)
        action: LockAction = "added" if old is None else "updated"
        if old is not None and old.spec == spec:
            action = "unchanged"
            lock = old
        by_key[key] = lock
        changes.append(LockChange(key[1], key[0], action, len(tools)))
    return [by_key[key] for key in sorted(by_key)], changes


def render_locks(locks: Sequence[ToolLock]) -> str:
    """The YAML text of `tools.lock.yaml`."""
    documents = [
        yaml.safe_dump(
            _document(lock),
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=100,
        )
        for lock in sorted(locks, key=lambda lock: (lock.metadata.ns, lock.name))
    ]
    return HEADER + "---\n" + "---\n".join(documents) if documents else HEADER


def _document(lock: ToolLock) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": lock.name}
    if lock.metadata.namespace and lock.metadata.namespace != DEFAULT_NAMESPACE:
        metadata["namespace"] = lock.metadata.namespace
    spec: dict[str, Any] = {"mode": lock.spec.mode, "tools": {}}
    for name in sorted(lock.spec.tools):
        entry = lock.spec.tools[name]
        tool: dict[str, Any] = {"sha256": entry.sha256}
        if entry.title is not None:
            tool["title"] = entry.title
        if entry.description is not None:
            tool["description"] = entry.description
        if entry.parameters:
            tool["parameters"] = {
                param: _parameter(entry.parameters[param].type, entry.parameters[param].required)
                for param in sorted(entry.parameters)
            }
        spec["tools"][name] = tool
    if lock.spec.accepted:
        spec["accepted"] = [_accepted(a) for a in sorted(lock.spec.accepted, key=_accepted_key)]
    return {"apiVersion": API_VERSION, "kind": "ToolLock", "metadata": metadata, "spec": spec}


def _parameter(kind: str | None, required: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if kind is not None:
        found["type"] = kind
    if required:
        found["required"] = True
    return found


def _accepted(accepted: AcceptedFinding) -> dict[str, str]:
    return {"tool": accepted.tool, "finding": accepted.finding}


def _accepted_key(accepted: AcceptedFinding) -> tuple[str, str]:
    return (accepted.tool, accepted.finding)
