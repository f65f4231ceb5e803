"""The custom resources the operator knows, per namespace, as a DesiredState.

`ResourceIndex` is filled by kopf's indices (every watch event of every kind updates it before
any handler runs, so a restarted operator sees the whole cluster before it acts). Here it
is only an interface and the pure assembly of a namespace's desired state from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ..core.desired import DesiredState
from ..core.models import KINDS, MCPSuite, ResourceKey, Workflow
from .bodies import Snapshot


class ResourceIndex(Protocol):
    """Snapshots of the custom resources of one kind in one namespace."""

    def snapshots(self, kind: str, namespace: str) -> Iterable[Snapshot]: ...


@dataclass
class NamespaceState:
    """Every custom resource of a namespace: the valid ones as a DesiredState."""

    desired: DesiredState
    snapshots: dict[ResourceKey, Snapshot] = field(default_factory=dict)
    invalid: dict[ResourceKey, Snapshot] = field(default_factory=dict)
    """Resources the models reject (Stalled until fixed)."""


def namespace_state(
    index: ResourceIndex, namespace: str, *, kinds: Iterable[str] = tuple(KINDS)
) -> NamespaceState:
    state = NamespaceState(DesiredState(revision=f"namespace/{namespace}"))
    for kind in kinds:
        for snap in index.snapshots(kind, namespace):
            key = snap.key
            if key is None or snap.deleting:
                continue
            state.snapshots[key] = snap
            if snap.parsed.resource is None:
                state.invalid[key] = snap
            else:
                state.desired.resources[key] = snap.parsed.resource
    return state


def server_context(index: ResourceIndex, namespace: str) -> NamespaceState:
    """What decides whether a server runs: the suites and workflows of its namespace."""
    return namespace_state(index, namespace, kinds=(MCPSuite.kind_name, Workflow.kind_name))
