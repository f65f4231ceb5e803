"""Who may see the console and act through it.

Every console request passes the gateway's host policy (DNS rebinding) first. On a
loopback listener that is all; on any other address an admin token is required, sent as
`Authorization: Bearer <token>` or as the session cookie `/ui/login` sets (an HMAC of the
token under a per-process key, never the token itself); tokens are compared in constant
time. Actions (POST) also need a CSRF token (an HMAC of the action under the per-process
key) and an `Origin` naming this very host.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request

from ..gateway import HostPolicy

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


@dataclass
class ConsoleGuard:
    """The console's checks; `admin_token` None means none was configured."""

    hosts: HostPolicy
    token_required: bool
    admin_token: bytes | None = field(default=None, repr=False)
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def _mac(self, purpose: str, value: bytes = b"") -> str:
        return hmac.new(self.key, purpose.encode() + b"\0" + value, hashlib.sha256).hexdigest()

    def session_value(self) -> str:
        assert self.admin_token is not None
        return self._mac("session", self.admin_token)

    def check_token(self, offered: str) -> bool:
        if self.admin_token is None:
            return False
        return hmac.compare_digest(offered.encode(), self.admin_token)

    def hosts_only(self, request: Request) -> None:
        """The gateway's DNS-rebinding check, which every console request passes."""
        refusal = self.hosts.refusal(request.headers.get("host"), request.headers.get("origin"))
        if refusal is not None:
            raise Refused(*refusal)

    def admit(self, request: Request) -> None:
        """Raise Refused unless the request may see the console."""
        self.hosts_only(request)
        if not self.token_required:
            return
        if self.admin_token is None:
            raise Refused(
                403,
                "the console listens on a non-loopback address and no admin token is "
                "configured: start `run` with --admin-token-from env:VAR",
            )
        authorization = request.headers.get("authorization", "")
        scheme, _, offered = authorization.partition(" ")
        if scheme.lower() == "bearer" and self.check_token(offered.strip()):
            return
        cookie = request.cookies.get(COOKIE, "")
        if cookie and hmac.compare_digest(cookie, self.session_value()):
            return
        raise Refused(401, "the console needs the admin token")

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
