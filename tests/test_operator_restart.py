"""`restart --kube` and the operator rolling the server; the operator saying why it waits."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli.app import app
from tests.kube_emulator import EmulatedCluster, emulated_cluster, eventually, running_operator
from tests.test_operator_kube import SERVERS, condition, settings_for, status

pytestmark = pytest.mark.slow

RESTARTED_AT = "mcp.reconciler.dev/restartedAt"


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmulatedCluster]:
    async with emulated_cluster(tmp_path) as found:
        yield found


async def restart(cluster: EmulatedCluster, *args: str) -> Any:
    """The real command, in a thread (it runs its own event loop against the emulator)."""
    return await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["restart", "--kube", "--kubeconfig", str(cluster.kubeconfig), *args],
    )


def template_annotations(cluster: EmulatedCluster, name: str) -> dict[str, str]:
    deployment = cluster.get("Deployment", "default", f"mcp-server-{name}") or {}
    template = (deployment.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("annotations") or {})


async def test_restart_kube_rolls_the_deployment_and_clears_stalled(
    cluster: EmulatedCluster,
) -> None:
    async with running_operator(cluster, settings_for(cluster, drift_interval=300.0)):
        await cluster.apply_yaml(SERVERS)
        await eventually(lambda: "Created" in cluster.reasons("time"))
        before = template_annotations(cluster, "time")
        stalled = {
            "phase": "Stalled",
            "message": "gave up",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "RestartsExhausted",
                 "message": "gave up", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Stalled", "status": "True", "reason": "RestartsExhausted",
                 "message": "gave up", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            ],
        }  # fmt: skip
        await cluster.patch("MCPServer", "default", "time", {"status": stalled})

        done = await restart(cluster, "time", "-o", "json")
        assert done.exit_code == 0, done.output
        (row,) = json.loads(done.stdout)["restarted"]
        assert row["name"] == "time"
        assert row["previousPhase"] == "Stalled"
        stamp = row["restartedAt"]
        annotations = cluster.get("MCPServer", "default", "time")["metadata"]["annotations"]
        assert annotations[RESTARTED_AT] == stamp

        await eventually(lambda: template_annotations(cluster, "time").get(RESTARTED_AT) == stamp)
        after = template_annotations(cluster, "time")
        assert {k: v for k, v in after.items() if k != RESTARTED_AT} == before
        found = await eventually(
            lambda: (s := status(cluster, "MCPServer", "time")).get("restartedAt") == stamp and s
        )
        assert found["phase"] == "Starting"
        assert condition(found, "Stalled")["status"] == "False"
        event = await eventually(
            lambda: [e for e in cluster.events("time") if e["reason"] == "Restarted"]
        )
        assert stamp in event[0]["message"]
        assert template_annotations(cluster, "fetch").get(RESTARTED_AT) is None

        unknown = await restart(cluster, "time", "nope")
        assert unknown.exit_code == 1
        assert "unknown server(s) in namespace default: nope" in unknown.stderr
        assert template_annotations(cluster, "time").get(RESTARTED_AT) == stamp

        every = await restart(cluster, "--all", "-o", "json")
        names = {r["name"] for r in json.loads(every.stdout)["restarted"]}
        assert names == {"time", "fetch"}
        await eventually(lambda: template_annotations(cluster, "fetch").get(RESTARTED_AT))


async def test_operator_without_the_peering_crd_says_how_to_fix_it_and_runs(
    cluster: EmulatedCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reconciler.operator.runtime")
    settings = settings_for(cluster, standalone=False)
    async with running_operator(cluster, settings):
        await cluster.apply_yaml(SERVERS)
        await eventually(lambda: cluster.get("Deployment", "default", "mcp-server-time"))
    (warning,) = [r.getMessage() for r in caplog.records if "peering" in r.getMessage()]
    assert "kubectl apply -f manifests/crds/kopf-peering.yaml" in warning
    assert "--standalone" in warning


PROVIDERS = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: LLMProvider
metadata: {name: local}
spec: {type: builtin}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: LLMProvider
metadata: {name: down}
spec: {type: ollama, endpoint: "http://127.0.0.1:PORT", model: llama3.2}
"""


async def test_operator_reports_a_provider_ready_only_after_its_probe(
    cluster: EmulatedCluster,
) -> None:
    from tests.test_llm_probe import closed_port

    async with running_operator(cluster, settings_for(cluster)):
        await cluster.apply_yaml(PROVIDERS.replace("PORT", str(closed_port())))
        local = await eventually(
            lambda: (s := status(cluster, "LLMProvider", "local")).get("phase") == "Ready" and s
        )
        assert condition(local, "Ready")["reason"] == "ProbeSucceeded"
        down = await eventually(
            lambda: (s := status(cluster, "LLMProvider", "down")).get("phase") == "NotReady" and s
        )
        assert condition(down, "Ready")["status"] == "False"
        assert condition(down, "Ready")["reason"] == "Unreachable"
        assert "cannot reach" in down["message"]
