"""Limits on the gateway's HTTP connections: slow clients and one address's share.

uvicorn's HTTP/1.1 protocol (h11) waits for a request's headers and body as long as the
client keeps the socket open, so a client sending a header line (or a body byte) every few
seconds holds a connection forever, and a client that connects and sends nothing is never
timed out. `GuardedH11Protocol` adds, per connection:

- a deadline for the request's headers (`header_seconds`, from the connection's start or
  the end of the previous response),
- a deadline for the request's body (`body_seconds`, from the end of its headers),
- the idle timeout between requests (uvicorn's keep-alive timeout, `idle_seconds`),
- a cap on the connections open at once from one client address (`per_client`): past it,
  a new connection is answered `503` and closed.

A response being streamed (SSE) is never timed out: the deadlines cover only what the
client sends, and once the request is complete nothing runs until the response ends.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may take to send a request, and how many connections it may hold."""

    header_seconds: float = 10.0
    """Seconds for a request's headers to arrive, from the connection's start or the end
    of the previous response."""
    body_seconds: float = 30.0
    """Seconds for a request's body to arrive, from the end of its headers."""
    idle_seconds: float = 30.0
    """Seconds a keep-alive connection may sit idle between requests."""
    per_client: int = 256
    """Connections open at once from one client address; more are answered 503."""


_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 45\r\n\r\n"
    b"too many connections from this client address"
)


class ConnectionGuard:
    """The limits, and the connections open per client address, shared by one server."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open: Counter[str] = Counter()
        self.refused = 0
        """Connections refused because their address held too many."""
        self.timed_out = 0
        """Connections closed because a request's headers or body came too slowly."""

    def protocol(self, **kwargs: Any) -> GuardedH11Protocol:
        """uvicorn's protocol factory (`Config(http=guard.protocol)`)."""
        return GuardedH11Protocol(guard=self, **kwargs)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header/body deadlines and a per-address cap."""

    def __init__(self, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = guard
        self._address: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting: str = ""
        """What the deadline waits for: "headers", "body", or "" (none armed)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else "unknown"
        if self.guard.open[address] >= self.guard.limits.per_client:
            self.guard.refused += 1
            transport.write(_REFUSED)
            transport.close()
            return
        self._address = address
        self.guard.open[address] += 1
        self._arm("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address is not None:
            self.guard.open[self._address] -= 1
            if self.guard.open[self._address] <= 0:
                del self.guard.open[self._address]
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def _follow(self) -> None:
        """Arm the deadline that matches what the client still has to send."""
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.our_state is h11.IDLE:
            if self._waiting != "headers" and self.timeout_keep_alive_task is None:
                self._arm("headers")
        elif state is h11.SEND_BODY:
            if self._waiting != "body":
                self._arm("body")
        else:
            self._disarm()

    def _arm(self, waiting: str) -> None:
        self._disarm()
        seconds = (
            self.guard.limits.header_seconds
            if waiting == "headers"
            else self.guard.limits.body_seconds
        )
        self._waiting = waiting
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._waiting = ""

    def _expired(self) -> None:
        self._deadline = None
        self._waiting = ""
        if not self.transport.is_closing():
            self.guard.timed_out += 1
            self.transport.close()
