"""What is declared and applied in a cluster, for `mcp-reconciler diff --cluster`.

    desired, observed = cluster_observed("default")
    plan(load_paths(["servers/"]).state, observed)      # what applying PATH would change

The desired state is every custom resource the models accept (invalid ones are left out
and reported by `cluster_state`); the observed state is read the way the operator reads
it: Deployments it owns, remote servers' status, and each gateway ConfigMap's `applied`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ..core.desired import DesiredState
from ..core.errors import Problem
from ..core.models import KINDS, MCPServer
from ..core.planning import ObservedState
from .bodies import parse_body
from .kube import CONFIG_MAP, CUSTOM, DEPLOYMENT, Kube, load_configuration
from .manifests import deployed
from .naming import COMPONENT_GATEWAY, COMPONENT_SERVER, LABEL_COMPONENT, managed_selector
from .observed import observed_remote, observed_resources, observed_servers


async def cluster_state(
    namespace: str | None,
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
    kube: Kube | None = None,
) -> tuple[DesiredState, ObservedState, list[Problem]]:
    """Desired and observed state of one namespace (None: every namespace), and the
    problems of the custom resources that do not validate."""
    own = kube is None
    client = kube or Kube(load_configuration(kubeconfig=kubeconfig, context=context))
    try:
        return await _read(client, namespace)
    finally:
        if own:
            await asyncio.to_thread(client.close)


async def _read(
    kube: Kube, namespace: str | None
) -> tuple[DesiredState, ObservedState, list[Problem]]:
    desired = DesiredState(revision="cluster")
    problems: list[Problem] = []
    observed = ObservedState()
    for kind in KINDS:
        for body in await kube.list_objects(CUSTOM[kind], namespace):
            parsed = parse_body(body)
            if parsed.resource is None:
                problems.extend(parsed.problems)
                continue
            resource = parsed.resource
            desired.resources[resource.key] = resource
            if isinstance(resource, MCPServer) and not deployed(resource):
                metadata = body.get("metadata") or {}
                generation = metadata.get("generation")
                seen = observed_remote(
                    resource,
                    body.get("status") or {},
                    generation=generation if isinstance(generation, int) else None,
                )
                if seen is not None:
                    observed.servers[resource.key] = seen
    deployments = await kube.list_objects(
        DEPLOYMENT, namespace, selector=managed_selector({LABEL_COMPONENT: COMPONENT_SERVER})
    )
    observed.servers.update(observed_servers(deployments, namespace))
    gateways = await kube.list_objects(
        CONFIG_MAP, namespace, selector=managed_selector({LABEL_COMPONENT: COMPONENT_GATEWAY})
    )
    for config_map in gateways:
        ns = (config_map.get("metadata") or {}).get("namespace") or namespace or "default"
        observed.resources.update(observed_resources(ns, config_map).resources)
    return desired, observed, problems


def cluster_observed(
    namespace: str | None = "default",
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> tuple[DesiredState, ObservedState]:
    """The custom resources of the namespace and what the operator applied of them."""
    desired, observed, _ = asyncio.run(
        cluster_state(namespace, kubeconfig=kubeconfig, context=context)
    )
    return desired, observed
