"""What handling one client request works with: the request's context, and the narrow
surface of the gateway (`Services`) that forwarding, calls and listings use.

Everything above this module (forwarding, calls, listings, the router) depends on these
two types, not on the `Gateway` that implements them (`service.py`).
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from .config import SuiteConfig
from .exchange import Exchange
from .ratelimit import SubjectRateLimiter
from .records import CallRecord
from .rpc import RequestId
from .sessions import CallerSession
from .upstream_ports import Upstream


class Services(Protocol):
    """What handling a request needs from the gateway serving it."""

    @property
    def call_timeout(self) -> float:
        """Seconds a forwarded request may take before the client gets a timeout error."""
        ...

    @property
    def limiter(self) -> SubjectRateLimiter: ...

    def upstream(self, server: str) -> Upstream | None:
        """The server's connection, or None while it is not connected."""
        ...

    def server_info(self, server: str) -> dict[str, Any] | None:
        """The server's initialize result, as last seen (kept while it restarts)."""
        ...

    def record(self, record: CallRecord) -> None:
        """Report a finished tools/call (metrics and the recorder)."""
        ...

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` in the background; a failure is only logged."""
        ...


@dataclass(slots=True)
class RequestContext:
    """One client request being handled: who asked, on which suite, where replies go."""

    services: Services
    session: CallerSession
    suite: SuiteConfig
    exchange: Exchange
    request_id: RequestId
