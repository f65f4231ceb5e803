"""Who may see the console and act through it.

Every console request passes the gateway's host policy (DNS rebinding) first. On a
loopback listener that is all; on any other address an admin credential is required: the
admin token, or a JWT of the configured OIDC issuer and audience whose claims match every
configured admin claim (`AdminOidc`). Either is sent as `Authorization: Bearer <token>`
or exchanged at `/ui/login` for a session cookie (an HMAC under a per-process key, never
the token itself; an OIDC session ends when its token expires); tokens are compared in
constant time, JWTs verified by the gateway's verifier (signature, `iss`, `aud`, expiry).
Actions (POST) also need a CSRF token (an HMAC of the action under the per-process key)
and an `Origin` naming this very host.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from ..core.errors import ReconcilerError
from ..gateway import HostPolicy
from ..gateway.auth import JwtVerifier, bearer_token, claim_matches

COOKIE = "mcp_console"


def needs_admin_token(listen_host: str) -> bool:
    """True unless the listener is on a loopback address (or `localhost`)."""
    if listen_host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(listen_host).is_loopback
    except ValueError:
        return True  # a host name other than localhost may resolve anywhere


@dataclass(frozen=True)
class Refused(Exception):
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class AdminOidc:
    """Who counts as an admin by OIDC: tokens of `issuer` for `audience` whose claims
    match every `(name, value)` of `claims` (equal, or contained in a list claim; dotted
    names are nested), as a ToolPermission's `oidc` subject is matched."""

    issuer: str
    audience: str
    claims: tuple[tuple[str, str], ...]

    def matches(self, claims: Mapping[str, Any]) -> bool:
        return bool(self.claims) and all(
            claim_matches(claims, name, wanted) for name, wanted in self.claims
        )


@dataclass
class ConsoleGuard:
    """The console's checks; `admin_token` and `oidc` None mean none was configured."""

    hosts: HostPolicy
    token_required: bool
    admin_token: bytes | None = field(default=None, repr=False)
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    oidc: AdminOidc | None = None
    verifier: JwtVerifier | None = field(default=None, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def _mac(self, purpose: str, value: bytes = b"") -> str:
        return hmac.new(self.key, purpose.encode() + b"\0" + value, hashlib.sha256).hexdigest()

    def session_value(self) -> str:
        assert self.admin_token is not None
        return self._mac("session", self.admin_token)

    def check_token(self, offered: str) -> bool:
        if self.admin_token is None:
            return False
        return hmac.compare_digest(offered.encode(), self.admin_token)

    async def check_oidc(self, offered: str) -> float:
        """The expiry of a JWT that makes its bearer an admin; Refused (saying why) else."""
        if self.oidc is None or self.verifier is None or offered.count(".") != 2:
            raise Refused(401, "the console needs an admin credential")
        if self.verifier.claimed_issuer(offered) != self.oidc.issuer:
            raise Refused(401, f"the token was not issued by {self.oidc.issuer}")
        try:
            claims = await self.verifier.verify(
                offered, issuer=self.oidc.issuer, audience=self.oidc.audience
            )
        except ReconcilerError as error:
            raise Refused(401, error.message) from None
        if not self.oidc.matches(claims):
            raise Refused(401, "the token's claims match no console admin")
        return float(claims["exp"])

    def oidc_session_value(self, expires: float) -> str:
        stamp = str(int(expires))
        return f"oidc.{stamp}.{self._mac('oidc-session', stamp.encode())}"

    def _session_ok(self, cookie: str) -> bool:
        if self.admin_token is not None and hmac.compare_digest(cookie, self.session_value()):
            return True
        kind, _, rest = cookie.partition(".")
        stamp, _, mac = rest.partition(".")
        if self.oidc is None or kind != "oidc" or not stamp.isdigit():
            return False
        fresh = int(stamp) > self.clock()
        return hmac.compare_digest(mac, self._mac("oidc-session", stamp.encode())) and fresh

    def hosts_only(self, request: Request) -> None:
        """The gateway's DNS-rebinding check, which every console request passes."""
        refusal = self.hosts.refusal(request.headers.get("host"), request.headers.get("origin"))
        if refusal is not None:
            raise Refused(*refusal)

    async def admit(self, request: Request) -> None:
        """Raise Refused unless the request may see the console."""
        self.hosts_only(request)
        if not self.token_required:
            return
        if self.admin_token is None and self.oidc is None:
            raise Refused(
                403,
                "the console listens on a non-loopback address and no admin credential is "
                "configured: start `run` with --admin-token-from env:VAR "
                "(or --admin-oidc-issuer with --admin-oidc-audience and --admin-oidc-claim)",
            )
        offered = bearer_token(request.headers.get("authorization"))
        if offered is not None:
            if self.check_token(offered):
                return
            if self.oidc is not None:
                await self.check_oidc(offered)
                return
        cookie = request.cookies.get(COOKIE, "")
        if cookie and self._session_ok(cookie):
            return
        wanted = "the admin token or an admin's OIDC token" if self.oidc else "the admin token"
        raise Refused(401, f"the console needs {wanted}")

    def csrf_token(self, action: str) -> str:
        return self._mac("csrf", action.encode())

    def check_action(self, request: Request, action: str, offered: str) -> None:
        """CSRF: the form's token must match, and the Origin must be this host."""
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin is None or urlsplit(origin).netloc.lower() != host.lower():
            raise Refused(403, "cross-origin request refused (Origin must be this console)")
        if not hmac.compare_digest(offered, self.csrf_token(action)):
            raise Refused(403, "missing or invalid CSRF token; reload the page")
