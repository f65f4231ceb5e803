"""DNS-rebinding protection: requests must name an allowed host, and come from an allowed origin.

A web page on an attacker's domain that re-points its DNS name at 127.0.0.1 can make a
browser send requests to the gateway; they carry the attacker's name in `Host` and its
origin in `Origin`. Only local names are allowed unless more are configured (`*` turns the
check off, for a gateway behind a proxy that already checks them).

`guarded` applies the policy to every HTTP request the app receives (suite endpoints,
`/healthz`, `/readyz`, `/metrics`, and any path added later): a rebinding page can read
nothing, not even suite and tool names from the metrics.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _hostname(host: str) -> str:
    """`example.com:8080` -> `example.com`; `[::1]:80` -> `::1`; lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which `Host` and `Origin` names the gateway answers."""

    allowed: frozenset[str] = frozenset(LOCAL_HOSTS)
    """Allowed host names (no port), lower-case; `*` allows every name."""

    @classmethod
    def of(cls, extra: Iterable[str] = ()) -> HostPolicy:
        """Local names plus `extra` (names or `name:port`; the port is not checked)."""
        return cls(frozenset(LOCAL_HOSTS) | {_hostname(h) for h in extra})

    def _allows(self, name: str) -> bool:
        return "*" in self.allowed or name in self.allowed

    def refusal(self, host: str | None, origin: str | None) -> tuple[int, str] | None:
        """(HTTP status, reason) when the request must be refused, else None."""
        if "*" in self.allowed:
            return None
        if not host or not self._allows(_hostname(host)):
            return 421, "Host header is not an allowed name for this gateway"
        if origin is not None:
            parts = urlsplit(origin.strip())
            if not parts.scheme or not parts.hostname or not self._allows(parts.hostname.lower()):
                return 403, "Origin is not allowed to call this gateway"
        return None


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


HEADERS_KEY = "mcp.headers"
"""Where a request's decoded headers are kept in its ASGI scope."""


def scope_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as a dict, decoded once per request and kept in the scope (a
    repeated header keeps its first value, as Starlette's lookup does)."""
    headers: dict[str, str] | None = scope.get(HEADERS_KEY)
    if headers is None:
        headers = {}
        for key, value in scope.get("headers") or ():
            name = key.decode("latin-1").lower()
            if name not in headers:
                headers[name] = value.decode("latin-1")
        scope[HEADERS_KEY] = headers
    return headers


def guarded(app: App, policy: HostPolicy) -> App:
    """`app` behind the policy: a refused request gets its status and a JSON-RPC error body."""

    async def check(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "*" not in policy.allowed:
            sent = scope_headers(scope)
            refusal = policy.refusal(sent.get("host"), sent.get("origin"))
            if refusal is not None:
                status, reason = refusal
                body = json.dumps(
                    {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": reason}}
                ).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                ]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return check
