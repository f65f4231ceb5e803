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
LOCKED = "locked"
"""A fourth namespace whose `everything` has a ToolLock that matches none of its tools."""


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
        in_namespace(server_doc("everything", everything), LOCKED),
        in_namespace(suite_doc("s", ["everything"]), LOCKED),
        {
            "apiVersion": "mcp.reconciler.dev/v1alpha1",
            "kind": "ToolLock",
            "metadata": {"name": "everything", "namespace": LOCKED},
            "spec": {"mode": "enforce", "tools": {"get-env": {"sha256": "0" * 64}}},
        },
    ]
    write_yaml(config / "resources.yaml", *docs)
    running = Controller(root / "state", str(config))
    try:
        running.wait_ready(
            "everything",
            "team-a/everything",
            "team-b/everything",
            f"{LOCKED}/everything",
            timeout=90,  # four node servers starting at once
        )
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
    assert servers == {(ns, "everything") for ns in (*NAMESPACES, LOCKED)}
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
        f"MCPServer/{LOCKED}/everything",
    }


async def tool_names(url: str) -> set[str]:
    async with mcp_client(url) as client:
        listed = await client.list_tools()
    return {tool.name for tool in listed.tools}


async def test_a_toollock_withholds_only_its_own_namespaces_tools(controller: Controller) -> None:
    url = controller.gateway_url()
    assert "everything_get-env" not in await tool_names(f"{url}/suites/{LOCKED}/s/mcp")
    assert "everything_get-env" in await tool_names(f"{url}/suites/s/mcp")
    report = json.loads(cli("status", "-o", "json", state_dir=controller.state_dir).stdout)
    withheld = {
        (r["namespace"], r["name"]): r.get("withheldTools", [])
        for r in report["resources"]
        if r["kind"] == "MCPServer"
    }
    assert "get-env" in withheld[(LOCKED, "everything")]
    assert withheld[("default", "everything")] == []
    metrics = httpx2.get(f"{url}/metrics").text
    assert f'mcp_reconciler_tools_withheld{{server="{LOCKED}/everything"}} 0.0' not in metrics
    assert 'mcp_reconciler_tools_withheld{server="everything"} 0.0' in metrics


def test_protected_resource_metadata_follows_the_suite_url(controller: Controller) -> None:
    url = controller.gateway_url()
    prefix = f"{url}/.well-known/oauth-protected-resource"
    namespaced = httpx2.get(f"{prefix}/suites/team-a/s/mcp").json()
    assert namespaced["resource"] == f"{url}/suites/team-a/s/mcp"
    assert httpx2.get(f"{prefix}/suites/s/mcp").json()["resource"] == f"{url}/suites/s/mcp"
    assert httpx2.get(f"{prefix}/suites/team-c/s/mcp").status_code == 404


async def test_call_records_and_audit_name_the_namespace(controller: Controller) -> None:
    url = controller.gateway_url()
    assert await team_behind(f"{url}/suites/team-b/s-b/mcp") == "team-b"

    def audited() -> list[dict[str, Any]]:
        rows = json.loads(
            cli(
                "audit", "--suite", "team-b/s-b", "-o", "json", state_dir=controller.state_dir
            ).stdout
        )
        return [r for r in rows if r["tool"] == "get-env"]

    rows = wait_for(audited, what="the call in the audit log")
    assert {(r["suite"], r["server"]) for r in rows} == {("team-b/s-b", "team-b/everything")}


def test_console_links_namespaced_suites_and_servers(controller: Controller) -> None:
    url = controller.gateway_url()
    overview = httpx2.get(f"{url}/ui/").text
    assert 'href="/ui/suites/team-a/s"' in overview
    assert f"{url}/suites/team-a/s/mcp" in overview
    assert 'href="/ui/servers/team-a/everything"' in overview
    suite = httpx2.get(f"{url}/ui/suites/team-a/s")
    assert suite.status_code == 200
    assert f"{url}/suites/team-a/s/mcp" in suite.text
    assert 'href="/ui/servers/team-a/everything"' in suite.text


def test_day_two_commands_take_namespace_slash_name(controller: Controller) -> None:
    state = controller.state_dir
    ambiguous = cli("logs", "everything", state_dir=state, check=False)
    assert ambiguous.returncode == 1
    assert "team-a/everything" in ambiguous.stderr
    assert cli("logs", "team-b/everything", state_dir=state).returncode == 0

    refused = cli("restart", "everything", state_dir=state, check=False)
    assert refused.returncode == 1
    assert "team-a/everything" in refused.stderr
    before = {ns: controller.server(f"{ns}/everything") for ns in ("team-a", "team-b")}
    restarted = json.loads(
        cli("restart", "team-a/everything", "-o", "json", state_dir=state).stdout
    )
    assert [(r["namespace"], r["name"]) for r in restarted["restarted"]] == [
        ("team-a", "everything")
    ]
    after = controller.wait_ready("team-a/everything", "team-b/everything")
    assert after["team-a/everything"]["pid"] != before["team-a"]["pid"]  # type: ignore[index]
    assert after["team-b/everything"]["pid"] == before["team-b"]["pid"]  # type: ignore[index]
    events = json.loads(cli("events", "--type", "Restarted", "-o", "json", state_dir=state).stdout)
    assert {e["resource"] for e in events} == {"MCPServer/team-a/everything"}
