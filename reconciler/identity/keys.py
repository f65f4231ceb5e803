"""The signing keys of OpenID Connect issuers: discovery, JWKS, cache and rotation.

`IssuerKeys` reads `<issuer>/.well-known/openid-configuration` once, checks that the
document names the same issuer, then fetches its `jwks_uri`. Keys are cached for
`max_age_seconds`; a token signed with a `kid` the cache does not hold triggers one refetch
(a provider rotated its keys), but at most once per `refetch_seconds`, so a flood of tokens
with invented `kid`s costs the issuer one request, not one per token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from ..core.errors import AuthorizationServerError, TokenRejected
from ..core.models.base import is_loopback_host

DISCOVERY_PATH = "/.well-known/openid-configuration"
ASYMMETRIC_FAMILIES: Mapping[str, frozenset[str]] = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512"}),
    "OKP": frozenset({"EdDSA"}),
}
"""The algorithms a key of each JWK `kty` may verify. Symmetric keys (`oct`) never count:
an issuer's public keys are public, so an HMAC made with one proves nothing."""


def check_endpoint(url: str, *, what: str) -> str:
    """An https URL, or http on a loopback host."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url
    raise AuthorizationServerError(
        f"{what} {url[:200]!r} is not an https URL (plain http only on loopback)"
    )


class IssuerKeys:
    """The verification keys of one issuer, fetched on demand and kept fresh."""

    def __init__(
        self,
        issuer: str,
        *,
        client: httpx.AsyncClient,
        max_age_seconds: float = 3600.0,
        refetch_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._client = client
        self._max_age = max_age_seconds
        self._refetch = refetch_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._unnamed: list[jwt.PyJWK] = []
        self._jwks_uri: str | None = None
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """Fetches of the issuer's keys attempted so far."""

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key a token names by `kid` (or the only key, when the token names none)."""
        found = self._lookup(kid)
        if found is not None and not self._stale():
            return found
        async with self._lock:
            found = self._lookup(kid)
            if (found is None or self._stale()) and self._may_fetch():
                try:
                    await self._fetch()
                except AuthorizationServerError:
                    if found is None:
                        raise
                    # The issuer is unreachable: keep verifying with the keys we have.
                found = self._lookup(kid)
        if found is None:
            raise TokenRejected(
                f"the token's signing key {str(kid)[:64]!r} is not among the keys of "
                f"issuer {self.issuer}"
            )
        return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is not None:
            return self._keys.get(kid)
        candidates = [*self._keys.values(), *self._unnamed]
        return candidates[0] if len(candidates) == 1 else None

    def _stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at > self._max_age

    def _may_fetch(self) -> bool:
        """At most one fetch per `refetch_seconds`, whatever tokens arrive."""
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._refetch

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        self.fetches += 1
        if self._jwks_uri is None:
            self._jwks_uri = await self._discover()
        document = await self._get_json(self._jwks_uri, what="JWKS")
        keys: dict[str, jwt.PyJWK] = {}
        unnamed: list[jwt.PyJWK] = []
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise AuthorizationServerError(f"the JWKS of issuer {self.issuer} has no 'keys' list")
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") not in ASYMMETRIC_FAMILIES:
                continue
            if entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue
            kid = entry.get("kid")
            if isinstance(kid, str):
                keys[kid] = key
            else:
                unnamed.append(key)
        self._keys, self._unnamed = keys, unnamed
        self._loaded_at = self._clock()

    async def _discover(self) -> str:
        url = self.issuer.rstrip("/") + DISCOVERY_PATH
        document = await self._get_json(url, what="discovery document")
        if document.get("issuer") != self.issuer:
            raise AuthorizationServerError(
                f"the discovery document of {self.issuer} names issuer "
                f"{str(document.get('issuer'))[:200]!r}: it must be exactly the issuer"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise AuthorizationServerError(f"issuer {self.issuer} publishes no jwks_uri")
        return check_endpoint(jwks_uri, what="jwks_uri")

    async def _get_json(self, url: str, *, what: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise AuthorizationServerError(
                f"the {what} of issuer {self.issuer} cannot be fetched: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise AuthorizationServerError(
                f"the {what} of issuer {self.issuer} answered HTTP {response.status_code}"
            )
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise AuthorizationServerError(f"the {what} of issuer {self.issuer} is not JSON")
        return document
