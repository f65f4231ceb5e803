"""Names, labels and annotations of the Kubernetes objects the operator owns.

Every owned object carries `app.kubernetes.io/managed-by: mcp-reconciler`; a server's
objects also carry `mcp.reconciler.dev/server: <name>` (their selector), the gateway's
`app.kubernetes.io/component: gateway`. What the planner needs to read back from the
cluster (the hashes a Deployment was made from) lives in annotations on the objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final

from ..core.models import API_GROUP

MANAGED_BY: Final = "mcp-reconciler"
SERVER_PREFIX: Final = "mcp-server-"
GATEWAY_NAME: Final = "mcp-gateway"
ENHANCEMENTS_NAME: Final = "mcp-enhancements"

LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_SERVER: Final = f"{API_GROUP}/server"

ANNOTATION_SPEC_HASH: Final = f"{API_GROUP}/spec-hash"
"""On a server's Deployment: the spec hash last applied (`planning.ObservedServer.spec_hash`)."""
ANNOTATION_RUNTIME_HASH: Final = f"{API_GROUP}/runtime-hash"
"""On a server's Deployment and its pod template: the runtime hash its pods are made from."""
ANNOTATION_CONFIG_HASH: Final = f"{API_GROUP}/config-hash"
"""On a pod template: hash of the ConfigMap it reads, so a new configuration rolls the pods."""
ANNOTATION_APPLIED: Final = f"{API_GROUP}/applied"
"""On the gateway ConfigMap: JSON `{"Kind/name": spec hash}` of every suite, permission,
provider and workflow applied; what `planning.ObservedResource` is read back from."""
ANNOTATION_RESTARTED_AT: Final = f"{API_GROUP}/restartedAt"
"""Set on an MCPServer by `mcp-reconciler restart --kube` (a time): copied onto its pod
template, which rolls the Deployment as `kubectl rollout restart` does."""
ANNOTATION_PATH: Final = f"{API_GROUP}/path"
"""Set by users on an MCPServer with an image: the HTTP path of its MCP endpoint."""

COMPONENT_SERVER: Final = "mcp-server"
COMPONENT_GATEWAY: Final = "gateway"

_MAX_NAME = 63


def bounded_name(prefix: str, name: str) -> str:
    """`prefix + name`, shortened with a hash suffix to stay a valid 63-character name."""
    full = prefix + name
    if len(full) <= _MAX_NAME:
        return full
    suffix = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = _MAX_NAME - len(prefix) - len(suffix) - 1
    return f"{prefix}{name[:keep].rstrip('-')}-{suffix}"


def server_object_name(server: str) -> str:
    """Name of a server's Deployment, Service and ConfigMap: `mcp-server-<name>`."""
    return bounded_name(SERVER_PREFIX, server)


def server_selector(server: str) -> dict[str, str]:
    """The labels that select a server's pods (immutable once a Deployment exists)."""
    return {LABEL_SERVER: server, LABEL_MANAGED_BY: MANAGED_BY}


def server_labels(server: str) -> dict[str, str]:
    """Labels of every object owned by a server, and of its pods."""
    return {
        LABEL_NAME: "mcp-server",
        LABEL_INSTANCE: server,
        LABEL_COMPONENT: COMPONENT_SERVER,
        LABEL_PART_OF: MANAGED_BY,
        **server_selector(server),
    }


def gateway_selector() -> dict[str, str]:
    return {LABEL_COMPONENT: COMPONENT_GATEWAY, LABEL_MANAGED_BY: MANAGED_BY}


def gateway_labels() -> dict[str, str]:
    return {LABEL_NAME: "mcp-gateway", LABEL_PART_OF: MANAGED_BY, **gateway_selector()}


def managed_selector(labels: Mapping[str, str] | None = None) -> str:
    """A label selector string for objects this operator manages, narrowed by `labels`."""
    wanted = {LABEL_MANAGED_BY: MANAGED_BY, **(labels or {})}
    return ",".join(f"{key}={value}" for key, value in sorted(wanted.items()))
