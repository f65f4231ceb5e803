"""Namespaces in one standalone controller: every suite reaches only its own namespace's
servers, suites of the same name are served apart, and every output names the namespace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.controller_harness import Controller, cli, server_doc, suite_doc, wait_for, write_yaml
from tests.gateway_harness import mcp_client

pytestmark = pytest.mark.slow

NAMESPACES = ("default", "team-a", "team-b")


def in_namespace(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    from tests.conftest import node_server

    everything = [*node_server("mcp-server-everything"), "stdio"]
    root = tmp_path_factory.mktemp("namespaces")
    config = root / "config"
    config.mkdir()
    docs = []
    for namespace in NAMESPACES:
        # The same server name everywhere; only its environment tells them apart.
        team = server_doc("everything", everything, env=[{"name": "TEAM", "value": namespace}])
        docs += [
            in_namespace(team, namespace),
            in_namespace(suite_doc("s", ["everything"]), namespace),
        ]
    docs += [
        in_namespace(suite_doc("s-a", ["everything"]), "team-a"),
        in_namespace(suite_doc("s-b", ["everything"]), "team-b"),
    ]
    write_yaml(config / "resources.yaml", *docs)
    running = Controller(root / "state", str(config))
    try:
        running.wait_ready("everything", "team-a/everything", "team-b/everything")
        url = running.gateway_url()
        wait_for(lambda: httpx2.get(f"{url}/readyz").status_code == 200, what="/readyz")
        yield running
    finally:
        running.terminate()


async def team_behind(url: str) -> str:
    """The TEAM variable of the server that answers a call through the suite at `url`."""
    async with mcp_client(url) as client:
        result = await client.call_tool("everything_get-env", {})
    text = result.content[0].text  # type: ignore[union-attr]
    return str(json.loads(text)["TEAM"])


async def test_each_suite_reaches_only_its_own_namespaces_server(controller: Controller) -> None:
    url = controller.gateway_url()
    assert await team_behind(f"{url}/suites/team-a/s-a/mcp") == "team-a"
    assert await team_behind(f"{url}/suites/team-b/s-b/mcp") == "team-b"
    # Outside the default namespace, the namespace is part of the URL.
    assert httpx2.post(f"{url}/suites/s-a/mcp", json={}).status_code == 404


async def test_suites_of_one_name_are_served_apart_and_default_keeps_its_url(
    controller: Controller,
) -> None:
    url = controller.gateway_url()
    assert await team_behind(f"{url}/suites/s/mcp") == "default"
    assert await team_behind(f"{url}/suites/team-a/s/mcp") == "team-a"
    assert await team_behind(f"{url}/suites/team-b/s/mcp") == "team-b"
    assert httpx2.post(f"{url}/suites/team-c/s/mcp", json={}).status_code == 404


def test_status_and_events_name_the_namespace(controller: Controller) -> None:
    report = json.loads(cli("status", "-o", "json", state_dir=controller.state_dir).stdout)
    servers = {(s["namespace"], s["name"]) for s in report["servers"]}
    assert servers == {(ns, "everything") for ns in NAMESPACES}
    table = cli("status", state_dir=controller.state_dir).stdout
    assert "team-a/everything" in table
    assert "team-b/s" in table
    events = json.loads(
        cli("events", "-o", "json", "--limit", "1000", state_dir=controller.state_dir).stdout
    )
    ready = {e["resource"] for e in events if e["reason"] == "Ready"}
    assert ready == {
        "MCPServer/everything",
        "MCPServer/team-a/everything",
        "MCPServer/team-b/everything",
    }
