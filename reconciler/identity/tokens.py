"""Verifying callers' JWTs (PyJWT with `cryptography`: no cryptography of our own).

`JwtVerifier.verify(token, issuer=..., audience=...)` returns the token's claims or raises
`TokenRejected` saying why. What is checked:

- the header's `alg` is an asymmetric algorithm (`none` and every HMAC algorithm are
  refused before any key is looked at), and the key the `kid` names is of that family
  (an RS256 key never verifies an ES256 or HS256 token: no algorithm confusion);
- the signature, against the issuer's JWKS (`keys.IssuerKeys`);
- `iss` equal to the issuer, `aud` containing the audience, `exp` present and not past,
  `nbf` and `iat` not in the future, each with `leeway_seconds` of clock skew.

A verified token is remembered (by its SHA-256, never the token itself) until it expires,
so a client that sends the same token on every request pays for one signature check, then
a dictionary lookup. `cached` is that lookup alone, for callers on a hot path.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt

from ..core.errors import TokenRejected
from .keys import ASYMMETRIC_FAMILIES, IssuerKeys

Claims = Mapping[str, Any]
ALLOWED_ALGORITHMS = frozenset().union(*ASYMMETRIC_FAMILIES.values())
CACHE_LIMIT = 10_000
"""Verified tokens remembered at most; expired ones go first, then the oldest."""


def unverified_issuer(token: str) -> str | None:
    """The `iss` a token claims, read without verifying it (to choose the keys to verify
    it with); None when the token is not a JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


class JwtVerifier:
    """Verifies JWTs of any number of issuers, sharing one HTTP client and one cache."""

    def __init__(
        self,
        *,
        leeway_seconds: float = 30.0,
        refetch_seconds: float = 30.0,
        keys_max_age_seconds: float = 3600.0,
        timeout_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._leeway = leeway_seconds
        self._refetch = refetch_seconds
        self._max_age = keys_max_age_seconds
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._timeout = timeout_seconds
        self._issuers: dict[str, IssuerKeys] = {}
        self._verified: dict[tuple[bytes, str, str], tuple[Claims, float]] = {}

    def issuer(self, issuer: str) -> IssuerKeys:
        """The key store of an issuer (created on first use, kept across configurations)."""
        keys = self._issuers.get(issuer)
        if keys is None:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
            keys = IssuerKeys(
                issuer,
                client=self._client,
                max_age_seconds=self._max_age,
                refetch_seconds=self._refetch,
            )
            self._issuers[issuer] = keys
        return keys

    def claimed_issuer(self, token: str) -> str | None:
        """The `iss` a token claims, unverified (see `unverified_issuer`)."""
        return unverified_issuer(token)

    def cached(self, token: str, *, issuer: str, audience: str) -> Claims | None:
        """The claims of a token verified before for this issuer and audience, unexpired."""
        key = (hashlib.sha256(token.encode()).digest(), issuer, audience)
        found = self._verified.get(key)
        if found is None:
            return None
        claims, expires = found
        if self._clock() >= expires + self._leeway:
            del self._verified[key]
            return None
        return claims

    async def verify(self, token: str, *, issuer: str, audience: str) -> Claims:
        """The claims of a valid token; TokenRejected (saying why) otherwise."""
        cached = self.cached(token, issuer=issuer, audience=audience)
        if cached is not None:
            return cached
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("the bearer token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise TokenRejected(
                f"the token's algorithm {str(algorithm)[:20]!r} is not accepted "
                "(only RSA, ECDSA and EdDSA signatures are)"
            )
        kid = header.get("kid")
        key = await self.issuer(issuer).key(kid if isinstance(kid, str) else None)
        if algorithm not in ASYMMETRIC_FAMILIES.get(key.key_type or "", frozenset()):
            raise TokenRejected(
                f"the token's algorithm {algorithm} does not match its key (type {key.key_type})"
            )
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(
                f"the token is not for this resource (audience {audience})"
            ) from None
        except jwt.InvalidIssuerError:
            raise TokenRejected(f"the token was not issued by {issuer}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"the token has no {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the token is invalid ({type(exc).__name__})") from None
        self._remember(token, issuer, audience, claims)
        return claims

    def _remember(self, token: str, issuer: str, audience: str, claims: Claims) -> None:
        if len(self._verified) >= CACHE_LIMIT:
            now = self._clock()
            for key in [k for k, (_, exp) in self._verified.items() if exp + self._leeway <= now]:
                del self._verified[key]
            while len(self._verified) >= CACHE_LIMIT:
                del self._verified[next(iter(self._verified))]
        expires = float(claims["exp"])
        self._verified[(hashlib.sha256(token.encode()).digest(), issuer, audience)] = (
            claims,
            expires,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
