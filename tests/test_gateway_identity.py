"""OIDC callers at the gateway: a real issuer on 127.0.0.1, server-everything behind the
gateway, and the official MCP SDK client discovering where to get its token from a 401."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import mcp_types as types
import pytest
import pytest_asyncio
from mcp.shared.exceptions import MCPError

from reconciler.identity import JwtVerifier
from tests.gateway_harness import (
    ACCEPT,
    INITIALIZE,
    Registry,
    Served,
    everything_command,
    mcp_client,
    oauth_client,
    open_session,
    rpc_body,
    serving,
    start_upstream,
    suite,
)
from tests.oidc_issuer import OidcIssuer, SigningKey

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@dataclass
class Shared:
    registry: Registry
    tools: dict[str, list[dict[str, Any]]]
    issuer: OidcIssuer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared() -> AsyncIterator[Shared]:
    issuer = OidcIssuer().start()
    issuer.add_client("data-agent", "data-agent-secret", groups=["staff", "data"])
    issuer.add_client("outsider", "outsider-secret", groups=["staff"])
    upstream = await start_upstream("everything", everything_command())
    try:
        tools = {"everything": await upstream.connection.list_tools()}
        yield Shared(Registry({"everything": upstream}), tools, issuer)
    finally:
        await upstream.stop()
        issuer.stop()


def permissions(issuer: str) -> str:
    return (
        suite("dev", "everything")
        + f"""
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {{name: data-dev}}
spec:
  suites: [dev]
  subjects:
    - name: data-team
      oidc: {{issuer: "{issuer}", claims: {{groups: data}}}}
    - {{name: ci-bot, tokenFrom: {{env: CI_TOKEN}}}}
  rules: [{{action: allow, tools: ["everything.echo"]}}]
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {{name: admins-dev}}
spec:
  suites: [dev]
  subjects:
    - name: admins
      oidc: {{issuer: "{issuer}", claims: {{groups: admins}}}}
  rules: [{{action: allow, tools: ["everything.*"]}}]
"""
    )


@contextlib.asynccontextmanager
async def gateway(shared: Shared, **options: Any) -> AsyncIterator[Served]:
    verifier = JwtVerifier(refetch_seconds=3600)
    try:
        async with serving(
            permissions(shared.issuer.url),
            shared.registry,
            shared.tools,
            environ={"CI_TOKEN": "ci-static-token"},
            verifier=verifier,
            **options,
        ) as served:
            yield served
    finally:
        await verifier.aclose()


def names(listed: types.ListToolsResult) -> set[str]:
    return {tool.name for tool in listed.tools}


async def test_a_client_with_only_the_suite_url_discovers_obtains_and_uses_a_token(
    shared: Shared,
) -> None:
    async with gateway(shared) as served:
        url = served.url("dev")
        before = shared.issuer.hits["token"]
        async with oauth_client(url, shared.issuer.url, "data-agent") as session:
            assert names(await session.list_tools()) == {"everything_echo"}
            result = await session.call_tool("everything_echo", {"message": "hi"})
            assert not result.is_error
            assert "hi" in result.content[0].text  # type: ignore[union-attr]
        assert shared.issuer.hits["token"] == before + 1
        assert served.records[-1].subject == "data-team"
        # the token the SDK got is for this suite (RFC 8707 resource): aud = the suite URL
        import jwt

        claims = jwt.decode(shared.issuer.tokens_issued[-1], options={"verify_signature": False})
        assert claims["aud"] == url


async def test_an_account_whose_claims_match_no_subject_is_refused(shared: Shared) -> None:
    async with gateway(shared) as served, httpx2.AsyncClient() as http:
        token = shared.issuer.mint({"sub": "eve", "aud": served.url("dev"), "groups": ["staff"]})
        response = await http.post(
            served.url("dev"),
            json=INITIALIZE,
            headers={**ACCEPT, "authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert "match no subject" in response.headers["www-authenticate"]


async def test_each_oidc_subject_gets_its_own_permission_and_static_tokens_still_work(
    shared: Shared,
) -> None:
    async with gateway(shared) as served:
        url = served.url("dev")
        admin = shared.issuer.mint({"sub": "root", "aud": url, "groups": ["admins"]})
        async with mcp_client(url, token=admin) as session:
            assert "everything_get-env" in names(await session.list_tools())
        both = shared.issuer.mint({"sub": "ann", "aud": url, "groups": "data"})
        async with mcp_client(url, token=both) as session:
            assert names(await session.list_tools()) == {"everything_echo"}
        async with mcp_client(url, token="ci-static-token") as session:
            assert names(await session.list_tools()) == {"everything_echo"}


async def test_resource_metadata_is_served_and_named_by_every_401(shared: Shared) -> None:
    public = "https://mcp.example.com/gw"
    async with gateway(shared, public_url=public) as served, httpx2.AsyncClient() as http:
        metadata = await http.get(
            f"{served.server.url}/.well-known/oauth-protected-resource/suites/dev/mcp"
        )
        assert metadata.status_code == 200
        assert metadata.json() == {
            "resource": f"{public}/suites/dev/mcp",
            "authorization_servers": [shared.issuer.url],
            "bearer_methods_supported": ["header"],
            "resource_name": "MCP suite dev",
        }
        expected = (
            f'Bearer resource_metadata="{public}/.well-known/oauth-protected-resource'
            '/suites/dev/mcp"'
        )
        anonymous = await http.post(served.url("dev"), json=INITIALIZE, headers=ACCEPT)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == expected
        for path, method in (("mcp", "GET"), ("mcp", "DELETE"), ("sse", "GET")):
            response = await http.request(method, served.url("dev", path=path), headers=ACCEPT)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == expected
        # with --public-url the default audience is the public suite URL, not the local one
        local = shared.issuer.mint({"aud": served.url("dev"), "groups": ["data"]})
        public_token = shared.issuer.mint({"aud": f"{public}/suites/dev/mcp", "groups": ["data"]})
        refused = await http.post(
            served.url("dev"),
            json=INITIALIZE,
            headers={**ACCEPT, "authorization": f"Bearer {local}"},
        )
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith(expected + ', error="invalid_token"')
        accepted = await http.post(
            served.url("dev"),
            json=INITIALIZE,
            headers={**ACCEPT, "authorization": f"Bearer {public_token}"},
        )
        assert accepted.status_code == 200


@pytest.mark.parametrize(
    "attack",
    ["alg-none", "hs256-with-public-key", "other-audience", "expired", "other-issuer"],
)
async def test_forged_and_misdirected_tokens_get_401_invalid_token(
    shared: Shared, attack: str
) -> None:
    issuer = shared.issuer
    async with gateway(shared) as served, httpx2.AsyncClient() as http:
        claims = {"sub": "mallory", "aud": served.url("dev"), "groups": ["admins"]}
        token = {
            "alg-none": lambda: issuer.forge_unsigned(claims),
            "hs256-with-public-key": lambda: issuer.forge_hmac_with_public_key(claims),
            "other-audience": lambda: issuer.mint({**claims, "aud": "https://elsewhere/mcp"}),
            "expired": lambda: issuer.mint(claims, lifetime=-300),
            "other-issuer": lambda: issuer.mint(claims, issuer="https://evil.example"),
        }[attack]()
        response = await http.post(
            served.url("dev"),
            json=INITIALIZE,
            headers={**ACCEPT, "authorization": f"Bearer {token}"},
        )
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert token not in response.text
        assert not served.gateway.sessions.get(response.headers.get("mcp-session-id", "-"))


async def test_a_flood_of_tokens_with_invented_kids_does_not_hammer_the_jwks(
    shared: Shared,
) -> None:
    async with gateway(shared) as served, httpx2.AsyncClient() as http:
        url = served.url("dev")
        good = shared.issuer.mint({"aud": url, "groups": ["data"]})
        headers = {**ACCEPT, "authorization": f"Bearer {good}"}
        assert (await http.post(url, json=INITIALIZE, headers=headers)).status_code == 200
        before = shared.issuer.hits["jwks"]
        stranger = SigningKey.ec()
        started = time.monotonic()
        for i in range(40):
            stranger.kid = f"invented-{i}"
            token = shared.issuer.mint({"aud": url, "groups": ["admins"]}, key=stranger)
            response = await http.post(
                url, json=INITIALIZE, headers={**ACCEPT, "authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401
        assert shared.issuer.hits["jwks"] - before <= 1
        assert time.monotonic() - started < 30
        await asyncio.sleep(0)


async def test_calls_record_the_token_sub_beside_the_subject_and_sessions_keep_their_account(
    shared: Shared,
) -> None:
    async with gateway(shared) as served, httpx2.AsyncClient() as http:
        url = served.url("dev")
        alice = shared.issuer.mint({"sub": "alice", "aud": url, "groups": ["data"]})
        async with mcp_client(url, token=alice) as session:
            assert not (await session.call_tool("everything_echo", {"message": "a"})).is_error
            with pytest.raises(MCPError, match="not permitted for subject data-team"):
                await session.call_tool("everything_get-env", {})
        async with mcp_client(url, token="ci-static-token") as session:
            await session.call_tool("everything_echo", {"message": "b"})
        assert [(r.subject, r.token_sub, r.outcome) for r in served.records] == [
            ("data-team", "alice", "ok"),
            ("data-team", "alice", "denied"),
            ("ci-bot", None, "ok"),
        ]
        # bob holds a token of the same subject: alice's session is not his to use
        session_id = await open_session(http, url, authorization=f"Bearer {alice}")
        bob = shared.issuer.mint({"sub": "bob", "aud": url, "groups": ["data"]})
        call = rpc_body("tools/call", {"name": "everything_echo", "arguments": {"message": "x"}})
        for token, status in ((bob, 404), (alice, 200)):
            response = await http.post(
                url,
                json=call,
                headers={
                    **ACCEPT,
                    "authorization": f"Bearer {token}",
                    "mcp-session-id": session_id,
                },
            )
            assert response.status_code == status, response.text
        assert served.records[-1].token_sub == "alice"
        assert bob not in repr(served.records)
        assert alice not in repr(served.records)
