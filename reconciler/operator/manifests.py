"""Pure functions from an MCPServer to the Kubernetes objects it owns.

    render_server(server, owner=..., run=True, settings=...) -> ServerObjects
        ConfigMap   literal `env` values (the pod reads them by configMapKeyRef)
        Deployment  one container: the server's image (HTTP servers), or the bridge
                    wrapping the stdio command; probes, resources, a restrictive
                    securityContext, the hashes the planner reads back
        Service     ClusterIP on the MCP port, with client-IP affinity
        NetworkPolicy  only for `sandbox.network: none`: the server's pods may open no
                    connection at all (egress denied; the gateway still reaches them)

`spec.sandbox` in a pod: every declared path becomes a hostPath volume mounted at the
same path (`readOnly` paths read-only, `readWrite` ones writable), like the paths of the
machine a standalone server runs on; the pod gets no host namespaces, the container the
runtime's default seccomp profile on top of the restrictive securityContext every server
pod has (non-root, read-only root filesystem, no capabilities, a private `/tmp`).

How a stdio server runs in a pod: its command is wrapped by a bridge that starts it as a
child process and serves it over streamable HTTP (`ManifestSettings.bridge_command`). The
alternative, attaching to the container's stdin/stdout through the API server (ToolHive's
way), makes one proxy hold a long-lived attach stream per server: one stdin cannot be
shared by replicas, the stream breaks whenever the API server or proxy restarts, and the
proxy needs `pods/attach` on every pod. Wrapping (kmcp's way) keeps each pod
self-contained: the pod's own port is probed, scaled and restarted by Kubernetes like any
HTTP service, and nothing but the gateway talks to it.

Nothing here reads the cluster: what the live objects hold comes in as arguments
(`live_replicas`), so every decision is a row of a table test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from ..core.errors import InvalidInput
from ..core.models import API_VERSION, MCPServer, NamedValue
from ..core.spec_changes import digest, runtime_hash, spec_hash
from .naming import (
    ANNOTATION_CONFIG_HASH,
    ANNOTATION_PATH,
    ANNOTATION_RESTARTED_AT,
    ANNOTATION_RUNTIME_HASH,
    ANNOTATION_SPEC_HASH,
    server_labels,
    server_object_name,
    server_selector,
)
from .settings import ManifestSettings

Manifest = dict[str, Any]
"""One Kubernetes object, as JSON."""

TMP_VOLUME: Final = "tmp"
SANDBOX_VOLUME_PREFIX: Final = "sandbox-"
PORT_NAME: Final = "mcp"
UNSUPPORTED: Final = "UnsupportedInCluster"


@dataclass(frozen=True, slots=True)
class Owner:
    """The object that owns what is rendered (an MCPServer): for ownerReferences."""

    name: str
    uid: str
    kind: str = "MCPServer"
    api_version: str = API_VERSION

    def reference(self, *, controller: bool = True) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": controller,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True, slots=True)
class ServerObjects:
    """Everything one MCPServer owns, in the order to create them."""

    config_map: Manifest
    deployment: Manifest
    service: Manifest
    network_policy: Manifest | None = None
    """Denies all egress of a server sandboxed with `network: none`; None otherwise."""

    def all(self) -> tuple[Manifest, ...]:
        extra = (self.network_policy,) if self.network_policy is not None else ()
        return (self.config_map, self.deployment, self.service, *extra)


def deployed(server: MCPServer) -> bool:
    """Whether the operator runs the server in the cluster (an image, or a stdio command);
    a remote server (`url`, no `image`) is only connected to."""
    return not server.spec.is_remote


def server_port(server: MCPServer, settings: ManifestSettings) -> int:
    """The port the server's pod serves MCP on."""
    if server.spec.transport == "stdio":
        return settings.bridge_port
    assert server.spec.port is not None  # the model requires it for an HTTP server with image
    return server.spec.port


def endpoint_path(server: MCPServer) -> str:
    """HTTP path of the MCP endpoint: `/mcp` (the bridge, streamable HTTP), `/sse` (legacy
    SSE), or the `mcp.reconciler.dev/path` annotation of the MCPServer."""
    declared = server.metadata.annotations.get(ANNOTATION_PATH)
    if declared and server.spec.transport != "stdio":
        return declared if declared.startswith("/") else f"/{declared}"
    return "/sse" if server.spec.transport == "sse" else "/mcp"


def replicas_for(server: MCPServer, *, run: bool, live_replicas: int | None) -> int | None:
    """The replica count to write, or None to leave the live one alone.

    Stopped servers scale to 0. A declared `replicas` is enforced. Otherwise the count is
    only set when the Deployment is new or scaled to 0 (then 1): an autoscaler or a
    `kubectl scale` owns it from there on.
    """
    if not run:
        return 0
    if server.spec.replicas is not None:
        return server.spec.replicas
    if live_replicas is None or live_replicas == 0:
        return 1
    return None


def unsupported(server: MCPServer) -> str | None:
    """Why the server cannot run in a cluster as declared, or None."""
    spec = server.spec
    for index, item in enumerate(spec.env):
        if item.value_from is not None and item.value_from.env is not None:
            return (
                f"spec.env.{index}.valueFrom.env: a variable of the operator's environment "
                "cannot reach a pod; reference a Secret with secretKeyRef in Kubernetes"
            )
    if deployed(server) and spec.transport == "stdio" and spec.command is None:
        return (
            "spec.command: a stdio server in Kubernetes needs its command, which the bridge "
            "runs inside the image; set command (and args)"
        )
    return None


def render_server(
    server: MCPServer,
    *,
    owner: Owner | None,
    run: bool,
    settings: ManifestSettings,
    live_replicas: int | None = None,
) -> ServerObjects:
    """The ConfigMap, Deployment and Service of a server the operator runs.

    Raises InvalidInput (reason `UnsupportedInCluster`) for a declaration only standalone
    mode can run, e.g. an environment value taken from the operator's own environment.
    """
    problem = unsupported(server)
    if problem is not None:
        raise InvalidInput(problem, reason=UNSUPPORTED)
    name = server_object_name(server.name)
    config_map = _config_map(server, name)
    config_hash = digest(config_map["data"])
    deployment = _deployment(
        server,
        name,
        run=run,
        live_replicas=live_replicas,
        config_hash=config_hash,
        settings=settings,
    )
    service = _service(server, name, settings)
    objects = ServerObjects(config_map, deployment, service, _network_policy(server, name))
    if owner is not None:
        for obj in objects.all():
            obj["metadata"]["ownerReferences"] = [owner.reference()]
    return objects


def _metadata(server: MCPServer, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": server.metadata.ns, "labels": server_labels(server.name)}


def _config_map(server: MCPServer, name: str) -> Manifest:
    data = {item.name: item.value for item in server.spec.env if item.value is not None}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(server, name),
        "data": data,
    }


def _env(server: MCPServer, config_map: str) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    if all(item.name != "HOME" for item in server.spec.env):
        env.append({"name": "HOME", "value": "/tmp"})  # the root filesystem is read-only
    for item in server.spec.env:
        env.append(_env_var(item, config_map))
    return env


def _env_var(item: NamedValue, config_map: str) -> dict[str, Any]:
    if item.value is not None:
        ref = {"name": config_map, "key": item.name}
        return {"name": item.name, "valueFrom": {"configMapKeyRef": ref}}
    assert item.value_from is not None
    assert item.value_from.secret_key_ref is not None
    secret = item.value_from.secret_key_ref
    ref = {"name": secret.name, "key": secret.key}
    return {"name": item.name, "valueFrom": {"secretKeyRef": ref}}


def _container(server: MCPServer, name: str, settings: ManifestSettings) -> dict[str, Any]:
    spec = server.spec
    port = server_port(server, settings)
    container: dict[str, Any] = {"name": "server", "image": spec.image or settings.image}
    if spec.transport == "stdio":
        assert spec.command is not None
        container["command"] = [part.format(port=port) for part in settings.bridge_command]
        container["args"] = [spec.command, *spec.args]
    elif spec.args:
        container["args"] = list(spec.args)
    if spec.working_dir is not None and spec.working_dir.startswith("/"):
        container["workingDir"] = spec.working_dir
    if settings.image_pull_policy is not None:
        container["imagePullPolicy"] = settings.image_pull_policy
    container["ports"] = [{"name": PORT_NAME, "containerPort": port, "protocol": "TCP"}]
    container["env"] = _env(server, name)
    container["resources"] = _resources(server, settings)
    check = spec.health_check
    probe = {
        "tcpSocket": {"port": PORT_NAME},
        "periodSeconds": max(1, math.ceil(check.interval_seconds)),
        "timeoutSeconds": max(1, math.ceil(check.timeout_seconds)),
        "failureThreshold": check.failure_threshold,
    }
    container["readinessProbe"] = probe
    container["livenessProbe"] = {**probe, "initialDelaySeconds": 10}
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    container["volumeMounts"] = [{"name": TMP_VOLUME, "mountPath": "/tmp"}]
    if spec.sandbox is not None:
        container["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
        for volume, path, read_only in sandbox_paths(server):
            mount = {"name": volume, "mountPath": path, "readOnly": read_only}
            container["volumeMounts"].append(mount)
    return container


def sandbox_paths(server: MCPServer) -> list[tuple[str, str, bool]]:
    """(volume name, path, read-only) of each path a sandboxed server declares."""
    sandbox = server.spec.sandbox
    if sandbox is None:
        return []
    declared = [(p, True) for p in sandbox.filesystem.read_only]
    declared += [(p, False) for p in sandbox.filesystem.read_write]
    return [
        (f"{SANDBOX_VOLUME_PREFIX}{index}", path, read_only)
        for index, (path, read_only) in enumerate(declared)
    ]


def _volumes(server: MCPServer) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [{"name": TMP_VOLUME, "emptyDir": {}}]
    for volume, path, read_only in sandbox_paths(server):
        kind = "Directory" if read_only else "DirectoryOrCreate"
        volumes.append({"name": volume, "hostPath": {"path": path, "type": kind}})
    return volumes


def _network_policy(server: MCPServer, name: str) -> Manifest | None:
    """For `sandbox.network: none`: no egress at all from the server's pods."""
    sandbox = server.spec.sandbox
    if sandbox is None or sandbox.network != "none" or not deployed(server):
        return None
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(server, name),
        "spec": {
            "podSelector": {"matchLabels": server_selector(server.name)},
            "policyTypes": ["Egress"],
            "egress": [],
        },
    }


def _resources(server: MCPServer, settings: ManifestSettings) -> dict[str, Any]:
    declared = server.spec.resources
    if declared is None:
        return {"requests": dict(settings.default_requests)}
    result: dict[str, Any] = {}
    for part in ("requests", "limits"):
        values = getattr(declared, part)
        if values is not None:
            quantities = values.model_dump(exclude_none=True)
            if quantities:
                result[part] = quantities
    return result


def pod_security_context(settings: ManifestSettings) -> dict[str, Any]:
    """Non-root, with the runtime's default seccomp profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": settings.run_as_user,
        "runAsGroup": settings.run_as_user,
        "fsGroup": settings.run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _deployment(
    server: MCPServer,
    name: str,
    *,
    run: bool,
    live_replicas: int | None,
    config_hash: str,
    settings: ManifestSettings,
) -> Manifest:
    runtime = runtime_hash(server)
    metadata = _metadata(server, name)
    metadata["annotations"] = {
        ANNOTATION_SPEC_HASH: spec_hash(server),
        ANNOTATION_RUNTIME_HASH: runtime,
    }
    spec: dict[str, Any] = {}
    replicas = replicas_for(server, run=run, live_replicas=live_replicas)
    if replicas is not None:
        spec["replicas"] = replicas
    spec["revisionHistoryLimit"] = 3
    spec["selector"] = {"matchLabels": server_selector(server.name)}
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(settings),
        "containers": [_container(server, name, settings)],
        "volumes": _volumes(server),
    }
    if server.spec.sandbox is not None:
        pod.update(hostNetwork=False, hostPID=False, hostIPC=False, shareProcessNamespace=False)
    template_annotations = {ANNOTATION_RUNTIME_HASH: runtime, ANNOTATION_CONFIG_HASH: config_hash}
    restarted_at = server.metadata.annotations.get(ANNOTATION_RESTARTED_AT)
    if restarted_at:
        template_annotations[ANNOTATION_RESTARTED_AT] = restarted_at
    spec["template"] = {
        "metadata": {"labels": server_labels(server.name), "annotations": template_annotations},
        "spec": pod,
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def _service(server: MCPServer, name: str, settings: ManifestSettings) -> Manifest:
    port = server_port(server, settings)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(server, name),
        "spec": {
            "type": "ClusterIP",
            "selector": server_selector(server.name),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": port,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
            "sessionAffinity": "ClientIP",
        },
    }


def discovery_url(server: MCPServer, *, template: str, settings: ManifestSettings) -> str:
    """Where the operator (and the gateway) reach a server: its own `url` when remote,
    else `template` filled with the server's Service."""
    if not deployed(server):
        assert server.spec.url is not None
        return server.spec.url
    return template.format(
        name=server.name,
        service=server_object_name(server.name),
        namespace=server.metadata.ns,
        port=server_port(server, settings),
        path=endpoint_path(server),
    )
