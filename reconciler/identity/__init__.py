"""Identity at the edges: verifying callers' JWTs, and OAuth tokens for remote servers.

- `tokens.JwtVerifier`: verifies a JWT against its issuer's keys (`keys.IssuerKeys`:
  discovery, JWKS cache, rate-limited refetch on key rotation) and caches verified tokens
  until they expire.
- `client_credentials.ClientCredentials`: the OAuth 2.0 client-credentials grant, with the
  token cached and refreshed before expiry or after a 401.

PyJWT (with `cryptography`) does every signature check; this package only decides which
key and which algorithm a token may use. It imports `jwt` and `httpx`; nothing else in
the project imports `jwt`.
"""

from __future__ import annotations

from .client_credentials import ClientCredentials
from .keys import IssuerKeys
from .tokens import Claims, JwtVerifier, unverified_issuer

__all__ = ["Claims", "ClientCredentials", "IssuerKeys", "JwtVerifier", "unverified_issuer"]
