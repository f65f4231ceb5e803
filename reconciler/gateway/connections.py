"""Limits on the gateway's HTTP connections: slow clients, oversized headers and one
address's share.

uvicorn's HTTP/1.1 protocol (httptools) waits for a request's headers and body as long as
the client keeps the socket open, and keeps every header line it is sent, so a client
sending a header line (or a body byte) every few seconds holds a connection forever, a
client that connects and sends nothing is never timed out, and one that never ends its
headers grows the server's memory. `GuardedHttpToolsProtocol` adds, per connection:

- a deadline for the request's headers (`header_seconds`, from the connection's start or
  the first byte of the next request),
- a deadline for the request's body (`body_seconds`, from the end of its headers),
- the idle timeout between requests (uvicorn's keep-alive timeout, `idle_seconds`),
- a cap on the size of a request's head (`header_bytes`: request line and headers; past
  it the request is answered `431` and the connection closed),
- a cap on the connections open at once from one client address (`per_client`): past it,
  a new connection is answered `503` and closed.

A response being streamed (SSE) is never timed out: the deadlines cover only what the
client sends, and once the request is complete nothing runs until the response ends.
The checks cost a few attribute writes per request: the parser's callbacks note what the
client is in the middle of sending, and a deadline is armed only when a read leaves a
request incomplete (a request that arrives in one read arms none).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may take to send a request, how large its head may be, and how
    many connections it may hold."""

    header_seconds: float = 10.0
    """Seconds for a request's headers to arrive, from the connection's start or the
    first byte of the request."""
    body_seconds: float = 30.0
    """Seconds for a request's body to arrive, from the end of its headers."""
    idle_seconds: float = 30.0
    """Seconds a keep-alive connection may sit idle between requests."""
    header_bytes: int = 16 * 1024
    """Bytes of a request's line and headers; more are answered 431."""
    per_client: int = 256
    """Connections open at once from one client address; more are answered 503."""


def _refusal(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\ncontent-length: " + b"%d" % len(text) + b"\r\n\r\n" + text
    )


_REFUSED = _refusal(b"503 Service Unavailable", b"too many connections from this client address")
_TOO_LARGE = _refusal(b"431 Request Header Fields Too Large", b"request headers too large")

Receiving = Literal["", "headers", "body"]


class ConnectionGuard:
    """The limits, and the connections open per client address, shared by one server."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open: Counter[str] = Counter()
        self.refused = 0
        """Connections refused because their address held too many."""
        self.timed_out = 0
        """Connections closed because a request's headers or body came too slowly."""

    def protocol(self, **kwargs: Any) -> GuardedHttpToolsProtocol:
        """uvicorn's protocol factory (`Config(http=guard.protocol)`)."""
        return GuardedHttpToolsProtocol(guard=self, **kwargs)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body deadlines, a head size cap and a
    per-address cap."""

    def __init__(self, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = guard
        self._address: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting: Receiving = ""
        """What the armed deadline waits for ("": none armed)."""
        self._receiving: Receiving = ""
        """What the client is in the middle of sending, as the parser last said."""
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else "unknown"
        if self.guard.open[address] >= self.guard.limits.per_client:
            self.guard.refused += 1
            self._refuse(_REFUSED)
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

    # the parser's callbacks (from within data_received) say where the request is

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._receiving = "headers"
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._receiving = "body"
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._receiving = ""
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        receiving = self._receiving
        if receiving == "headers":
            self._head_bytes += len(data)
            if self._head_bytes > self.guard.limits.header_bytes:
                self._refuse(_TOO_LARGE)
                return
        if receiving != self._waiting:
            if receiving and not self.transport.is_closing():
                self._arm(receiving)
            else:
                self._disarm()

    def _refuse(self, answer: bytes) -> None:
        """Answer `answer` and close the connection."""
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _arm(self, waiting: Receiving) -> None:
        self._disarm()
        limits = self.guard.limits
        seconds = limits.header_seconds if waiting == "headers" else limits.body_seconds
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
