"""Identity through a real `mcp-reconciler run`: OAuth client credentials to a remote server
that demands them, and OIDC callers of the controller's gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from tests.controller_harness import Controller, suite_doc, wait_for, write_yaml
from tests.gateway_harness import mcp_client, oauth_client
from tests.oauth_front import OAuthFront, free_port, json_lines
from tests.oidc_issuer import OidcIssuer

pytestmark = pytest.mark.slow

SECRET = "reconciler-client-secret-9f8e7d"


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    server = OidcIssuer().start()
    server.add_client("reconciler", SECRET, lifetime=4)
    server.add_client("data-agent", "data-agent-secret", groups=["data"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def front(issuer: OidcIssuer) -> Iterator[OAuthFront]:
    server = OAuthFront(issuer).start()
    yield server
    server.stop()


def remote_doc(
    front: OAuthFront,
    issuer: OidcIssuer,
    secret_key: str,
    *,
    name: str = "vendor",
    restart: dict[str, Any] | None = None,
    **oauth2: Any,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": name},
        "spec": {
            "transport": "streamable-http",
            "url": front.url,
            "auth": {
                "oauth2": {
                    "tokenUrl": issuer.token_url,
                    "clientId": "reconciler",
                    "clientSecret": {"secretKeyRef": {"name": "vendor", "key": secret_key}},
                    "scopes": ["tools:read"],
                    "audience": front.audience,
                    **oauth2,
                }
            },
        },
    }
    if restart is not None:
        document["spec"]["restart"] = restart
    return document


def oidc_permission(issuer: OidcIssuer) -> dict[str, Any]:
    return {
        "apiVersion": "mcp.reconciler.dev/v1alpha1",
        "kind": "ToolPermission",
        "metadata": {"name": "data-team"},
        "spec": {
            "suites": ["secured"],
            "subjects": [
                {"name": "data-team", "oidc": {"issuer": issuer.url, "claims": {"groups": "data"}}}
            ],
            "rules": [{"action": "allow", "tools": ["vendor.echo"]}],
        },
    }


def start(tmp_path: Path, *documents: dict[str, Any]) -> Controller:
    config = tmp_path / "config"
    config.mkdir()
    secrets = tmp_path / "state" / "secrets" / "vendor"
    secrets.mkdir(parents=True)
    (secrets / "secret").write_text(SECRET)
    (secrets / "wrong").write_text("not-the-secret")
    write_yaml(config / "resources.yaml", *documents)
    return Controller(tmp_path / "state", str(config))


def run_cli(*args: str, state_dir: Path) -> str:
    """A read-only command run in this process (the real command, without the seconds an
    interpreter start costs on a busy machine), as a person sees it in a wide terminal."""
    from typer.testing import CliRunner

    from reconciler.cli.app import app

    result = CliRunner().invoke(app, [*args, "--state-dir", str(state_dir)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.stdout


def run_json(*args: str, state_dir: Path) -> Any:
    return json.loads(run_cli(*args, "-o", "json", state_dir=state_dir))


def echo(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


@pytest.mark.timeout(300)
async def test_a_remote_server_behind_oauth_connects_and_stays_connected_across_expiry(
    tmp_path: Path, issuer: OidcIssuer, front: OAuthFront
) -> None:
    controller = start(
        tmp_path,
        remote_doc(front, issuer, "secret"),
        suite_doc("vendor", ["vendor"]),
        suite_doc("secured", ["vendor"]),
        oidc_permission(issuer),
    )
    try:
        ready = controller.wait_ready_remote("vendor")
        assert "echo" in {t["name"] for t in ready["tools"]}
        url = f"{controller.gateway_url()}/suites/vendor/mcp"
        issued = len(issuer.tokens_issued)
        async with mcp_client(url) as session:
            # tokens live 4 s: keep calling until the client has fetched two more of them
            for i in range(400):
                result = await session.call_tool("vendor_echo", {"message": f"call {i}"})
                assert not result.is_error, echo(result)
                if len(issuer.tokens_issued) >= issued + 2:
                    break
            assert len(issuer.tokens_issued) >= issued + 2
            refused = front.counts["unauthorized"]
            front.revoke_seen()  # the provider revokes the token in use: one 401, a refresh
            result = await session.call_tool("vendor_echo", {"message": "after revocation"})
            assert "after revocation" in echo(result)
            assert front.counts["unauthorized"] == refused + 1
        assert controller.server("vendor")["phase"] == "Ready"  # type: ignore[index]

        # an OIDC caller knowing only the suite URL: 401 -> resource metadata -> issuer -> token
        secured = f"{controller.gateway_url()}/suites/secured/mcp"
        async with oauth_client(secured, issuer.url, "data-agent") as session:
            assert {t.name for t in (await session.list_tools()).tools} == {"vendor_echo"}
            result = await session.call_tool("vendor_echo", {"message": "as data-team"})
            assert "as data-team" in echo(result)

        # audit: the calls under the subject's name, with the account (token sub) beside it
        state = controller.state_dir

        def audited() -> list[dict[str, Any]]:
            return [r for r in run_json("audit", state_dir=state) if r["subject"] == "data-team"]

        (row,) = wait_for(audited, what="the OIDC caller's call in the audit")
        assert (row["tokenSub"], row["tool"], row["outcome"]) == ("data-agent", "echo", "ok")
        mine = run_json("audit", "--token-sub", "data-agent", state_dir=state)
        assert [r["subject"] for r in mine] == ["data-team"]
        anonymous = [r for r in run_json("audit", state_dir=state) if r["suite"] == "vendor"]
        assert anonymous
        assert {r["tokenSub"] for r in anonymous} == {None}  # no token, no sub
        shown = run_cli("audit", "--subject", "data-team", state_dir=state)
        assert "TOKEN SUB" in shown
        (line,) = [line for line in shown.splitlines() if "data-team" in line]
        assert "data-agent" in line
        stats = run_json("stats", state_dir=state)
        caller = next(c for c in stats["callers"] if c["subject"] == "data-team")
        assert (caller["tokenSub"], caller["calls"]) == ("data-agent", 1)
        (line,) = [
            line for line in run_cli("stats", state_dir=state).splitlines() if "data-team" in line
        ]
        assert "data-agent" in line
        logged = [
            c
            for c in json_lines(controller.log.read_text())
            if c.get("event") == "call" and c.get("subject") == "data-team"
        ]
        assert [c["tokenSub"] for c in logged] == ["data-agent"]
        shown = "\n".join([controller.log.read_text(), json.dumps(stats), json.dumps(audited())])
        assert SECRET not in shown
        assert not [token for token in issuer.tokens_issued if token in shown]

        # connected, the server stops accepting the issuer's tokens (a fresh one too): the
        # connection ends, the server backs off saying why, and is back once they are accepted
        front.refusing = True
        try:
            async with mcp_client(url) as session:
                with pytest.raises(MCPError):
                    await session.call_tool("vendor_echo", {"message": "refused"})
            wait_for(
                lambda: (
                    (s := controller.server("vendor"))
                    and (s["phase"], s["reason"]) == ("BackOff", "UpstreamUnauthorized")
                ),
                what="vendor backing off for UpstreamUnauthorized",
            )
        finally:
            front.refusing = False
        controller.wait_ready_remote("vendor")
    finally:
        controller.terminate()


@pytest.mark.timeout(300)
async def test_a_remote_server_without_a_valid_token_backs_off_or_stalls_saying_why(
    tmp_path: Path, issuer: OidcIssuer, front: OAuthFront
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/token"
    quick = {"maxFailures": 2, "backoff": {"initialSeconds": 0.2, "maxSeconds": 0.5}}
    slow = {"maxFailures": 5, "backoff": {"initialSeconds": 120}}
    controller = start(
        tmp_path,
        # the token endpoint refuses the client (a wrong secret): Stalled at once
        remote_doc(front, issuer, "wrong", name="rejected"),
        # nothing listens at the token endpoint: BackOff, then Stalled after maxFailures
        remote_doc(front, issuer, "secret", name="unreachable", restart=quick, tokenUrl=closed),
        # a token for another audience: the server refuses it, and a fresh one too
        remote_doc(
            front, issuer, "secret", name="refused", restart=slow, audience="http://127.0.0.1:9/x"
        ),
    )
    try:

        def conditions(name: str) -> dict[str, dict[str, Any]]:
            resource = next(r for r in controller.status()["resources"] if r["name"] == name)
            return {c["type"]: c for c in resource["conditions"]}

        controller.wait_phase("rejected", "Stalled")
        stalled = conditions("rejected")["Stalled"]
        assert (stalled["status"], stalled["reason"]) == ("True", "OAuthClientRejected")
        assert "refused client reconciler: HTTP 401 (invalid_client)" in stalled["message"]
        assert "`mcp-reconciler restart rejected`" in stalled["message"]

        controller.wait_phase("unreachable", "Stalled")
        stalled = conditions("unreachable")["Stalled"]
        assert (stalled["status"], stalled["reason"]) == ("True", "TokenEndpointUnavailable")
        assert f"the token endpoint {closed} cannot be reached" in stalled["message"]
        assert "gave up after 2 consecutive failures" in stalled["message"]

        refused = controller.wait_phase("refused", "BackOff")
        assert refused["reason"] == "UpstreamUnauthorized"
        ready = conditions("refused")["Ready"]
        assert (ready["status"], ready["reason"]) == ("False", "UpstreamUnauthorized")
        assert (
            "answered HTTP 401 (invalid_token) to a token the token endpoint had just issued"
            in ready["message"]
        )

        events = run_json("events", "--limit", "500", state_dir=controller.state_dir)
        reasons = {(e["resource"], e["reason"]) for e in events}
        assert {
            ("MCPServer/rejected", "OAuthClientRejected"),
            ("MCPServer/unreachable", "TokenEndpointUnavailable"),
            ("MCPServer/refused", "UpstreamUnauthorized"),
        } <= reasons
        assert ("MCPServer/rejected", "BackOff") not in reasons  # stalled without retrying
        shown = run_cli("status", state_dir=controller.state_dir)
        for name, phase, reason in (
            ("rejected", "Stalled", "OAuthClientRejected"),
            ("unreachable", "Stalled", "TokenEndpointUnavailable"),
            ("refused", "BackOff", "UpstreamUnauthorized"),
        ):
            (line,) = [line for line in shown.splitlines() if line.startswith(f"│ {name} ")]
            assert phase in line
            assert reason in line
        everything = "\n".join(
            [controller.log.read_text(), json.dumps(controller.status()), json.dumps(events), shown]
        )
        assert SECRET not in everything
        assert "not-the-secret" not in everything
        assert not [token for token in issuer.tokens_issued if token in everything]
    finally:
        controller.terminate()
