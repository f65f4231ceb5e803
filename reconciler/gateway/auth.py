"""Bearer-token authentication: tokens are kept only as SHA-256 hashes.

A presented token is hashed and compared with every known hash of the suite in constant
time (`hmac.compare_digest`), so neither the token nor which subject it belongs to leaks
through timing. The token itself is never stored, logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass


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
