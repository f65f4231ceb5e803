"""The real kopf operator against the kmock Kubernetes API emulator.

Each test starts an emulated cluster and the operator exactly as `mcp-reconciler operator`
runs it (logged in from a kubeconfig), applies custom resources over HTTP as `kubectl
apply` would, and waits for what a user would look at: owned objects, status, Events.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reconciler.cli.app import app
from reconciler.core.models import KINDS
from reconciler.core.planning import plan
from reconciler.loading.loader import load_documents
from reconciler.operator import OperatorSettings, cluster_observed
from tests.conftest import node_server
from tests.kube_emulator import EmulatedCluster, emulated_cluster, eventually, running_operator
from tests.polling import wait_for

pytestmark = pytest.mark.slow

SERVERS = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: time, labels: {team: platform}}
spec:
  transport: stdio
  command: mcp-server-time
  args: ["--local-timezone", "UTC"]
  env:
    - {name: TZ, value: UTC}
    - name: API_TOKEN
      valueFrom: {secretKeyRef: {name: time-secrets, key: token}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: fetch, labels: {team: platform}}
spec:
  transport: stdio
  command: mcp-server-fetch
"""

SUITE = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec:
  selector: {matchLabels: {team: platform}}
"""

PERMISSION = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: ci-bot}
spec:
  suites: [dev]
  subjects:
    - name: ci-bot
      tokenFrom: {secretKeyRef: {name: gateway-tokens, key: ci-bot}}
  rules:
    - {action: allow, tools: ["time.*"]}
"""


def settings_for(cluster: EmulatedCluster, **overrides: Any) -> OperatorSettings:
    values: dict[str, Any] = {
        "all_namespaces": True,
        "standalone": True,
        "kubeconfig": cluster.kubeconfig,
        "health_interval": 0.3,
        "drift_interval": 0.5,
        "namespace_debounce": 0.05,
        "discovery_timeout": 2.0,
        "discovery_url": "http://127.0.0.1:9/{name}",  # nothing listens: servers stay Starting
        "state_dir": cluster.kubeconfig.parent / "operator-state",
    }
    values.update(overrides)
    return OperatorSettings(**values)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmulatedCluster]:
    async with emulated_cluster(tmp_path) as found:
        yield found


def status(cluster: EmulatedCluster, kind: str, name: str, namespace: str = "default") -> Any:
    obj = cluster.get(kind, namespace, name)
    return (obj or {}).get("status") or {}


def condition(obj_status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in obj_status.get("conditions") or [] if c["type"] == type_), {})


async def test_created_server_gets_configmap_deployment_and_service_owned_by_it(
    cluster: EmulatedCluster,
) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS)
        server = await eventually(lambda: cluster.get("MCPServer", "default", "time"))
        for kind in ("ConfigMap", "Deployment", "Service"):
            obj = await eventually(
                lambda kind=kind: cluster.get(kind, "default", "mcp-server-time")
            )
            (owner,) = obj["metadata"]["ownerReferences"]
            assert owner["kind"] == "MCPServer"
            assert owner["name"] == "time"
            assert owner["uid"] == server["metadata"]["uid"]
            assert owner["controller"] is True
        deployment = cluster.get("Deployment", "default", "mcp-server-time")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["mcp-server-time", "--local-timezone", "UTC"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e.get("valueFrom") for e in container["env"]}
        assert env["API_TOKEN"] == {"secretKeyRef": {"name": "time-secrets", "key": "token"}}
        assert env["TZ"] == {"configMapKeyRef": {"name": "mcp-server-time", "key": "TZ"}}
        assert cluster.get("ConfigMap", "default", "mcp-server-time")["data"] == {"TZ": "UTC"}
        assert (
            "mcp.reconciler.dev/finalizer"
            in cluster.get("MCPServer", "default", "time")["metadata"]["finalizers"]
        )


async def test_spec_change_updates_only_that_servers_objects(cluster: EmulatedCluster) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS)
        owned = [
            (kind, name)
            for kind in ("ConfigMap", "Deployment", "Service")
            for name in ("mcp-server-time", "mcp-server-fetch")
        ]
        await eventually(lambda: all(cluster.get(k, "default", n) for k, n in owned))
        await eventually(lambda: "Created" in cluster.reasons("fetch"))
        await eventually(lambda: "Created" in cluster.reasons("time"))
        before = {
            (kind, name): cluster.get(kind, "default", name)["metadata"]["resourceVersion"]
            for kind in ("ConfigMap", "Deployment", "Service")
            for name in ("mcp-server-time", "mcp-server-fetch")
        }
        await cluster.patch(
            "MCPServer", "default", "time", {"spec": {"args": ["--local-timezone", "Europe/Paris"]}}
        )

        def restarted() -> bool:
            deployment = cluster.get("Deployment", "default", "mcp-server-time")
            args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
            return args[-1] == "Europe/Paris"

        await eventually(restarted)
        await eventually(lambda: "Restarted" in cluster.reasons("time"))
        for kind in ("ConfigMap", "Deployment", "Service"):
            current = cluster.get(kind, "default", "mcp-server-fetch")["metadata"][
                "resourceVersion"
            ]
            assert current == before[(kind, "mcp-server-fetch")], f"{kind} of fetch was touched"
        assert "Restarted" not in cluster.reasons("fetch")


async def test_deleting_a_server_removes_its_objects_and_releases_the_finalizer(
    cluster: EmulatedCluster,
) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS)
        await eventually(lambda: cluster.get("Service", "default", "mcp-server-time"))
        await cluster.delete("MCPServer", "default", "time")
        await eventually(lambda: cluster.get("MCPServer", "default", "time") is None)
        for kind in ("ConfigMap", "Deployment", "Service"):
            assert cluster.get(kind, "default", "mcp-server-time") is None
            assert cluster.get(kind, "default", "mcp-server-fetch") is not None
        assert "Deleted" in cluster.reasons("time")


SANDBOXED = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: files}
spec:
  transport: stdio
  command: mcp-server-filesystem
  args: ["/srv/data"]
  sandbox:
    filesystem: {readOnly: ["/srv/data"]}
    network: none
"""


async def test_a_sandboxed_server_gets_a_network_policy_that_goes_when_the_network_opens(
    cluster: EmulatedCluster,
) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SANDBOXED)
        policy = await eventually(
            lambda: cluster.get("NetworkPolicy", "default", "mcp-server-files")
        )
        assert policy["spec"]["policyTypes"] == ["Egress"]
        assert policy["spec"]["egress"] == []
        deployment = cluster.get("Deployment", "default", "mcp-server-files")
        mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert {"name": "sandbox-0", "mountPath": "/srv/data", "readOnly": True} in mounts
        await cluster.patch(
            "MCPServer", "default", "files", {"spec": {"sandbox": {"network": "host"}}}
        )
        await eventually(
            lambda: cluster.get("NetworkPolicy", "default", "mcp-server-files") is None
        )
        await cluster.delete("MCPServer", "default", "files")
        await eventually(lambda: cluster.get("Deployment", "default", "mcp-server-files") is None)


INVALID = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: broken}
spec:
  transport: stdio
  command: mcp-server-time
  url: http://127.0.0.1:1/mcp
  healthCheck: {intervalSeconds: 0}
"""


async def test_invalid_server_is_stalled_with_the_message_validate_gives(
    cluster: EmulatedCluster, tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(INVALID)
    printed = CliRunner().invoke(app, ["validate", str(path)])
    assert printed.exit_code == 1
    lines = [line for line in printed.stderr.splitlines() if "MCPServer/broken" in line]
    expected = "; ".join(line.split("MCPServer/broken: ", 1)[1] for line in lines)
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(INVALID)
        stalled = await eventually(
            lambda: (
                condition(status(cluster, "MCPServer", "broken"), "Stalled").get("status") == "True"
            )
        )
        assert stalled
        found = status(cluster, "MCPServer", "broken")
        assert found["message"] == expected
        assert condition(found, "Stalled")["message"] == expected
        assert condition(found, "Stalled")["reason"] == "ValidationFailed"
        assert condition(found, "Ready")["status"] == "False"
        assert cluster.get("Deployment", "default", "mcp-server-broken") is None
        warning = await eventually(
            lambda: [e for e in cluster.events("broken") if e["reason"] == "ValidationFailed"]
        )
        assert warning[0]["type"] == "Warning"


async def test_conditions_follow_the_generation_and_every_action_posts_an_event(
    cluster: EmulatedCluster,
) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS)
        await eventually(
            lambda: status(cluster, "MCPServer", "time").get("observedGeneration") == 1
        )
        first = status(cluster, "MCPServer", "time")
        assert first["phase"] == "Starting"
        assert condition(first, "Reconciling")["status"] == "True"
        assert condition(first, "Ready")["observedGeneration"] == 1
        await cluster.patch("MCPServer", "default", "time", {"spec": {"enabled": False}})
        await eventually(
            lambda: status(cluster, "MCPServer", "time").get("observedGeneration") == 2
        )
        second = status(cluster, "MCPServer", "time")
        assert second["phase"] == "Disabled"
        assert {c["observedGeneration"] for c in second["conditions"]} == {2}
        await eventually(lambda: cluster.reasons("time")[-1:] == ["Stopped"])
        deployment = cluster.get("Deployment", "default", "mcp-server-time")
        assert deployment["spec"]["replicas"] == 0
        assert cluster.reasons("time") == ["Created", "Stopped"]


def deployment_reads(cluster: EmulatedCluster) -> int:
    return sum(
        1
        for r in cluster.emulator.seen
        if r.method == "GET" and r.resource is not None and r.resource.plural == "deployments"
    )


def gateway_resources(cluster: EmulatedCluster) -> str:
    config_map = cluster.get("ConfigMap", "default", "mcp-gateway") or {}
    return str((config_map.get("data") or {}).get("resources.yaml", ""))


def _with_volume(deployment: dict[str, Any] | None, volume: str) -> dict[str, Any] | None:
    """The Deployment once its pod template mounts `volume`; None before."""
    if deployment is None:
        return None
    volumes = deployment["spec"]["template"]["spec"].get("volumes") or []
    return deployment if any(v["name"] == volume for v in volumes) else None


async def test_permission_change_regenerates_the_gateway_configuration(
    cluster: EmulatedCluster,
) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS + "---" + SUITE + "---" + PERMISSION)
        await eventually(lambda: "time.*" in gateway_resources(cluster))
        # the ConfigMap and the Deployment are written one after the other
        deployment = await eventually(
            lambda: _with_volume(
                cluster.get("Deployment", "default", "mcp-gateway"), "secret-gateway-tokens"
            )
        )
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["secret-gateway-tokens"]["secret"]["secretName"] == "gateway-tokens"
        hash_before = deployment["spec"]["template"]["metadata"]["annotations"]
        applied = json.loads(
            cluster.get("ConfigMap", "default", "mcp-gateway")["metadata"]["annotations"][
                "mcp.reconciler.dev/applied"
            ]
        )
        assert set(applied) == {"MCPSuite/dev", "ToolPermission/ci-bot"}
        rules = {"rules": [{"action": "allow", "tools": ["time.*", "fetch.fetch"]}]}
        await cluster.patch("ToolPermission", "default", "ci-bot", {"spec": rules})
        await eventually(lambda: "fetch.fetch" in gateway_resources(cluster))
        await eventually(
            lambda: (
                cluster.get("Deployment", "default", "mcp-gateway")["spec"]["template"]["metadata"][
                    "annotations"
                ]
                != hash_before
            )
        )
        await eventually(lambda: "Updated" in cluster.reasons("ci-bot"))
        suite = status(cluster, "MCPSuite", "dev")
        assert suite["servers"] == ["fetch", "time"]
        assert suite["endpoint"] == "http://mcp-gateway.default.svc:8765/suites/dev/mcp"
        assert condition(status(cluster, "ToolPermission", "ci-bot"), "Ready")["status"] == "True"
        for obj in cluster.all("ConfigMap", "default"):
            assert "not-a-token" not in json.dumps(obj)


async def test_invalid_permission_keeps_the_last_good_gateway(cluster: EmulatedCluster) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS + "---" + SUITE + "---" + PERMISSION)
        await eventually(lambda: "time.*" in gateway_resources(cluster))
        good = gateway_resources(cluster)
        await cluster.patch("ToolPermission", "default", "ci-bot", {"spec": {"suites": ["nope"]}})
        await eventually(
            lambda: status(cluster, "ToolPermission", "ci-bot").get("phase") == "Stalled"
        )
        found = status(cluster, "ToolPermission", "ci-bot")
        assert condition(found, "Stalled")["reason"] == "InvalidReference"
        assert "nope" in found["message"]
        await eventually(lambda: "GatewayNotUpdated" in cluster.reasons("dev"))
        assert gateway_resources(cluster) == good


async def test_drift_is_corrected_but_rollout_restart_and_scaling_are_left_alone(
    cluster: EmulatedCluster,
) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS)
        await eventually(lambda: cluster.get("Deployment", "default", "mcp-server-time"))
        await eventually(lambda: "Created" in cluster.reasons("time"))
        restarted = {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
        await cluster.patch(
            "Deployment",
            "default",
            "mcp-server-time",
            {
                "spec": {
                    "replicas": 3,  # kubectl scale / an autoscaler
                    "template": {
                        "metadata": {"annotations": restarted},
                        "spec": {"containers": [{"name": "server", "image": "evil:latest"}]},
                    },
                }
            },
        )

        def corrected() -> bool:
            deployment = cluster.get("Deployment", "default", "mcp-server-time")
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            return container["image"] != "evil:latest" and "args" in container

        await eventually(corrected)
        deployment = cluster.get("Deployment", "default", "mcp-server-time")
        assert deployment["spec"]["replicas"] == 3
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["kubectl.kubernetes.io/restartedAt"] == "2026-01-01T00:00:00Z"
        await eventually(lambda: "DriftCorrected" in cluster.reasons("time"))


async def test_operator_for_one_namespace_leaves_others_alone(cluster: EmulatedCluster) -> None:
    settings = settings_for(cluster, all_namespaces=False, namespaces=("team-a",))
    async with running_operator(cluster, settings):
        await cluster.apply_yaml(SERVERS, namespace="team-b")
        await cluster.apply_yaml(SERVERS, namespace="team-a")
        await eventually(lambda: cluster.get("Deployment", "team-a", "mcp-server-time"))
        await eventually(lambda: status(cluster, "MCPServer", "fetch", "team-a").get("phase"))
        assert cluster.get("Deployment", "team-b", "mcp-server-time") is None
        assert status(cluster, "MCPServer", "time", "team-b") == {}


async def test_restarted_operator_changes_nothing_and_diff_sees_no_change(
    cluster: EmulatedCluster,
) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS + "---" + SUITE + "---" + PERMISSION)
        await eventually(lambda: "time.*" in gateway_resources(cluster))
        await eventually(lambda: status(cluster, "MCPServer", "fetch").get("phase"))
        await eventually(lambda: status(cluster, "MCPSuite", "dev").get("phase"))
    versions = {
        (obj["kind"], obj["metadata"]["name"]): obj["metadata"]["resourceVersion"]
        for kind in ("Deployment", "Service", "ConfigMap")
        for obj in cluster.all(kind, "default")
    }
    events = len(cluster.all("Event", "default"))
    desired, observed = await asyncio.to_thread(
        cluster_observed, "default", kubeconfig=cluster.kubeconfig
    )
    assert {key.kind for key in desired.resources} == {"MCPServer", "MCPSuite", "ToolPermission"}
    assert plan(desired, observed).is_noop
    changed = load_documents([("pr.yaml", SERVERS.replace('"UTC"]', '"Europe/Paris"]'))])
    assert changed.state is not None
    actions = {str(a.key): a.kind.value for a in plan(changed.state, observed).changes}
    assert actions["MCPServer/time"] == "restart"
    assert "MCPServer/fetch" not in actions
    reads = deployment_reads(cluster)
    async with running_operator(cluster, settings_for(cluster, drift_interval=60)) as operator:
        await eventually(
            lambda: (
                deployment_reads(cluster) - reads >= 2  # both servers re-planned
                and operator.namespaces.reconciles >= 1
                and operator.namespaces.idle()
            )
        )
    after = {
        (obj["kind"], obj["metadata"]["name"]): obj["metadata"]["resourceVersion"]
        for kind in ("Deployment", "Service", "ConfigMap")
        for obj in cluster.all(kind, "default")
    }
    assert after == versions
    assert len(cluster.all("Event", "default")) == events


# -- discovery against a real server -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def everything_http() -> Iterator[str]:
    """server-everything in streamableHttp mode on a free port: its MCP URL."""
    port = free_port()
    command = [*node_server("mcp-server-everything"), "streamableHttp"]
    process = subprocess.Popen(
        command,
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        # Any HTTP answer means it listens (a refused connection raises: not yet).
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5).status_code,
            timeout=20,
            what="server-everything to listen",
        )
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


EVERYTHING = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: everything}
spec:
  transport: streamable-http
  image: node:20
  port: 3001
  tools: {exclude: ["get-env"]}
"""


async def test_tools_discovered_through_the_service_reach_the_status(
    cluster: EmulatedCluster, everything_http: str
) -> None:
    settings = settings_for(cluster, discovery_url=everything_http)
    async with running_operator(cluster, settings):
        await cluster.apply_yaml(EVERYTHING)
        await eventually(
            lambda: status(cluster, "MCPServer", "everything").get("phase") == "Ready", timeout=15
        )
        found = status(cluster, "MCPServer", "everything")
        names = {tool["name"]: tool for tool in found["tools"]}
        assert {"echo", "get-sum", "get-env"} <= set(names)
        assert names["get-env"]["exposed"] is False
        assert names["echo"]["exposed"] is True
        assert len(names["echo"]["schemaHash"]) == 64
        assert found["toolCount"] == len(names) - 1
        assert condition(found, "Ready")["status"] == "True"
        assert found["url"] == "http://mcp-server-everything.default.svc:3001/mcp"
        await eventually(lambda: "Ready" in cluster.reasons("everything"))


ENHANCED = (
    EVERYTHING.replace("tools: {exclude", "enhancement: {providerRef: local}\n  tools: {exclude")
    + """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: LLMProvider
metadata: {name: local}
spec: {type: builtin}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: tools}
spec:
  servers: [{name: everything}]
"""
)


def gateway_descriptions(cluster: EmulatedCluster) -> dict[str, Any]:
    config_map = cluster.get("ConfigMap", "default", "mcp-gateway") or {}
    return dict(json.loads((config_map.get("data") or {}).get("descriptions.json", "{}")))


async def test_enhancements_are_kept_in_the_cluster_and_not_paid_for_twice(
    cluster: EmulatedCluster, everything_http: str, tmp_path: Path
) -> None:
    settings = settings_for(
        cluster, discovery_url=everything_http, state_dir=tmp_path / "first-pod"
    )
    async with running_operator(cluster, settings) as operator:
        await cluster.apply_yaml(ENHANCED)
        described = await eventually(
            lambda: gateway_descriptions(cluster).get("everything"), timeout=20
        )
        assert "echo" in described
        assert "get-env" not in described  # excluded tools are not enhanced
        assert operator.enhancer is not None
        assert operator.enhancer.calls > 0
        await eventually(
            lambda: (
                "echo"
                in (
                    (cluster.get("ConfigMap", "default", "mcp-enhancements") or {}).get("data")
                    or {}
                ).get("results.json", "")
            )
        )
        await eventually(lambda: status(cluster, "MCPSuite", "tools").get("phase") == "Ready")
    gateway_version = cluster.get("ConfigMap", "default", "mcp-gateway")["metadata"][
        "resourceVersion"
    ]
    replaced = settings_for(
        cluster, discovery_url=everything_http, state_dir=tmp_path / "second-pod"
    )
    async with running_operator(cluster, replaced) as operator:
        await eventually(
            lambda: (
                operator.enhancer is not None
                and operator.enhancer._descriptions.get("default", {}).get("everything")
            ),
            timeout=20,
        )
        assert operator.enhancer is not None
        assert operator.enhancer.calls == 0
        assert gateway_descriptions(cluster)["everything"] == described
        current = cluster.get("ConfigMap", "default", "mcp-gateway")["metadata"]
        assert current["resourceVersion"] == gateway_version


async def test_operator_command_serves_the_cluster_until_terminated(
    cluster: EmulatedCluster, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reconciler",
        "operator",
        "--all-namespaces",
        "--standalone",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--state-dir",
        str(tmp_path / "state"),
        "--log-format",
        "json",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        await eventually(lambda: cluster.watching(KINDS), timeout=30)
        await cluster.apply_yaml(SERVERS)
        await eventually(
            lambda: cluster.get("Deployment", "default", "mcp-server-time"), timeout=15
        )
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def test_gateway_goes_with_the_last_suite(cluster: EmulatedCluster) -> None:
    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(SERVERS + "---" + SUITE)
        await eventually(lambda: cluster.get("Service", "default", "mcp-gateway"))
        await cluster.delete("MCPSuite", "default", "dev")
        await eventually(lambda: cluster.get("ConfigMap", "default", "mcp-gateway") is None)
        assert cluster.get("Deployment", "default", "mcp-gateway") is None
        assert cluster.get("Service", "default", "mcp-gateway") is None
        assert cluster.get("Deployment", "default", "mcp-server-time") is not None


# -- tool lock -----------------------------------------------------------------------------

LOCKED_EVERYTHING = f"""
{EVERYTHING}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {{name: dev}}
spec: {{servers: [{{name: everything}}]}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolLock
metadata: {{name: everything}}
spec:
  tools:
    echo: {{sha256: "{"0" * 64}", description: "Echoes back the input"}}
"""


async def test_a_drifted_tool_is_reported_on_the_server_and_the_lock_reaches_the_gateway(
    cluster: EmulatedCluster, everything_http: str
) -> None:
    settings = settings_for(cluster, discovery_url=everything_http)
    async with running_operator(cluster, settings):
        await cluster.apply_yaml(LOCKED_EVERYTHING)
        await eventually(
            lambda: "echo" in status(cluster, "MCPServer", "everything").get("withheldTools", []),
            timeout=15,
        )
        found = status(cluster, "MCPServer", "everything")
        assert "get-sum" in found["withheldTools"]  # not in the lock: withheld too
        locked = condition(found, "ToolsLocked")
        assert (locked["status"], locked["reason"]) == ("False", "ToolDrift")
        assert condition(found, "Ready")["status"] == "True"  # the server itself is fine
        await eventually(lambda: "ToolDrift" in cluster.reasons("everything"))
        drift = [e for e in cluster.events("everything") if e["reason"] == "ToolDrift"]
        assert any("everything.echo withheld" in e["message"] for e in drift)
        assert drift[0]["type"] == "Warning"
        await eventually(lambda: "kind: ToolLock" in gateway_resources(cluster))


async def test_a_remote_server_behind_oauth_is_discovered_with_a_client_credentials_token(
    cluster: EmulatedCluster,
) -> None:
    """...and one whose client is refused is Stalled, one whose token the server refuses is
    BackOff, each with the reason and a Warning Event saying so."""
    from tests.oauth_front import OAuthFront
    from tests.oidc_issuer import OidcIssuer

    issuer = OidcIssuer().start()
    issuer.add_client("operator", "operator-client-secret")
    front = OAuthFront(issuer).start()
    try:
        async with running_operator(cluster, settings_for(cluster)):
            secret = base64.b64encode(b"operator-client-secret").decode()
            wrong = base64.b64encode(b"not-the-operator-secret").decode()

            def remote(name: str, key: str, audience: str) -> str:
                return f"""
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {{name: {name}}}
spec:
  transport: streamable-http
  url: "{front.url}"
  auth:
    oauth2:
      tokenUrl: "{issuer.token_url}"
      clientId: operator
      clientSecret: {{secretKeyRef: {{name: vendor-oauth, key: {key}}}}}
      audience: "{audience}"
"""

            await cluster.apply_yaml(
                f"""
apiVersion: v1
kind: Secret
metadata: {{name: vendor-oauth}}
data: {{secret: {secret}, wrong: {wrong}}}
---"""
                + remote("vendor", "secret", front.audience)
                + "---"
                + remote("rejected", "wrong", front.audience)
                + "---"
                + remote("refused", "secret", "http://127.0.0.1:9/elsewhere")
            )
            await eventually(
                lambda: status(cluster, "MCPServer", "vendor").get("phase") == "Ready", timeout=30
            )
            found = status(cluster, "MCPServer", "vendor")
            assert "echo" in {tool["name"] for tool in found["tools"]}
            assert front.counts["passed"] > 0
            assert "operator-client-secret" not in json.dumps(found)
            assert not [t for t in issuer.tokens_issued if t in json.dumps(found)]

            await eventually(
                lambda: status(cluster, "MCPServer", "rejected").get("phase") == "Stalled",
                timeout=30,
            )
            stalled = condition(status(cluster, "MCPServer", "rejected"), "Stalled")
            assert (stalled["status"], stalled["reason"]) == ("True", "OAuthClientRejected")
            assert "HTTP 401 (invalid_client)" in stalled["message"]
            assert "restart rejected --kube" in stalled["message"]
            await eventually(
                lambda: status(cluster, "MCPServer", "refused").get("phase") == "BackOff",
                timeout=30,
            )
            ready = condition(status(cluster, "MCPServer", "refused"), "Ready")
            assert (ready["status"], ready["reason"]) == ("False", "UpstreamUnauthorized")
            assert "HTTP 401 (invalid_token)" in ready["message"]
            await eventually(lambda: "OAuthClientRejected" in cluster.reasons("rejected"))
            await eventually(lambda: "UpstreamUnauthorized" in cluster.reasons("refused"))
            posted = cluster.events("rejected") + cluster.events("refused")
            assert {e["type"] for e in posted if e["reason"] != "Created"} == {"Warning"}
            shown = json.dumps(
                [*posted, *(status(cluster, "MCPServer", n) for n in ("rejected", "refused"))]
            )
            assert "not-the-operator-secret" not in shown
            assert "operator-client-secret" not in shown
            assert not [t for t in issuer.tokens_issued if t in shown]
    finally:
        front.stop()
        issuer.stop()
