"""Settings of the operator: which namespaces, how it runs, and what it puts in the cluster.

Small dataclasses with a docstring on every field; `mcp-reconciler operator` fills them
from its options, tests and the benchmark construct them directly.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__

DEFAULT_IMAGE = f"ghcr.io/mcp-reconciler/mcp-reconciler:{__version__}"
DEFAULT_DISCOVERY_URL = "http://{service}.{namespace}.svc:{port}{path}"


@dataclass(frozen=True)
class ManifestSettings:
    """What the operator writes into the objects it owns."""

    image: str = DEFAULT_IMAGE
    """Image of the gateway, and of stdio servers that declare a `command` but no `image`
    (the command must exist in it: build on this image to add servers)."""
    bridge_command: tuple[str, ...] = (
        "mcp-reconciler",
        "bridge",
        "--listen",
        "0.0.0.0:{port}",
        "--",
    )
    """Entry point that serves a stdio server over streamable HTTP at `/mcp`; the server's
    command and arguments follow it. `{port}` is replaced by `bridge_port`."""
    bridge_port: int = 8080
    """Port the bridge listens on in a stdio server's pod."""
    gateway_port: int = 8765
    """Port of the gateway's Service and container."""
    gateway_public_url: str | None = None
    """The gateways' external base URL (an Ingress in front of them); `{namespace}` is
    replaced by each gateway's namespace. Passed to each gateway as `--public-url`."""
    gateway_replicas: int = 1
    """Replicas of each namespace's gateway Deployment."""
    gateway_restart_on_change: bool = True
    """Roll the gateway's pods when its configuration changes (a new permission applies at
    once); when False the gateway must reload its mounted ConfigMap itself."""
    image_pull_policy: str | None = None
    """`Always`, `IfNotPresent` or `Never`; None leaves Kubernetes' default."""
    run_as_user: int = 65532
    """Non-root user id the pods run as."""
    default_requests: tuple[tuple[str, str], ...] = (("cpu", "50m"), ("memory", "64Mi"))
    """Resource requests of a server container that declares no `resources`."""


@dataclass(frozen=True)
class OperatorSettings:
    """How `mcp-reconciler operator` runs."""

    namespaces: tuple[str, ...] = ()
    """Namespaces to serve; empty with `all_namespaces` for the whole cluster."""
    all_namespaces: bool = False
    """Serve every namespace (needs the cluster-wide RBAC of `manifests/`)."""
    standalone: bool = False
    """Run without peering: no other replica is looked for (one replica only)."""
    peering_name: str = "mcp-reconciler"
    """Name of the KopfPeering (namespaced) or ClusterKopfPeering object replicas share."""
    priority: int = 0
    """Peering priority: among replicas, the highest one is active, the others wait."""
    liveness_endpoint: str | None = None
    """kopf's liveness endpoint, e.g. `http://0.0.0.0:8080/healthz`; None: no endpoint."""
    kubeconfig: Path | None = None
    """Kubeconfig to log in with; None: in-cluster service account, else $KUBECONFIG."""
    context: str | None = None
    """Kubeconfig context; None: its current context."""
    health_interval: float = 30.0
    """Seconds between discoveries (tools/list through the Service) of each server."""
    drift_interval: float = 60.0
    """Seconds between checks that each server's owned objects still match their manifests."""
    namespace_debounce: float = 0.2
    """Seconds a namespace waits after a change before its gateway and statuses are
    recomputed, so that `kubectl apply -f dir/` is handled once, not once per object."""
    discovery_url: str = DEFAULT_DISCOVERY_URL
    """Where the operator reaches a server it runs, as a template of `{name}`, `{service}`,
    `{namespace}`, `{port}` and `{path}`."""
    discovery_timeout: float = 10.0
    """Seconds one discovery may take (the server's `healthCheck.timeoutSeconds` wins when
    smaller)."""
    enhance: bool = True
    """Enhance tool descriptions of servers that declare `spec.enhancement`."""
    state_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "mcp-reconciler")
    """Local working state (the enhancement store; its results are also kept in the
    cluster, so an emptyDir is enough)."""
    manifests: ManifestSettings = field(default_factory=ManifestSettings)
    """What goes into the owned objects."""
