"""Where a call's messages from the server go: the `MessageSink` protocol.

While a forwarded call is in flight, the server may send messages about it: progress
(`notifications/progress`), log lines (`notifications/message`), and requests only the
calling client can answer (`sampling/createMessage`, `elicitation/create`, `roots/list`).
The gateway hands `UpstreamConnection.request` a sink for its client; the connection
delivers those messages to it, in the order they came, and sends the sink's answers back
to the server under the server's own request id.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from .errors import INVALID_REQUEST, RpcError

logger = logging.getLogger(__name__)


class MessageSink(Protocol):
    """Receives the server's messages for one call (or, as the default, for none)."""

    async def on_notification(self, method: str, params: dict[str, Any] | None) -> None:
        """A notification, params as the server sent them (a progress token is the caller's)."""
        ...

    async def on_request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        """A request from the server: return the result, or raise `RpcError` to refuse it."""
        ...


class NoClientSink:
    """The default for messages no call claims: drops notifications, refuses requests."""

    async def on_notification(self, method: str, params: dict[str, Any] | None) -> None:
        logger.debug("no client for %s from the server; dropped", method)

    async def on_request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        raise RpcError(INVALID_REQUEST, f"no client is connected to answer {method}")
