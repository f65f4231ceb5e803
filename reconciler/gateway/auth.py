"""Bearer-token authentication: static tokens (kept only as SHA-256 hashes) and OIDC JWTs.

A presented token is hashed and compared with every known hash of the suite in constant
time (`hmac.compare_digest`), so neither the token nor which subject it belongs to leaks
through timing. The token itself is never stored, logged or echoed.

A token that is no static token is tried as a JWT against the suite's OIDC subjects
(`OidcGrant`), through a `JwtVerifier` (implemented in `reconciler.identity`, the only
code that handles keys and signatures). `authenticate` is the single entry point.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.errors import ReconcilerError

MAX_SUB = 255
"""Characters of a token's `sub` kept (OpenID Connect Core 1.0 section 2 caps it there)."""


def token_hash(token: str) -> bytes:
    """SHA-256 of a token: the only form in which a token is kept."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


@dataclass(frozen=True, slots=True)
class TokenTable:
    """The token hashes that authenticate callers on one suite, with their subjects."""

    entries: tuple[tuple[bytes, str], ...] = ()
    """(SHA-256 of a token, subject name)."""

    @classmethod
    def of(cls, entries: Iterable[tuple[bytes, str]]) -> TokenTable:
        return cls(tuple(entries))

    def subject_for(self, token: str | None) -> str | None:
        """The subject a token authenticates, or None; compares every entry in constant time."""
        if token is None:
            return None
        digest = token_hash(token)
        found: str | None = None
        for known, subject in self.entries:
            if hmac.compare_digest(known, digest) and found is None:
                found = subject
        return found

    def __len__(self) -> int:
        return len(self.entries)


# -- OpenID Connect subjects ------------------------------------------------------------


class JwtVerifier(Protocol):
    """What authentication needs of a JWT verifier (`reconciler.identity.JwtVerifier`)."""

    def cached(self, token: str, *, issuer: str, audience: str) -> Mapping[str, Any] | None:
        """Claims of a token verified before and unexpired, without any I/O."""
        ...

    async def verify(self, token: str, *, issuer: str, audience: str) -> Mapping[str, Any]:
        """Claims of a valid token; raise TokenRejected otherwise."""
        ...

    def claimed_issuer(self, token: str) -> str | None:
        """The `iss` a token claims, unverified: which issuer's keys to try."""
        ...


def claim_matches(claims: Mapping[str, Any], name: str, wanted: str) -> bool:
    """A claim equals `wanted` or, when it is a list, contains it; dotted names are nested."""
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = value[part]
    if isinstance(value, list):
        return any(_scalar_text(item) == wanted for item in value)
    return _scalar_text(value) == wanted


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class OidcGrant:
    """An OIDC subject of one ToolPermission on one suite: whose tokens it accepts."""

    key: str
    """The access key its callers get (their access is this permission's alone)."""
    subject: str
    """The subject's name, as declared."""
    issuer: str
    audience: str | None
    """None: the suite's public URL."""
    claims: tuple[tuple[str, str], ...] = ()

    def matches(self, claims: Mapping[str, Any]) -> bool:
        return all(claim_matches(claims, name, wanted) for name, wanted in self.claims)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request authenticated as."""

    key: str
    """Names the caller's access (a static subject's name, or an OIDC grant's key)."""
    sub: str | None = None
    """The token's `sub`, for OIDC callers (at most MAX_SUB characters): recorded with every
    call beside the subject's name, and bound to the sessions the caller opens."""


class Unauthenticated(Exception):
    """No valid credential: `token_sent` tells an invalid token from a missing one."""

    def __init__(self, message: str, *, token_sent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.token_sent = token_sent


async def authenticate(
    token: str | None,
    *,
    tokens: TokenTable,
    grants: tuple[OidcGrant, ...],
    verifier: JwtVerifier | None,
    default_audience: str,
) -> Principal:
    """The principal a bearer token authenticates on a suite; Unauthenticated otherwise.

    Static tokens are looked up first (a hash and a constant-time comparison). A JWT is
    then tried against each distinct (issuer, audience) of the suite's OIDC grants: a
    token verified before costs a dictionary lookup; the first grant whose claims match
    decides."""
    subject = tokens.subject_for(token)
    if subject is not None:
        return Principal(subject)
    if token is None:
        raise Unauthenticated("no bearer token was sent", token_sent=False)
    if not grants or verifier is None or token.count(".") != 2:
        raise Unauthenticated("the bearer token is not valid here", token_sent=True)
    reasons: list[str] = []
    claimed: str | None = None
    for (issuer, audience), group in _by_verifier(grants, default_audience).items():
        claims = verifier.cached(token, issuer=issuer, audience=audience)
        if claims is None:
            claimed = claimed or verifier.claimed_issuer(token) or "?"
            if claimed != issuer:  # another issuer's token: never fetch this one's keys for it
                reasons.append(f"the token was not issued by {issuer}")
                continue
            try:
                claims = await verifier.verify(token, issuer=issuer, audience=audience)
            except ReconcilerError as exc:  # TokenRejected, or the issuer cannot be reached
                reasons.append(exc.message)
                continue
        for grant in group:
            if grant.matches(claims):
                sub = claims.get("sub")
                return Principal(grant.key, sub[:MAX_SUB] if isinstance(sub, str) and sub else None)
        reasons.append("the token's claims match no subject of this suite")
    raise Unauthenticated("; ".join(dict.fromkeys(reasons)), token_sent=True)


@functools.lru_cache(maxsize=256)
def _by_verifier(
    grants: tuple[OidcGrant, ...], default_audience: str
) -> dict[tuple[str, str], list[OidcGrant]]:
    """The grants grouped by (issuer, audience); computed once per suite configuration."""
    groups: dict[tuple[str, str], list[OidcGrant]] = {}
    for grant in grants:
        groups.setdefault((grant.issuer, grant.audience or default_audience), []).append(grant)
    return groups
