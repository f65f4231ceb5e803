"""DNS-rebinding protection: requests must name an allowed host, and come from an allowed origin.

A web page on an attacker's domain that re-points its DNS name at 127.0.0.1 can make a
browser send requests to the gateway; they carry the attacker's name in `Host` and its
origin in `Origin`. Only local names are allowed unless more are configured (`*` turns the
check off, for a gateway behind a proxy that already checks them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
