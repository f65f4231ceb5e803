"""Identity through a real `mcp-reconciler run`: OAuth client credentials to a remote server
that demands them, and OIDC callers of the controller's gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from tests.controller_harness import Controller, cli, suite_doc, wait_for, write_yaml
from tests.gateway_harness import mcp_client, oauth_client
from tests.oauth_front import OAuthFront
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
    front: OAuthFront, issuer: OidcIssuer, secret_key: str, *, name: str = "vendor"
) -> dict[str, Any]:
    return {
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
                }
            },
        },
    }


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


def echo(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


@pytest.mark.timeout(300)
async def test_a_remote_server_behind_oauth_connects_and_stays_connected_across_expiry(
    tmp_path: Path, issuer: OidcIssuer, front: OAuthFront
) -> None:
    controller = start(
        tmp_path,
        remote_doc(front, issuer, "secret"),
        remote_doc(front, issuer, "wrong", name="misconfigured"),
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

        # a client secret the token endpoint refuses: the server backs off, saying why
        wait_for(
            lambda: (
                (s := controller.server("misconfigured")) and s["phase"] in ("BackOff", "Stalled")
            ),
            what="the misconfigured server backing off",
        )
        events = cli("events", "-o", "json", state_dir=controller.state_dir).stdout
        assert "no OAuth token" in events
        assert "invalid_client" in events
        shown = "\n".join([controller.log.read_text(), json.dumps(controller.status()), events])
        assert SECRET not in shown
        assert "not-the-secret" not in shown
        assert not [token for token in front.tokens_seen if token in shown]
    finally:
        controller.terminate()
