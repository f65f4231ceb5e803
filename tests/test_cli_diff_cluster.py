"""`diff --cluster`: what applying PATH would change in a cluster (the kmock emulator)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.kube_emulator import EmulatedCluster, emulated_cluster

pytestmark = pytest.mark.slow

RESOURCES = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: time}
spec: {command: mcp-server-time, args: ["--local-timezone", "UTC"]}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec: {servers: [{name: time}]}
"""


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmulatedCluster]:
    async with emulated_cluster(tmp_path) as found:
        yield found


async def diff(cluster: EmulatedCluster, path: Path) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "reconciler", "diff", str(path), "--cluster",
         "--kubeconfig", str(cluster.kubeconfig), "--state-dir", str(path.parent / "state")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_diff_cluster_shows_what_a_change_would_do_in_the_cluster(
    cluster: EmulatedCluster, tmp_path: Path
) -> None:
    await cluster.apply_yaml(RESOURCES)
    same = tmp_path / "same"
    same.mkdir()
    (same / "r.yaml").write_text(RESOURCES)
    unchanged = await diff(cluster, same)
    assert unchanged.returncode == 0, unchanged.stderr

    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "r.yaml").write_text(RESOURCES.replace('"UTC"]', '"Europe/Paris"]'))
    result = await diff(cluster, changed)
    assert result.returncode == 2, result.stderr
    assert "MCPServer/time changed: spec.args (restart)" in result.stdout


async def test_diff_cluster_without_a_reachable_cluster_says_what_to_check(
    tmp_path: Path,
) -> None:
    (tmp_path / "r.yaml").write_text(RESOURCES)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "reconciler", "diff", str(tmp_path / "r.yaml"), "--cluster",
         "--kubeconfig", str(kubeconfig)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot read the cluster" in result.stderr
    assert "Traceback" not in result.stderr
