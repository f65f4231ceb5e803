"""What the operator puts in a cluster, without a cluster: the pure functions from resources
to Kubernetes objects, table-tested, and every object (rendered or in `manifests/`) checked
against the Kubernetes OpenAPI schemas.

The schemas come from `kubernetes-validate`, which ships the JSON schemas of every
Kubernetes minor version (generated from the API server's OpenAPI document) inside the
package: offline, exact, and in "strict" form, where an unknown field is an error (a
misspelt `readOnlyRootFileSystem` would otherwise be silently dropped by the API server).
The `kubernetes` client's models were the alternative; they accept unknown fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kube_schemas

from reconciler.core.desired import DesiredState
from reconciler.core.errors import InvalidInput
from reconciler.core.models import MCPServer, MCPSuite, ToolPermission
from reconciler.core.spec_changes import runtime_hash
from reconciler.operator import ManifestSettings, Owner, read_bundle, render_gateway
from reconciler.operator.bodies import parse_body
from reconciler.operator.drift import merge_patch, object_drift
from reconciler.operator.manifests import (
    discovery_url,
    render_server,
    replicas_for,
    unsupported,
)
from reconciler.operator.naming import server_object_name
from reconciler.operator.observed import applied_hashes, observed_from_deployment
from reconciler.operator.settings import DEFAULT_DISCOVERY_URL
from reconciler.operator.status import Outcome, status_changes, status_for

ROOT = Path(__file__).parent.parent
MANIFESTS = ROOT / "manifests"
KUBERNETES_VERSIONS = ("1.28", "1.37")
SETTINGS = ManifestSettings()
OWNER = Owner("srv", "4b8a3f0e-0000-4000-8000-000000000001")


def server(spec: dict[str, Any], **metadata: Any) -> MCPServer:
    return MCPServer.model_validate(
        {"metadata": {"name": "srv", **metadata}, "spec": spec}, by_alias=True
    )


STDIO = {"transport": "stdio", "command": "mcp-server-time", "args": ["--local-timezone", "UTC"]}
HTTP_IMAGE = {"transport": "streamable-http", "image": "ghcr.io/acme/mcp:1", "port": 3001}
SSE_IMAGE = {"transport": "sse", "image": "ghcr.io/acme/legacy:1", "port": 9000}
REMOTE = {"transport": "streamable-http", "url": "https://mcp.example.com/mcp"}


def container(objects: Any) -> dict[str, Any]:
    return dict(objects.deployment["spec"]["template"]["spec"]["containers"][0])


# -- servers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "image", "command", "args", "port"),
    [
        (
            STDIO,
            SETTINGS.image,
            ["mcp-reconciler", "bridge", "--listen", "0.0.0.0:8080", "--"],
            ["mcp-server-time", "--local-timezone", "UTC"],
            8080,
        ),
        (
            {**STDIO, "image": "ghcr.io/acme/time:2"},
            "ghcr.io/acme/time:2",
            ["mcp-reconciler", "bridge", "--listen", "0.0.0.0:8080", "--"],
            ["mcp-server-time", "--local-timezone", "UTC"],
            8080,
        ),
        (HTTP_IMAGE, "ghcr.io/acme/mcp:1", None, None, 3001),
        ({**HTTP_IMAGE, "args": ["--verbose"]}, "ghcr.io/acme/mcp:1", None, ["--verbose"], 3001),
        (SSE_IMAGE, "ghcr.io/acme/legacy:1", None, None, 9000),
    ],
    ids=["stdio-default-image", "stdio-own-image", "http-image", "http-args", "sse-image"],
)
def test_server_container_runs_http_images_directly_and_stdio_behind_the_bridge(
    spec: dict[str, Any], image: str, command: list[str] | None, args: list[str] | None, port: int
) -> None:
    objects = render_server(server(spec), owner=OWNER, run=True, settings=SETTINGS)
    found = container(objects)
    assert found["image"] == image
    assert found.get("command") == command
    assert found.get("args") == args
    assert found["ports"] == [{"name": "mcp", "containerPort": port, "protocol": "TCP"}]
    assert objects.service["spec"]["ports"][0]["port"] == port
    assert found["readinessProbe"]["tcpSocket"] == {"port": "mcp"}


def test_every_owned_object_has_the_owner_reference_and_the_server_labels() -> None:
    objects = render_server(server(STDIO), owner=OWNER, run=True, settings=SETTINGS)
    for obj in objects.all():
        assert obj["metadata"]["name"] == "mcp-server-srv"
        assert obj["metadata"]["namespace"] == "default"
        assert obj["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "mcp.reconciler.dev/v1alpha1",
                "kind": "MCPServer",
                "name": "srv",
                "uid": OWNER.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert obj["metadata"]["labels"]["mcp.reconciler.dev/server"] == "srv"
    selector = objects.deployment["spec"]["selector"]["matchLabels"]
    assert objects.service["spec"]["selector"] == selector
    template_labels = objects.deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= template_labels.items()


def test_pods_are_non_root_read_only_and_without_privilege_escalation() -> None:
    objects = render_server(server(HTTP_IMAGE), owner=OWNER, run=True, settings=SETTINGS)
    pod = objects.deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container(objects)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container(objects)["volumeMounts"]


SANDBOX = {"filesystem": {"readOnly": ["/srv/data"], "readWrite": ["/srv/out"]}, "network": "none"}


def test_a_sandbox_becomes_volumes_seccomp_and_a_network_policy_denying_egress() -> None:
    objects = render_server(
        server({**STDIO, "sandbox": SANDBOX}), owner=OWNER, run=True, settings=SETTINGS
    )
    pod = objects.deployment["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in container(objects)["volumeMounts"]}
    assert mounts["/srv/data"]["readOnly"] is True
    assert mounts["/srv/out"]["readOnly"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/srv/data"]["name"]]["hostPath"] == {
        "path": "/srv/data",
        "type": "Directory",
    }
    assert volumes[mounts["/srv/out"]["name"]]["hostPath"]["path"] == "/srv/out"
    assert container(objects)["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container(objects)["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["hostNetwork"] is False
    assert pod["hostPID"] is False
    policy = objects.network_policy
    assert policy is not None
    assert policy in objects.all()
    assert policy["kind"] == "NetworkPolicy"
    assert policy["spec"]["policyTypes"] == ["Egress"]
    assert policy["spec"]["egress"] == []
    assert policy["spec"]["podSelector"]["matchLabels"] == objects.service["spec"]["selector"]
    assert policy["metadata"]["ownerReferences"] == [OWNER.reference()]


def test_without_sandbox_or_with_host_network_no_network_policy_is_rendered() -> None:
    for spec in (STDIO, {**STDIO, "sandbox": {**SANDBOX, "network": "host"}}):
        objects = render_server(server(spec), owner=OWNER, run=True, settings=SETTINGS)
        assert objects.network_policy is None
        assert [o["kind"] for o in objects.all()] == ["ConfigMap", "Deployment", "Service"]


def test_literal_env_goes_to_the_configmap_and_secrets_stay_references() -> None:
    spec = {
        **STDIO,
        "env": [
            {"name": "TZ", "value": "UTC"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        ],
    }
    objects = render_server(server(spec), owner=OWNER, run=True, settings=SETTINGS)
    assert objects.config_map["data"] == {"TZ": "UTC"}
    env = {e["name"]: e for e in container(objects)["env"]}
    assert env["TZ"]["valueFrom"] == {"configMapKeyRef": {"name": "mcp-server-srv", "key": "TZ"}}
    assert env["TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "creds", "key": "token"}}
    assert env["HOME"] == {"name": "HOME", "value": "/tmp"}


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            {**STDIO, "env": [{"name": "KEY", "valueFrom": {"env": "HOST_KEY"}}]},
            "spec.env.0.valueFrom.env",
        ),
        ({"transport": "stdio", "image": "ghcr.io/acme/time:2"}, "spec.command"),
    ],
    ids=["env-from-operator", "stdio-image-without-command"],
)
def test_declarations_only_standalone_can_run_are_refused_with_the_field(
    spec: dict[str, Any], fragment: str
) -> None:
    declared = server(spec)
    assert fragment in (unsupported(declared) or "")
    with pytest.raises(InvalidInput) as caught:
        render_server(declared, owner=OWNER, run=True, settings=SETTINGS)
    assert caught.value.reason == "UnsupportedInCluster"


@pytest.mark.parametrize(
    ("run", "declared", "live", "expected"),
    [
        (False, None, 3, 0),  # stopped: scaled to zero
        (False, 4, None, 0),
        (True, None, None, 1),  # new Deployment
        (True, None, 0, 1),  # started again
        (True, None, 5, None),  # an autoscaler (or kubectl scale) owns it
        (True, 2, 5, 2),  # declared: enforced
        (True, 0, 1, 0),
    ],
)
def test_replicas_are_left_to_the_autoscaler_unless_declared_or_stopped(
    run: bool, declared: int | None, live: int | None, expected: int | None
) -> None:
    spec = {**STDIO, **({"replicas": declared} if declared is not None else {})}
    assert replicas_for(server(spec), run=run, live_replicas=live) == expected
    objects = render_server(
        server(spec), owner=OWNER, run=run, settings=SETTINGS, live_replicas=live
    )
    assert objects.deployment["spec"].get("replicas") == expected


def test_declared_resources_replace_the_default_requests() -> None:
    plain = render_server(server(STDIO), owner=OWNER, run=True, settings=SETTINGS)
    assert container(plain)["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"}}
    sized = {**STDIO, "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "1"}}}
    objects = render_server(server(sized), owner=OWNER, run=True, settings=SETTINGS)
    assert container(objects)["resources"] == {
        "requests": {"cpu": "1"},
        "limits": {"memory": "256Mi"},
    }


def test_only_runtime_changes_change_the_pod_template() -> None:
    base = render_server(
        server(STDIO, labels={"team": "a"}), owner=OWNER, run=True, settings=SETTINGS
    )
    relabelled = render_server(
        server(STDIO, labels={"team": "b"}), owner=OWNER, run=True, settings=SETTINGS
    )
    retooled = render_server(
        server({**STDIO, "tools": {"exclude": ["convert_*"]}}),
        owner=OWNER,
        run=True,
        settings=SETTINGS,
    )
    new_args = render_server(
        server({**STDIO, "args": ["--local-timezone", "Europe/Paris"]}),
        owner=OWNER,
        run=True,
        settings=SETTINGS,
    )
    template = base.deployment["spec"]["template"]
    assert relabelled.deployment["spec"]["template"] == template
    assert retooled.deployment["spec"]["template"] == template
    assert new_args.deployment["spec"]["template"] != template
    spec_hash = "mcp.reconciler.dev/spec-hash"
    assert (
        retooled.deployment["metadata"]["annotations"][spec_hash]
        != (base.deployment["metadata"]["annotations"][spec_hash])
    )


def test_a_new_literal_env_value_rolls_the_pods_through_the_config_hash() -> None:
    first = render_server(
        server({**STDIO, "env": [{"name": "TZ", "value": "UTC"}]}),
        owner=OWNER,
        run=True,
        settings=SETTINGS,
    )
    second = render_server(
        server({**STDIO, "env": [{"name": "TZ", "value": "CET"}]}),
        owner=OWNER,
        run=True,
        settings=SETTINGS,
    )
    key = "mcp.reconciler.dev/config-hash"
    annotations = [
        objects.deployment["spec"]["template"]["metadata"]["annotations"][key]
        for objects in (first, second)
    ]
    assert annotations[0] != annotations[1]


@pytest.mark.parametrize(
    ("spec", "annotations", "url"),
    [
        (STDIO, {}, "http://mcp-server-srv.default.svc:8080/mcp"),
        (HTTP_IMAGE, {}, "http://mcp-server-srv.default.svc:3001/mcp"),
        (SSE_IMAGE, {}, "http://mcp-server-srv.default.svc:9000/sse"),
        (
            HTTP_IMAGE,
            {"mcp.reconciler.dev/path": "v1/rpc"},
            "http://mcp-server-srv.default.svc:3001/v1/rpc",
        ),
        (REMOTE, {}, "https://mcp.example.com/mcp"),
    ],
)
def test_servers_are_reached_through_their_service_or_their_own_url(
    spec: dict[str, Any], annotations: dict[str, str], url: str
) -> None:
    declared = server(spec, annotations=annotations)
    assert discovery_url(declared, template=DEFAULT_DISCOVERY_URL, settings=SETTINGS) == url


def test_long_server_names_give_valid_object_names() -> None:
    name = "a" * 63
    assert len(server_object_name(name)) == 63
    assert server_object_name(name) != server_object_name("a" * 62 + "b")
    assert server_object_name("time") == "mcp-server-time"


# -- drift ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("live_change", "drifted"),
    [
        ({}, []),
        ({"status": {"readyReplicas": 1}}, []),  # added by the API server
        ({"spec": {"progressDeadlineSeconds": 600}}, []),  # defaulted by the API server
        (
            {
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}
                    }
                }
            },
            [],
        ),  # kubectl rollout restart
        (
            {"metadata": {"labels": {"mcp.reconciler.dev/server": "other"}}},
            ["metadata.labels.mcp.reconciler.dev/server"],
        ),
        ({"spec": {"revisionHistoryLimit": 10}}, ["spec.revisionHistoryLimit"]),
    ],
    ids=["same", "status", "defaults", "rollout-restart", "label", "field"],
)
def test_drift_is_what_the_manifest_sets_and_nothing_else(
    live_change: dict[str, Any], drifted: list[str]
) -> None:
    desired = render_server(server(STDIO), owner=OWNER, run=True, settings=SETTINGS).deployment
    live = _merged(json.loads(json.dumps(desired)), live_change)
    assert object_drift(desired, live) == drifted


def _merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merged(base[key], value)
        else:
            base[key] = value
    return base


def test_a_replaced_container_is_drift_and_the_patch_restores_it() -> None:
    desired = render_server(server(STDIO), owner=OWNER, run=True, settings=SETTINGS).deployment
    live = json.loads(json.dumps(desired))
    live["spec"]["template"]["spec"]["containers"] = [{"name": "server", "image": "evil"}]
    assert "spec.template.spec.containers.0.image" in object_drift(desired, live)
    patch = merge_patch(desired, live)
    assert (
        patch["spec"]["template"]["spec"]["containers"]
        == (desired["spec"]["template"]["spec"]["containers"])
    )


def test_configmap_keys_no_longer_declared_are_removed() -> None:
    desired = render_server(
        server({**STDIO, "env": [{"name": "A", "value": "1"}]}),
        owner=OWNER,
        run=True,
        settings=SETTINGS,
    ).config_map
    live = json.loads(json.dumps(desired))
    live["data"]["OLD"] = "x"
    assert object_drift(desired, live) == ["data.OLD"]
    assert merge_patch(desired, live)["data"] == {"OLD": None, "A": "1"}


# -- observed state and status -------------------------------------------------------------


def test_a_deployment_reports_the_hashes_it_was_made_from() -> None:
    declared = server(STDIO)
    objects = render_server(declared, owner=OWNER, run=True, settings=SETTINGS)
    seen = observed_from_deployment(objects.deployment)
    assert seen.runtime_hash == runtime_hash(declared)
    assert seen.running is True
    stopped = render_server(declared, owner=OWNER, run=False, settings=SETTINGS)
    assert observed_from_deployment(stopped.deployment).running is False


def test_status_keeps_transition_times_and_unchanged_status_is_not_written() -> None:
    first = status_for({}, Outcome("Starting", "Starting", reconciling=True), generation=1)
    again = status_for(first, Outcome("Starting", "Starting", reconciling=True), generation=1)
    assert status_changes(first, again) == {}
    ready = status_for(first, Outcome.ready_now("Succeeded", "3 tools"), generation=1)
    changes = status_changes(first, ready)
    assert set(changes) == {"phase", "message", "conditions"}
    stalled = {c["type"]: c for c in ready["conditions"]}["Stalled"]
    assert (
        stalled["lastTransitionTime"]
        == {c["type"]: c for c in first["conditions"]}["Stalled"]["lastTransitionTime"]
    )


def test_invalid_body_gets_the_validate_message_and_kopf_annotations_are_ignored() -> None:
    body = {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {
            "name": "srv",
            "namespace": "default",
            "uid": "x",
            "finalizers": ["mcp.reconciler.dev/finalizer"],
            "annotations": {
                "operator.mcp.reconciler.dev/last-handled-configuration": "{}",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": {"transport": "stdio", "command": "x", "healthCheck": {"intervalSeconds": -1}},
        "status": {"phase": "Ready"},
    }
    parsed = parse_body(body)
    assert parsed.resource is None
    assert parsed.message.startswith("spec.healthCheck.intervalSeconds: ")
    body["spec"]["healthCheck"] = {"intervalSeconds": 5}
    valid = parse_body(body)
    assert isinstance(valid.resource, MCPServer)
    assert valid.resource.metadata.annotations == {}


# -- the gateway ---------------------------------------------------------------------------


def gateway_state() -> DesiredState:
    return DesiredState.of(
        [
            server(STDIO, labels={"team": "platform"}),
            MCPServer.model_validate(
                {
                    "metadata": {"name": "remote"},
                    "spec": {
                        **REMOTE,
                        "headers": [
                            {
                                "name": "Authorization",
                                "valueFrom": {"secretKeyRef": {"name": "remote-auth", "key": "h"}},
                            }
                        ],
                    },
                },
                by_alias=True,
            ),
            MCPSuite.model_validate(
                {
                    "metadata": {"name": "dev"},
                    "spec": {
                        "selector": {"matchLabels": {"team": "platform"}},
                        "servers": [{"name": "remote"}],
                    },
                },
                by_alias=True,
            ),
            ToolPermission.model_validate(
                {
                    "metadata": {"name": "bot"},
                    "spec": {
                        "suites": ["dev"],
                        "subjects": [
                            {
                                "name": "bot",
                                "tokenFrom": {"secretKeyRef": {"name": "tokens", "key": "bot"}},
                            }
                        ],
                        "rules": [{"action": "allow", "tools": ["srv.*"]}],
                    },
                },
                by_alias=True,
            ),
        ]
    )


def render_test_gateway() -> Any:
    return render_gateway(
        "default",
        gateway_state(),
        owners=[Owner("dev", "4b8a3f0e-0000-4000-8000-000000000002", kind="MCPSuite")],
        applied={"MCPSuite/dev": "abc", "ToolPermission/bot": "def"},
        settings=SETTINGS,
        descriptions={"srv": {"get_current_time": "Current time."}},
    )


def test_gateway_mounts_referenced_secrets_and_never_holds_a_token() -> None:
    objects = render_test_gateway()
    pod = objects.deployment["spec"]["template"]["spec"]
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"tokens", "remote-auth"}
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert "/var/run/secrets/mcp-reconciler/tokens" in mounts
    assert pod["containers"][0]["command"][:2] == ["mcp-reconciler", "gateway"]
    assert applied_hashes(objects.config_map) == {
        "MCPSuite/dev": "abc",
        "ToolPermission/bot": "def",
    }
    assert objects.config_map["metadata"]["ownerReferences"][0]["controller"] is False


def test_gateway_gets_the_public_url_and_mounts_oauth_client_secrets() -> None:
    vendor = MCPServer.model_validate(
        {
            "metadata": {"name": "vendor"},
            "spec": {
                **REMOTE,
                "auth": {
                    "oauth2": {
                        "tokenUrl": "https://idp.example.com/token",
                        "clientId": "reconciler",
                        "clientSecret": {"secretKeyRef": {"name": "vendor-oauth", "key": "s"}},
                    }
                },
            },
        },
        by_alias=True,
    )
    objects = render_gateway(
        "team-a",
        DesiredState.of([*gateway_state(), vendor]),
        owners=[Owner("dev", "4b8a3f0e-0000-4000-8000-000000000002", kind="MCPSuite")],
        applied={},
        settings=ManifestSettings(gateway_public_url="https://mcp.example.com/{namespace}"),
        descriptions={},
    )
    pod = objects.deployment["spec"]["template"]["spec"]
    assert "vendor-oauth" in {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    command = pod["containers"][0]["command"]
    assert command[command.index("--public-url") + 1] == "https://mcp.example.com/team-a"


def test_gateway_bundle_reads_back_as_the_same_desired_state(tmp_path: Path) -> None:
    objects = render_test_gateway()
    for name, text in objects.config_map["data"].items():
        (tmp_path / name).write_text(text)
    bundle = read_bundle(tmp_path)
    assert set(bundle.desired.resources) == set(gateway_state().resources)
    for key, resource in gateway_state().resources.items():
        assert bundle.desired.resources[key] == resource
    assert bundle.upstreams["srv"].url == "http://mcp-server-srv.default.svc:8080/mcp"
    assert bundle.upstreams["srv"].transport == "streamable-http"
    assert (
        bundle.upstreams["remote"].headers[0]["valueFrom"]["secretKeyRef"]["name"] == "remote-auth"
    )
    assert bundle.descriptions == {"srv": {"get_current_time": "Current time."}}


# -- everything validates against the Kubernetes schemas ------------------------------------


def rendered_objects() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    variants = [
        STDIO,
        {
            **STDIO,
            "env": [
                {"name": "A", "value": "1"},
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            ],
        },
        {
            **HTTP_IMAGE,
            "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}},
            "replicas": 3,
        },
        {**SSE_IMAGE, "workingDir": "/srv"},
        {**STDIO, "sandbox": SANDBOX},
        {**HTTP_IMAGE, "sandbox": {**SANDBOX, "network": "host"}},
    ]
    for spec in variants:
        for run in (True, False):
            found.extend(render_server(server(spec), owner=OWNER, run=run, settings=SETTINGS).all())
    found.extend(render_test_gateway().all())
    return found


def manifest_files() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") != "Kustomization":
                found.append((str(path.relative_to(ROOT)), document))
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_the_operator_renders_validates_against_the_kubernetes_schemas(
    version: str,
) -> None:
    for obj in rendered_objects():
        kube_schemas.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_file_in_manifests_validates_against_the_kubernetes_schemas(version: str) -> None:
    crds = {
        (doc["spec"]["group"], doc["spec"]["names"]["kind"]): doc
        for _, doc in manifest_files()
        if doc["kind"] == "CustomResourceDefinition"
    }
    checked = 0
    for where, document in manifest_files():
        group = document["apiVersion"].partition("/")[0]
        crd = crds.get((group, document["kind"]))
        if crd is not None:  # a custom resource: its own CRD's schema
            schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            jsonschema.validate(document, schema)
        else:
            try:
                kube_schemas.validate(document, version, strict=True)
            except kube_schemas.ValidationError as exc:
                raise AssertionError(f"{where}: {list(exc.path)}: {exc.message}") from None
        checked += 1
    assert checked >= 15


def test_manifest_crds_are_the_generated_ones() -> None:
    for generated in sorted((ROOT / "crds").glob("*.yaml")):
        copy = MANIFESTS / "crds" / generated.name
        assert copy.exists(), f"copy {generated} to {copy}"
        assert copy.read_text() == generated.read_text(), f"stale: cp {generated} {copy}"


def test_every_kustomization_lists_files_that_exist() -> None:
    for kustomization in MANIFESTS.rglob("kustomization.yaml"):
        for entry in yaml.safe_load(kustomization.read_text())["resources"]:
            assert (kustomization.parent / entry).exists(), f"{kustomization}: {entry}"


def test_the_operator_deployment_runs_as_the_rbac_service_account() -> None:
    for variant in ("cluster", "namespaced"):
        documents = {
            doc["kind"]: doc for where, doc in manifest_files() if f"manifests/{variant}/" in where
        }
        deployment = documents["Deployment"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == documents["ServiceAccount"]["metadata"]["name"]
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        args = pod["containers"][0]["args"]
        assert ("--all-namespaces" in args) == (variant == "cluster")
