"""The in-cluster gateway of a namespace: pure manifests, and the bundle it is configured by.

The operator does not build the gateway's configuration itself: it renders the inputs of
`reconciler.gateway.build_gateway_config` into a ConfigMap, and the gateway pod builds it
with the same code the standalone controller uses:

    /etc/mcp-reconciler/gateway/resources.yaml     every resource of the namespace, as YAML
                                                   (read back with `load_documents`)
    /etc/mcp-reconciler/gateway/upstreams.json     {server: {url, transport, headers}}: each
                                                   server's Service URL (or its own URL)
    /etc/mcp-reconciler/gateway/descriptions.json  {server: {tool: enhanced description}}
    /var/run/secrets/mcp-reconciler/<secret>/<key> every Secret a token or header names,
                                                   mounted where SecretResolver looks

The pod runs `mcp-reconciler gateway --config-dir ... --secrets-dir ... --listen ...`
(see `gateway_command`); `read_bundle` is what that command calls to read the directory.
Tokens never enter the ConfigMap: only references, resolved in the pod from the mounts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from ..core.desired import DesiredState
from ..core.errors import InvalidInput
from ..core.models import MCPServer, Resource
from ..core.spec_changes import digest
from ..loading.loader import load_documents
from .manifests import Manifest, Owner, deployed, discovery_url, pod_security_context
from .naming import (
    ANNOTATION_APPLIED,
    ANNOTATION_CONFIG_HASH,
    GATEWAY_NAME,
    bounded_name,
    gateway_labels,
    gateway_selector,
)
from .settings import DEFAULT_DISCOVERY_URL, ManifestSettings

CONFIG_DIR: Final = "/etc/mcp-reconciler/gateway"
SECRETS_DIR: Final = "/var/run/secrets/mcp-reconciler"
RESOURCES_FILE: Final = "resources.yaml"
UPSTREAMS_FILE: Final = "upstreams.json"
DESCRIPTIONS_FILE: Final = "descriptions.json"


@dataclass(frozen=True, slots=True)
class UpstreamAddress:
    """How the gateway reaches one server."""

    url: str
    transport: str
    """`streamable-http` or `sse` (a stdio server is served over HTTP by its bridge)."""
    headers: tuple[dict[str, Any], ...] = ()
    """The server's `headers`, as declared (`valueFrom` resolved in the pod)."""


@dataclass(frozen=True, slots=True)
class GatewayObjects:
    """What serves one namespace's suites."""

    config_map: Manifest
    deployment: Manifest
    service: Manifest

    def all(self) -> tuple[Manifest, ...]:
        return (self.config_map, self.deployment, self.service)


@dataclass
class GatewayBundle:
    """The gateway's inputs, as read back from its config directory."""

    desired: DesiredState
    upstreams: dict[str, UpstreamAddress] = field(default_factory=dict)
    descriptions: dict[str, dict[str, str]] = field(default_factory=dict)


def gateway_command(settings: ManifestSettings, namespace: str = "default") -> list[str]:
    """The command line of the gateway container of a namespace."""
    command = [
        "mcp-reconciler",
        "gateway",
        "--config-dir",
        CONFIG_DIR,
        "--secrets-dir",
        SECRETS_DIR,
        "--listen",
        f"0.0.0.0:{settings.gateway_port}",
    ]
    if settings.gateway_public_url:
        command += ["--public-url", settings.gateway_public_url.replace("{namespace}", namespace)]
    return command


def gateway_url(namespace: str, suite: str, settings: ManifestSettings) -> str:
    """The in-cluster endpoint of a suite."""
    return f"http://{GATEWAY_NAME}.{namespace}.svc:{settings.gateway_port}/suites/{suite}/mcp"


def served_resources(desired: DesiredState) -> list[Resource]:
    """What the gateway reads (the whole namespace, so that it loads as `validate` would
    load it: references resolve), in a stable order."""
    return sorted(desired, key=lambda r: r.key)


def resources_yaml(resources: Iterable[Resource]) -> str:
    """The resources as YAML documents a user could have written."""
    documents = []
    for resource in resources:
        dumped = resource.model_dump(
            mode="json", by_alias=True, exclude_defaults=True, exclude={"status"}
        )
        dumped = {"apiVersion": resource.api_version, "kind": resource.kind_name, **dumped}
        documents.append(dumped)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10x faster when built
    return yaml.dump_all(documents, Dumper=dumper, sort_keys=False, allow_unicode=True)


def upstream_of(server: MCPServer, settings: ManifestSettings) -> UpstreamAddress:
    url = discovery_url(server, template=DEFAULT_DISCOVERY_URL, settings=settings)
    transport = "streamable-http" if server.spec.transport == "stdio" else server.spec.transport
    headers = tuple(
        h.model_dump(mode="json", by_alias=True, exclude_none=True) for h in server.spec.headers
    )
    return UpstreamAddress(url, transport, headers if not deployed(server) else ())


def secret_names(desired: DesiredState) -> list[str]:
    """Every Secret a token, a remote server's header or its OAuth client secret refers to
    (mounted in the pod)."""
    names: set[str] = set()
    for permission in desired.permissions:
        for subject in permission.spec.subjects:
            if subject.token_from is not None and subject.token_from.secret_key_ref is not None:
                names.add(subject.token_from.secret_key_ref.name)
    for server in desired.servers:
        if deployed(server):
            continue
        for header in server.spec.headers:
            source = header.value_from
            if source is not None and source.secret_key_ref is not None:
                names.add(source.secret_key_ref.name)
        oauth2 = server.spec.auth.oauth2 if server.spec.auth else None
        if oauth2 is not None and oauth2.client_secret.secret_key_ref is not None:
            names.add(oauth2.client_secret.secret_key_ref.name)
    return sorted(names)


def env_references(desired: DesiredState) -> list[str]:
    """`tokenFrom: {env}` references: the gateway pod has no such variables."""
    found = []
    for permission in desired.permissions:
        for index, subject in enumerate(permission.spec.subjects):
            if subject.token_from is not None and subject.token_from.env is not None:
                found.append(f"{permission.key}: spec.subjects.{index}.tokenFrom.env")
    return found


def render_gateway(
    namespace: str,
    desired: DesiredState,
    *,
    owners: Iterable[Owner],
    applied: Mapping[str, str],
    settings: ManifestSettings,
    descriptions: Mapping[str, Mapping[str, str]] | None = None,
) -> GatewayObjects:
    """The gateway's ConfigMap, Deployment and Service for one namespace.

    `applied` maps `Kind/name` to the spec hash of each resource the configuration is built
    from (the planner reads it back as the observed state); `owners` are the namespace's
    suites: the gateway is garbage-collected with the last of them.
    """
    resources = served_resources(desired)
    upstreams = {
        server.name: upstream_of(server, settings)
        for server in sorted(desired.servers, key=lambda s: s.name)
    }
    data = {
        RESOURCES_FILE: resources_yaml(resources),
        UPSTREAMS_FILE: json.dumps(
            {
                name: {"url": u.url, "transport": u.transport, "headers": list(u.headers)}
                for name, u in upstreams.items()
            },
            indent=1,
            sort_keys=True,
        ),
        DESCRIPTIONS_FILE: json.dumps(descriptions or {}, indent=1, sort_keys=True),
    }
    config_hash = digest(data)
    references = [o.reference(controller=False) for o in owners]
    labels = gateway_labels()

    def metadata(**extra: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": GATEWAY_NAME, "namespace": namespace, "labels": labels}
        if references:
            meta["ownerReferences"] = references
        meta.update(extra)
        return meta

    applied_text = json.dumps(dict(sorted(applied.items())), separators=(",", ":"))
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            annotations={ANNOTATION_APPLIED: applied_text, ANNOTATION_CONFIG_HASH: config_hash}
        ),
        "data": data,
    }
    secrets = secret_names(desired)
    template_annotations = (
        {ANNOTATION_CONFIG_HASH: config_hash} if settings.gateway_restart_on_change else {}
    )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(),
        "spec": {
            "replicas": settings.gateway_replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": gateway_selector()},
            "template": {
                "metadata": {"labels": labels, "annotations": template_annotations},
                "spec": _gateway_pod(secrets, settings, namespace),
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(),
        "spec": {
            "type": "ClusterIP",
            "selector": gateway_selector(),
            "ports": [
                {
                    "name": "http",
                    "port": settings.gateway_port,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }
    return GatewayObjects(config_map, deployment, service)


def _secret_volume(name: str) -> str:
    return bounded_name("secret-", name)


def _gateway_pod(secrets: list[str], settings: ManifestSettings, namespace: str) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": GATEWAY_NAME}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    for secret in secrets:
        volume = _secret_volume(secret)
        volumes.append({"name": volume, "secret": {"secretName": secret, "optional": True}})
        mounts.append({"name": volume, "mountPath": f"{SECRETS_DIR}/{secret}", "readOnly": True})
    probe_port = {"port": "http"}
    container: dict[str, Any] = {
        "name": "gateway",
        "image": settings.image,
        "command": gateway_command(settings, namespace),
        "ports": [{"name": "http", "containerPort": settings.gateway_port, "protocol": "TCP"}],
        "env": [{"name": "HOME", "value": "/tmp"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", **probe_port}, "periodSeconds": 5},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", **probe_port},
            "periodSeconds": 10,
            "initialDelaySeconds": 5,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    if settings.image_pull_policy is not None:
        container["imagePullPolicy"] = settings.image_pull_policy
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(settings),
        "containers": [container],
        "volumes": volumes,
    }


def served_descriptions(config_map: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """The descriptions a live gateway ConfigMap holds (empty when absent or unreadable)."""
    text = ((config_map or {}).get("data") or {}).get(DESCRIPTIONS_FILE) or "{}"
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {
        str(server): {str(tool): str(desc) for tool, desc in tools.items()}
        for server, tools in found.items()
        if isinstance(tools, dict)
    }


def read_bundle(directory: Path | str) -> GatewayBundle:
    """Read a gateway config directory (as mounted from the ConfigMap).

    Raises InvalidInput when the resources do not load (a ConfigMap edited by hand).
    """
    root = Path(directory)
    text = (root / RESOURCES_FILE).read_text(encoding="utf-8")
    result = load_documents([(RESOURCES_FILE, text)]) if text.strip() else None
    if result is not None and result.state is None:
        problems = "; ".join(str(p) for p in result.errors[:3])
        raise InvalidInput(f"the gateway configuration does not load: {problems}")
    desired = result.state if result is not None and result.state is not None else DesiredState()
    upstreams: dict[str, UpstreamAddress] = {}
    for name, entry in _json(root / UPSTREAMS_FILE).items():
        upstreams[name] = UpstreamAddress(
            url=entry["url"],
            transport=entry.get("transport", "streamable-http"),
            headers=tuple(entry.get("headers") or ()),
        )
    descriptions = {
        server: {str(tool): str(text) for tool, text in tools.items()}
        for server, tools in _json(root / DESCRIPTIONS_FILE).items()
    }
    return GatewayBundle(desired, upstreams, descriptions)


def _json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    found = json.loads(path.read_text(encoding="utf-8") or "{}")
    return found if isinstance(found, dict) else {}
