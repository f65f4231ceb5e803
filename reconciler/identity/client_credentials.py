"""OAuth 2.0 client-credentials tokens for remote MCP servers (RFC 6749 section 4.4).

`ClientCredentials.token()` returns a cached access token, fetching a new one when there is
none or when the cached one expires within `refresh_margin_seconds` (a quarter of its
lifetime for short-lived tokens). `refresh(stale)` is
what a 401 from the resource server calls: it fetches a new token unless another caller
already replaced `stale`. Concurrent callers share one request to the token endpoint.

The client authenticates with HTTP Basic (`client_secret_basic`, the method every
authorization server must support). A failure is an `AuthorizationServerError` whose reason
says what went wrong:

    OAuthClientRejected (fatal)       400/401 invalid_client or unauthorized_client (or a
                                      bare 401): the client id or secret is wrong, or the
                                      client may not use this grant
    OAuthScopeRejected (fatal)        400 invalid_scope or invalid_target: the scopes or the
                                      audience asked for are not granted to the client
    TokenEndpointUnavailable          no answer (refused, timed out) or 5xx / 429
    TokenEndpointFailed               any other answer that is not a Bearer token

Neither the secret nor any token ever appears in an error message: errors carry the
endpoint, the HTTP status, the OAuth `error` code and its description (with the secret
blanked out, should a server echo it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from ..core.errors import (
    OAUTH_CLIENT_REJECTED,
    OAUTH_SCOPE_REJECTED,
    TOKEN_ENDPOINT_FAILED,
    TOKEN_ENDPOINT_UNAVAILABLE,
    AuthorizationServerError,
)
from .keys import check_endpoint

DEFAULT_LIFETIME_SECONDS = 300.0
"""Lifetime assumed for a token whose response has no `expires_in`."""
CLIENT_REFUSALS = frozenset({"invalid_client", "unauthorized_client"})
"""OAuth error codes refusing the client itself: retrying cannot fix them."""
SCOPE_REFUSALS = frozenset({"invalid_scope", "invalid_target"})
"""OAuth error codes refusing what the client asked for: retrying cannot fix them."""


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float
    """When to fetch the next one: before expiry by the margin, or a quarter of a short
    lifetime."""


class ClientCredentials:
    """Access tokens of one OAuth client at one token endpoint."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str] = (),
        audience: str | None = None,
        refresh_margin_seconds: float = 60.0,
        timeout_seconds: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_url = check_endpoint(token_url, what="tokenUrl")
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = tuple(scopes)
        self._audience = audience
        self._margin = refresh_margin_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._current: _Token | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """Tokens requested from the endpoint so far."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Texts that must never be shown: the secret and the current token."""
        current = (self._current.value,) if self._current is not None else ()
        return (self._client_secret, *current)

    async def token(self) -> str:
        """A token valid for at least `refresh_margin_seconds` more (or a fresh one)."""
        current = self._current
        if current is not None and current.refresh_at > self._clock():
            return current.value
        async with self._lock:
            current = self._current
            if current is not None and current.refresh_at > self._clock():
                return current.value
            return await self._fetch()

    async def refresh(self, stale: str | None) -> str:
        """A new token after the resource server refused `stale`."""
        async with self._lock:
            current = self._current
            if current is not None and current.value != stale:
                return current.value
            return await self._fetch()

    async def _fetch(self) -> str:
        form = {"grant_type": "client_credentials"}
        if self._scopes:
            form["scope"] = " ".join(self._scopes)
        if self._audience:
            form["audience"] = self._audience
            form["resource"] = self._audience
        # RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding.
        auth = httpx.BasicAuth(quote(self._client_id, safe=""), quote(self._client_secret, safe=""))
        self.fetches += 1
        started = self._clock()
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.post(
                    self.token_url, data=form, auth=auth, headers={"accept": "application/json"}
                )
        except httpx.TimeoutException:
            raise AuthorizationServerError(
                f"the token endpoint {self.token_url} did not answer within {self._timeout:g}s",
                reason=TOKEN_ENDPOINT_UNAVAILABLE,
            ) from None
        except httpx.HTTPError as exc:
            raise AuthorizationServerError(
                f"the token endpoint {self.token_url} cannot be reached ({type(exc).__name__})",
                reason=TOKEN_ENDPOINT_UNAVAILABLE,
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            raise self._refusal(response.status_code, body if isinstance(body, dict) else {})
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise AuthorizationServerError(
                f"the token endpoint {self.token_url} answered without an access_token",
                reason=TOKEN_ENDPOINT_FAILED,
            )
        token_type = body.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise AuthorizationServerError(
                f"the token endpoint {self.token_url} issued a {str(token_type)[:20]!r} token; "
                "only Bearer tokens are supported",
                reason=TOKEN_ENDPOINT_FAILED,
            )
        lifetime = body.get("expires_in")
        seconds = (
            float(lifetime)
            if isinstance(lifetime, int | float) and lifetime > 0
            else DEFAULT_LIFETIME_SECONDS
        )
        self._current = _Token(value, started + seconds - min(self._margin, seconds / 4))
        return value

    def _refusal(self, status: int, body: dict[str, object]) -> AuthorizationServerError:
        """The error for an answer that is not a token, by what the endpoint said."""
        code = body.get("error")
        code = code if isinstance(code, str) else None
        said = f"HTTP {status}" + (f" ({_printable(code, 60)})" if code else "")
        description = body.get("error_description")
        if isinstance(description, str) and description.strip():
            for secret in {self._client_secret, quote(self._client_secret, safe="")}:
                if secret:
                    description = description.replace(secret, "[redacted]")
            said += f": {_printable(description, 200)}"
        where = f"the token endpoint {self.token_url}"
        if status in (400, 401) and (code in CLIENT_REFUSALS or (status == 401 and not code)):
            return AuthorizationServerError(
                f"{where} refused client {self._client_id}: {said}; check auth.oauth2.clientId "
                "and the secret clientSecret names, and that the client may use the "
                "client-credentials grant",
                reason=OAUTH_CLIENT_REJECTED,
                fatal=True,
            )
        if status == 400 and code in SCOPE_REFUSALS:
            return AuthorizationServerError(
                f"{where} refused what client {self._client_id} asked for: {said}; check "
                "auth.oauth2.scopes and auth.oauth2.audience against what the client is "
                "granted",
                reason=OAUTH_SCOPE_REJECTED,
                fatal=True,
            )
        if status >= 500 or status == 429:
            return AuthorizationServerError(
                f"{where} is unavailable: {said}", reason=TOKEN_ENDPOINT_UNAVAILABLE
            )
        return AuthorizationServerError(
            f"{where} answered client {self._client_id} without a token: {said}",
            reason=TOKEN_ENDPOINT_FAILED,
        )


def _printable(text: str, limit: int) -> str:
    """`text` on one line, unprintable characters dropped, cut at `limit` characters."""
    shown = "".join(c for c in " ".join(text.split()) if c.isprintable())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
