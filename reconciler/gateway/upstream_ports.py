"""What the gateway needs from the controller's upstream connections, and how their errors map.

The gateway forwards over the controller's persistent sessions (reconciler.upstream); it
depends only on this small surface, so the controller decides how servers are started,
connected and restarted.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..core.errors import ReconcilerError
from ..upstream.errors import RequestTimedOut, ServerUnavailable
from ..upstream.sinks import MessageSink
from .rpc import INTERNAL_ERROR, REQUEST_TIMEOUT, SERVER_UNAVAILABLE, Message, RpcError


class Upstream(Protocol):
    """A connected MCP server (reconciler.upstream's connection)."""

    @property
    def initialize_result(self) -> dict[str, Any]:
        """The server's raw initialize result (capabilities, serverInfo, instructions)."""
        ...

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        sink: MessageSink | None = None,
    ) -> Message:
        """Send a request and return its raw result; `sink` receives the call's messages."""
        ...

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification."""
        ...


class UpstreamRegistry(Protocol):
    """Where the gateway finds the connection of a server."""

    def get(self, server: str) -> Upstream | None:
        """The server's connection, or None while it is not connected."""
        ...


def rpc_error(exc: Exception, *, server: str) -> RpcError:
    """The JSON-RPC error a client gets when forwarding to `server` failed with `exc`."""
    if isinstance(exc, RpcError):
        return exc
    if isinstance(exc, RequestTimedOut):
        return RpcError(REQUEST_TIMEOUT, exc.message)
    if isinstance(exc, TimeoutError):
        return RpcError(REQUEST_TIMEOUT, f"server {server} did not answer in time")
    if isinstance(exc, ServerUnavailable):
        return RpcError(SERVER_UNAVAILABLE, exc.message)
    if isinstance(exc, ReconcilerError):
        return RpcError(SERVER_UNAVAILABLE, f"server {server}: {exc.message}")
    return RpcError(INTERNAL_ERROR, f"forwarding to server {server} failed")


def unavailable(server: str) -> RpcError:
    return RpcError(
        SERVER_UNAVAILABLE, f"server {server!r} is not connected; retry once it is back"
    )
