"""A persistent MCP session to one server: handshake, health, discovery, raw forwarding.

The controller opens one `UpstreamConnection` per running server and keeps it for the
server's life; the controller's pings and listings and every client call the gateway
forwards share it. Typed operations check the server's answers against the SDK's models
for the negotiated protocol version, but return the dicts as the server sent them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from mcp_types.methods import validate_server_result
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError

from .. import __version__
from ..core.errors import ReconcilerError, ServerError
from .channel import RpcChannel
from .errors import RpcError, ServerUnavailable
from .sinks import MessageSink
from .transport import StdioTransport, Transport, TransportClosed

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = "2025-11-25"
"""The version offered in `initialize`. Pinned, not negotiated up to 2026-07-28: from that
version on, sampling and elicitation requests have no way back to the client."""

CLIENT_CAPABILITIES: dict[str, Any] = {
    "roots": {"listChanged": True},
    "sampling": {},
    "elicitation": {"form": {}, "url": {}},
}
"""Offered to every server: the gateway forwards these requests to whichever client made
the call (and refuses them when that client cannot answer)."""

CLIENT_INFO: dict[str, Any] = {"name": "mcp-reconciler", "version": __version__}

MAX_PAGES = 1000
"""A listing longer than this many pages is taken for a server bug."""

ListKind = Literal["tools", "resources", "prompts"]
ListChangedCallback = Callable[[ListKind], Awaitable[None]]

_LIST_CHANGED: dict[str, ListKind] = {
    "notifications/tools/list_changed": "tools",
    "notifications/resources/list_changed": "resources",
    "notifications/prompts/list_changed": "prompts",
}


class UpstreamConnection:
    """One MCP session to one server, shared by the controller and the gateway."""

    def __init__(
        self,
        name: str,
        transport: Transport,
        *,
        capabilities: dict[str, Any] | None = None,
        client_info: dict[str, Any] | None = None,
        on_list_changed: ListChangedCallback | None = None,
        default_sink: MessageSink | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.on_list_changed = on_list_changed
        """Awaited (in a task of its own) when the server says a list changed."""
        self._capabilities = CLIENT_CAPABILITIES if capabilities is None else capabilities
        self._client_info = client_info or CLIENT_INFO
        self._channel = RpcChannel(
            name, transport, default_sink=default_sink, observer=self._observe
        )
        self._initialize_result: dict[str, Any] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ----------------------------------------------------------------------

    async def connect(self, *, timeout: float = 30.0) -> dict[str, Any]:
        """Open the transport and run the MCP handshake; return the initialize result.

        Raises `ServerError` saying what went wrong (the connection is closed then), with
        the reason of the transport's typed failure when there is one (`OAuthClientRejected`,
        `UpstreamUnauthorized`, ...).
        """
        where = f"{self.name!r} ({self.transport.label})"
        try:
            async with asyncio.timeout(timeout):
                await self.transport.start()
                self._channel.start()
                result = await self._channel.request(
                    "initialize",
                    {
                        "protocolVersion": PROTOCOL_VERSION,
                        "capabilities": self._capabilities,
                        "clientInfo": self._client_info,
                    },
                )
                self.transport.protocol_version = self._check_initialize(result)
                self._initialize_result = result  # before the server can announce changes
                await self._channel.notify("notifications/initialized")
        except BaseException as exc:
            self._initialize_result = None
            await self.close()
            cause = self.transport.failure_error
            if cause is not None and isinstance(exc, TransportClosed | ServerUnavailable):
                raise ServerError.caused_by(
                    f"could not connect to server {where}: {cause.message}", cause
                ) from None
            if isinstance(exc, TimeoutError):
                raise ServerError(
                    f"server {where} did not finish the MCP handshake within {timeout:g}s: "
                    "check that it speaks MCP on this transport, or raise the timeout"
                ) from None
            if isinstance(exc, TransportClosed):
                raise ServerError(f"could not connect to server {where}: {exc}") from None
            if isinstance(exc, ServerUnavailable):
                hint = (
                    "check its command, arguments and stderr"
                    if isinstance(self.transport, StdioTransport)
                    else "check that the server is up at that URL"
                )
                raise ServerError(
                    f"server {where} closed the connection during the MCP handshake "
                    f"({self._channel.close_reason}): {hint}"
                ) from None
            if isinstance(exc, RpcError):
                raise ServerError(
                    f"server {where} refused the MCP handshake: {exc.message} "
                    f"(JSON-RPC error {exc.code})"
                ) from None
            raise
        return result

    async def close(self) -> None:
        """Close the session; calls still waiting fail with `ServerUnavailable`."""
        for task in list(self._tasks):
            task.cancel()
        await self._channel.close()

    @property
    def closed(self) -> bool:
        """True once the transport is gone (process exit, HTTP failure, or `close`)."""
        return self._channel.closed

    async def wait_closed(self) -> None:
        """Return when the connection has closed, for whatever reason."""
        await self._channel.wait_closed()

    @property
    def close_reason(self) -> str | None:
        """Why the connection closed, once it has."""
        return self._channel.close_reason

    @property
    def failure_error(self) -> ReconcilerError | None:
        """The typed error that closed the transport, when one did (see `Transport`)."""
        return self.transport.failure_error

    # -- what the handshake said --------------------------------------------------------

    @property
    def initialize_result(self) -> dict[str, Any]:
        """The server's initialize result, as it sent it."""
        if self._initialize_result is None:
            raise RuntimeError(f"connection to {self.name!r} is not connected yet")
        return self._initialize_result

    @property
    def protocol_version(self) -> str:
        return str(self.initialize_result["protocolVersion"])

    @property
    def server_info(self) -> dict[str, Any]:
        return dict(self.initialize_result.get("serverInfo") or {})

    @property
    def server_capabilities(self) -> dict[str, Any]:
        return dict(self.initialize_result.get("capabilities") or {})

    @property
    def instructions(self) -> str | None:
        text = self.initialize_result.get("instructions")
        return text if isinstance(text, str) else None

    # -- raw forwarding -----------------------------------------------------------------

    @property
    def default_sink(self) -> MessageSink:
        """Receives server messages no call claims (see `channel`); settable."""
        return self._channel.default_sink

    @default_sink.setter
    def default_sink(self, sink: MessageSink) -> None:
        self._channel.default_sink = sink

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        sink: MessageSink | None = None,
    ) -> dict[str, Any]:
        """Forward one request and return the server's result dict unchanged.

        `sink` receives this call's progress, log lines and server requests while it is
        in flight. Raises `RpcError` (the server's JSON-RPC error, unchanged),
        `RequestTimedOut` after `timeout` seconds, or `ServerUnavailable`. Cancelling the
        awaiting task sends notifications/cancelled for the request.
        """
        return await self._channel.request(method, params, timeout=timeout, sink=sink)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Forward one notification (e.g. notifications/roots/list_changed)."""
        await self._channel.notify(method, params)

    # -- typed operations ---------------------------------------------------------------

    async def ping(self, *, timeout: float) -> float:
        """Ping the server; return the round trip in seconds."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await self._channel.request("ping", None, timeout=timeout)
        self._validate("ping", result)
        return loop.time() - started

    # A listing's timeout bounds each page's request; one that expires is cancelled upstream.

    async def list_tools(self, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """Every tool, following `nextCursor` to the last page."""
        return await self._list_all("tools/list", "tools", timeout)

    async def list_resources(self, *, timeout: float | None = None) -> list[dict[str, Any]]:
        return await self._list_all("resources/list", "resources", timeout)

    async def list_resource_templates(
        self,
        *,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        return await self._list_all("resources/templates/list", "resourceTemplates", timeout)

    async def list_prompts(self, *, timeout: float | None = None) -> list[dict[str, Any]]:
        return await self._list_all("prompts/list", "prompts", timeout)

    async def _list_all(self, method: str, key: str, timeout: float | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursors: set[str] = set()
        params: dict[str, Any] | None = None
        for _ in range(MAX_PAGES):
            page = await self._channel.request(method, params, timeout=timeout)
            self._validate(method, page)
            items.extend(page[key])
            cursor = page.get("nextCursor")
            if cursor is None:
                return items
            if cursor in cursors:
                raise ServerError(f"server {self.name!r} repeated cursor {cursor!r} in {method}")
            cursors.add(cursor)
            params = {"cursor": cursor}
        raise ServerError(f"server {self.name!r} sent more than {MAX_PAGES} pages of {method}")

    # -- checks and notifications -------------------------------------------------------

    def _check_initialize(self, result: dict[str, Any]) -> str:
        version = result.get("protocolVersion")
        if version not in HANDSHAKE_PROTOCOL_VERSIONS:
            raise ServerError(
                f"server {self.name!r} answered initialize with protocol version {version!r}; "
                f"this controller speaks {', '.join(HANDSHAKE_PROTOCOL_VERSIONS)}"
            )
        self._validate("initialize", result, version=str(version))
        return str(version)

    def _validate(self, method: str, result: dict[str, Any], *, version: str | None = None) -> None:
        """Check a result against the SDK's model for the negotiated version."""
        if version is None:
            version = self.protocol_version
        try:
            validate_server_result(method, version, result)
        except KeyError:
            return  # a method this version does not define: nothing to check against
        except (ValidationError, ValueError) as exc:
            raise ServerError(
                f"server {self.name!r} sent an invalid {method} result: {_first_error(exc)}"
            ) from None

    def _observe(self, method: str, params: dict[str, Any] | None) -> None:
        kind = _LIST_CHANGED.get(method)
        callback = self.on_list_changed
        if kind is None or callback is None:
            return
        task = asyncio.create_task(self._call_list_changed(callback, kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call_list_changed(self, callback: ListChangedCallback, kind: ListKind) -> None:
        try:
            await callback(kind)
        except Exception:
            logger.exception("server %s: the %s list-changed callback failed", self.name, kind)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}"
    return str(exc)
