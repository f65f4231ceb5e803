"""JWT verification and client-credentials tokens against a real local OIDC issuer."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from reconciler.core.errors import AuthorizationServerError, TokenRejected
from reconciler.identity import ClientCredentials, JwtVerifier
from tests.oidc_issuer import OidcIssuer, SigningKey

AUDIENCE = "http://127.0.0.1:8765/suites/dev/mcp"


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    server = OidcIssuer().start()
    yield server
    server.stop()


async def _verify(verifier: JwtVerifier, issuer: OidcIssuer, token: str) -> dict[str, object]:
    return dict(await verifier.verify(token, issuer=issuer.url, audience=AUDIENCE))


async def test_rsa_and_ec_tokens_of_the_issuer_verify_and_are_cached(issuer: OidcIssuer) -> None:
    verifier = JwtVerifier()
    try:
        for key in issuer.keys:
            token = issuer.mint({"sub": "alice", "aud": AUDIENCE, "groups": ["data"]}, key=key)
            claims = await _verify(verifier, issuer, token)
            assert claims["sub"] == "alice"
            assert verifier.cached(token, issuer=issuer.url, audience=AUDIENCE) == claims
        assert verifier.issuer(issuer.url).fetches == 1
    finally:
        await verifier.aclose()


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        ("alg-none", "algorithm 'none' is not accepted"),
        ("hs256-public-key", "algorithm 'HS256' is not accepted"),
        ("other-audience", "not for this resource"),
        ("expired", "expired"),
        ("other-issuer", "not issued by"),
        ("not-yet-valid", "not valid yet"),
        ("foreign-key", "signing key"),
        ("no-exp", "no 'exp' claim"),
        ("tampered", "signature does not verify"),
    ],
)
async def test_forged_and_misdirected_tokens_are_refused_with_the_reason(
    issuer: OidcIssuer, forge: str, reason: str
) -> None:
    claims = {"sub": "mallory", "aud": AUDIENCE}
    stranger = SigningKey.rsa()
    tokens = {
        "alg-none": lambda: issuer.forge_unsigned(claims),
        "hs256-public-key": lambda: issuer.forge_hmac_with_public_key(claims),
        "other-audience": lambda: issuer.mint({**claims, "aud": "https://other.example/mcp"}),
        "expired": lambda: issuer.mint(claims, lifetime=-120),
        "other-issuer": lambda: issuer.mint(claims, issuer="https://evil.example"),
        "not-yet-valid": lambda: issuer.mint({**claims, "nbf": int(time.time()) + 600}),
        "foreign-key": lambda: issuer.mint(claims, key=stranger),
        "no-exp": lambda: _without_exp(issuer, claims),
        "tampered": lambda: _tampered(issuer.mint(claims)),
    }
    verifier = JwtVerifier(refetch_seconds=3600)
    try:
        with pytest.raises(TokenRejected) as refused:
            await _verify(verifier, issuer, tokens[forge]())
        assert reason in refused.value.message
    finally:
        await verifier.aclose()


def _without_exp(issuer: OidcIssuer, claims: dict[str, object]) -> str:
    import jwt

    key = issuer.keys[0]
    payload = {"iss": issuer.url, **claims}
    return jwt.encode(payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


def _tampered(token: str) -> str:
    import base64
    import json

    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_interval(
    issuer: OidcIssuer,
) -> None:
    verifier = JwtVerifier(refetch_seconds=3600)
    stranger = SigningKey.rsa()
    try:
        await _verify(verifier, issuer, issuer.mint({"aud": AUDIENCE}))
        before = issuer.hits["jwks"]
        for i in range(50):
            stranger.kid = f"invented-{i}"
            with pytest.raises(TokenRejected):
                await _verify(verifier, issuer, issuer.mint({"aud": AUDIENCE}, key=stranger))
        assert issuer.hits["jwks"] - before <= 1
    finally:
        await verifier.aclose()


async def test_a_key_rotation_at_the_provider_is_followed_without_a_restart() -> None:
    issuer = OidcIssuer().start()
    verifier = JwtVerifier(refetch_seconds=0.2)
    try:
        await _verify(verifier, issuer, issuer.mint({"aud": AUDIENCE}))
        new_key = issuer.rotate()
        await asyncio.sleep(0.25)  # the refetch interval is the behaviour under test
        claims = await _verify(verifier, issuer, issuer.mint({"aud": AUDIENCE, "sub": "bob"}))
        assert claims["sub"] == "bob"
        assert new_key.kid in {k["kid"] for k in [new_key.jwk()]}
        assert issuer.hits["jwks"] == 2
    finally:
        await verifier.aclose()
        issuer.stop()


async def test_a_discovery_document_naming_another_issuer_is_not_trusted(
    issuer: OidcIssuer,
) -> None:
    verifier = JwtVerifier()
    impostor = issuer.url + "/"  # discovery answers with the real issuer, not this one
    try:
        token = issuer.mint({"aud": AUDIENCE}, issuer=impostor)
        with pytest.raises(AuthorizationServerError, match="must be exactly the issuer"):
            await verifier.verify(token, issuer=impostor, audience=AUDIENCE)
    finally:
        await verifier.aclose()


async def test_client_credentials_are_cached_refreshed_before_expiry_and_after_a_401(
    issuer: OidcIssuer,
) -> None:
    issuer.add_client("reconciler", "s3cret-value", lifetime=120)
    now = [time.time()]
    credentials = ClientCredentials(
        token_url=issuer.token_url,
        client_id="reconciler",
        client_secret="s3cret-value",
        scopes=["tools:read"],
        audience="http://127.0.0.1:9/mcp",
        clock=lambda: now[0],
    )
    first = await credentials.token()
    assert await credentials.token() == first
    assert credentials.fetches == 1
    refreshed = await credentials.refresh(first)
    assert refreshed != first
    assert await credentials.refresh(first) == refreshed  # already replaced: no new fetch
    assert credentials.fetches == 2
    now[0] += 80  # not yet within a quarter of the lifetime (30 s) of expiry
    assert await credentials.token() == refreshed
    assert credentials.fetches == 2
    now[0] += 11  # now it is
    assert await credentials.token() != refreshed
    assert credentials.fetches == 3


async def test_a_refused_client_is_a_fatal_error_that_never_shows_the_secret(
    issuer: OidcIssuer,
) -> None:
    issuer.add_client("known", "the-real-secret")
    issuer.echo_secrets = True  # a careless provider repeats what it was sent
    try:
        for client_id in ("nobody", "known"):
            credentials = ClientCredentials(
                token_url=issuer.token_url, client_id=client_id, client_secret="do/not print+me"
            )
            with pytest.raises(AuthorizationServerError) as refused:
                await credentials.token()
            assert refused.value.fatal
            assert refused.value.reason == "OAuthClientRejected"
            assert "HTTP 401 (invalid_client): Invalid client or Invalid client" in str(
                refused.value
            )
            assert "[redacted]" in refused.value.message
            assert "do/not print+me" not in refused.value.message
            assert "do%2Fnot" not in refused.value.message
    finally:
        issuer.echo_secrets = False


async def test_token_endpoint_failures_are_told_apart_by_reason(issuer: OidcIssuer) -> None:
    issuer.add_client("scoped", "scoped-secret", scopes=frozenset({"tools:read"}))

    async def failure(**options: object) -> AuthorizationServerError:
        settings: dict[str, object] = {
            "token_url": issuer.token_url,
            "client_id": "scoped",
            "client_secret": "scoped-secret",
            "timeout_seconds": 5.0,
            **options,
        }
        with pytest.raises(AuthorizationServerError) as failed:
            await ClientCredentials(**settings).token()  # type: ignore[arg-type]
        return failed.value

    scope = await failure(scopes=["tools:write"])
    assert (scope.reason, scope.fatal) == ("OAuthScopeRejected", True)
    assert "HTTP 400 (invalid_scope): tools:write; check auth.oauth2.scopes" in scope.message
    closed = await failure(token_url=f"http://127.0.0.1:{closed_port()}/token")
    assert (closed.reason, closed.fatal) == ("TokenEndpointUnavailable", False)
    assert "cannot be reached (ConnectError)" in closed.message
    issuer.outage = 503
    try:
        outage = await failure()
    finally:
        issuer.outage = None
    assert (outage.reason, outage.fatal) == ("TokenEndpointUnavailable", False)
    assert "is unavailable: HTTP 503 (temporarily_unavailable)" in outage.message
    wrong_path = await failure(token_url=issuer.url + "/no-such-endpoint")
    assert (wrong_path.reason, wrong_path.fatal) == ("TokenEndpointFailed", False)
    assert "HTTP 404" in wrong_path.message


def closed_port() -> int:
    """A port of 127.0.0.1 on which nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
