"""What the cluster says was applied, as the planner's ObservedState.

Pure functions over live objects. A server the operator runs is observed through its
Deployment (the hashes in its annotations; running unless scaled to 0); a remote server
through its own status (`status.specHash`, the runtime hash it was last connected with).
Suites, permissions, providers and workflows through the gateway ConfigMap of their
namespace, whose `applied` annotation lists the spec hash of each one it was built from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.models import MCPServer, ResourceKey
from ..core.planning import ObservedResource, ObservedServer, ObservedState
from ..core.spec_changes import spec_hash
from .naming import ANNOTATION_APPLIED, ANNOTATION_RUNTIME_HASH, ANNOTATION_SPEC_HASH, LABEL_SERVER


def deployment_replicas(deployment: Mapping[str, Any] | None) -> int | None:
    """`spec.replicas` of a live Deployment (None when absent: Kubernetes defaults to 1)."""
    if deployment is None:
        return None
    replicas = (deployment.get("spec") or {}).get("replicas")
    return replicas if isinstance(replicas, int) else None


def observed_from_deployment(deployment: Mapping[str, Any]) -> ObservedServer:
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    replicas = deployment_replicas(deployment)
    ready = ((deployment.get("status") or {}).get("readyReplicas") or 0) > 0
    return ObservedServer(
        runtime_hash=annotations.get(ANNOTATION_RUNTIME_HASH),
        spec_hash=annotations.get(ANNOTATION_SPEC_HASH),
        running=replicas != 0,
        phase="Ready" if ready else None,
    )


def observed_remote(
    server: MCPServer, status: Mapping[str, Any], *, generation: int | None
) -> ObservedServer | None:
    """A remote server's last connection, from its status; None when never reconciled.

    Its spec hash is not kept: it counts as unchanged while the generation it was last
    reconciled at is the current one.
    """
    runtime = status.get("specHash")
    if not isinstance(runtime, str):
        return None
    current = status.get("observedGeneration") == generation and generation is not None
    return ObservedServer(
        runtime_hash=runtime,
        spec_hash=spec_hash(server) if current else None,
        running=True,
    )


def applied_hashes(config_map: Mapping[str, Any] | None) -> dict[str, str]:
    """`{"Kind/name": spec hash}` from a gateway ConfigMap (empty when absent or unreadable)."""
    if config_map is None:
        return {}
    annotations = (config_map.get("metadata") or {}).get("annotations") or {}
    try:
        found = json.loads(annotations.get(ANNOTATION_APPLIED) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def observed_resources(namespace: str, config_map: Mapping[str, Any] | None) -> ObservedState:
    """Suites, permissions, providers and workflows the namespace's gateway was built from."""
    resources = {}
    for label, digest in applied_hashes(config_map).items():
        kind, _, name = label.partition("/")
        resources[ResourceKey(kind, namespace, name)] = ObservedResource(digest)
    return ObservedState(resources=resources)


def observed_servers(
    deployments: Iterable[Mapping[str, Any]], namespace_of: str | None = None
) -> dict[ResourceKey, ObservedServer]:
    """Servers observed through the Deployments the operator owns (by their server label)."""
    found: dict[ResourceKey, ObservedServer] = {}
    for deployment in deployments:
        metadata = deployment.get("metadata") or {}
        server = (metadata.get("labels") or {}).get(LABEL_SERVER)
        namespace = metadata.get("namespace") or namespace_of
        if not server or not namespace:
            continue
        key = ResourceKey(MCPServer.kind_name, namespace, server)
        found[key] = observed_from_deployment(deployment)
    return found
