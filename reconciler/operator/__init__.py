"""The Kubernetes operator: the same resources as custom resources, reconciled by the same
planner, with Deployments, Services and ConfigMaps as the actuators.

    settings     OperatorSettings, ManifestSettings
    naming       names, labels and annotations of owned objects
    bodies       API objects -> validated models (the loader's messages on failure)
    manifests    pure: MCPServer -> ConfigMap + Deployment + Service (stdio via a bridge)
    gateway      pure: a namespace -> the gateway's ConfigMap + Deployment + Service
    drift        pure: does a live object still match its manifest; the patch if not
    status       pure: outcome -> status with Ready / Reconciling / Stalled conditions
    observed     pure: live objects -> the planner's ObservedState
    resourceindex the custom resources per namespace (kopf's indices) -> DesiredState
    kube         the Kubernetes API over the official client (the actuator)
    discovery    tools/list of a server at a URL (reconciler.upstream)
    servers      one MCPServer: plan, apply, discover, delete
    namespaces   one namespace: gateway and the status of every other kind
    enhancing    enhancement runs, their results cached in a ConfigMap
    handlers     the kopf handlers (the only module importing kopf, with runtime)
    runtime      Operator: log in, run kopf
    clusterstate cluster_observed(): what `diff --cluster` compares against
"""

from __future__ import annotations

from .clusterstate import cluster_observed, cluster_state
from .gateway import GatewayBundle, UpstreamAddress, gateway_command, read_bundle, render_gateway
from .manifests import Owner, ServerObjects, render_server
from .runtime import Operator, run_operator
from .settings import ManifestSettings, OperatorSettings

__all__ = [
    "GatewayBundle",
    "ManifestSettings",
    "Operator",
    "OperatorSettings",
    "Owner",
    "ServerObjects",
    "UpstreamAddress",
    "cluster_observed",
    "cluster_state",
    "gateway_command",
    "read_bundle",
    "render_gateway",
    "render_server",
    "run_operator",
]
