"""Method dispatch for the messages of clients, and for servers' messages outside calls.

Requests are answered from the configuration (initialize, tools/list), forwarded to one
server (tools/call in `calls.py`), fanned out (logging/setLevel), or handed to the
catalog (`listings.py`: resources, templates, prompts, completions). The capabilities
advertised at initialize are what the suite's servers really offer, merged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from ..discovery import Embedder
from .calls import call_tool
from .config import SuiteConfig
from .context import RequestContext, Services
from .discovery_tools import SearchMode
from .forwarding import LOG_LEVELS, forward, log_wanted
from .guards import params_problem
from .listings import Catalog
from .rpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    REQUEST_CANCELLED,
    Message,
    RpcError,
    error,
    notification,
    result,
    valid_id,
)
from .sessions import CallerSession, SessionStore

logger = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
SERVER_INFO = {"name": "mcp-reconciler-gateway", "version": "0.1.0"}

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[Message]]


def negotiate(requested: object) -> str:
    """The protocol version answered to an initialize: the client's if supported."""
    return (
        requested
        if isinstance(requested, str) and requested in SUPPORTED_VERSIONS
        else LATEST_VERSION
    )


class RouterServices(Services, Protocol):
    """What the router needs beyond a request's services: the suites, the sessions and the
    tools each subject sees."""

    @property
    def sessions(self) -> SessionStore: ...

    def suite(self, name: str) -> SuiteConfig | None: ...

    def sessions_of(self, servers: Iterable[str]) -> list[CallerSession]:
        """Open sessions of suites that include any of `servers`."""
        ...

    def visible_tools(self, suite: SuiteConfig, subject: str) -> tuple[list[dict[str, Any]], str]:
        """The tool definitions the subject may call, and a fingerprint of them."""
        ...

    def embedder(self, suite: SuiteConfig) -> Embedder | None:
        """The embedder a search suite ranks with, if it declares one that can be had."""
        ...


class Router:
    """Answers the client messages of every session of a gateway."""

    def __init__(self, gateway: RouterServices) -> None:
        self.gateway = gateway
        self.catalog = Catalog(gateway)
        self.search = SearchMode(gateway)
        self._handlers: dict[str, Handler] = {
            "ping": self._ping,
            "tools/list": self._tools_list,
            "tools/call": self._tools_call,
            "resources/list": self.catalog.resources_list,
            "resources/templates/list": self.catalog.templates_list,
            "resources/read": self.catalog.resource_request,
            "resources/subscribe": self.catalog.subscribe,
            "resources/unsubscribe": self.catalog.unsubscribe,
            "prompts/list": self.catalog.prompts_list,
            "prompts/get": self.catalog.prompts_get,
            "completion/complete": self.catalog.complete,
            "logging/setLevel": self._set_level,
        }

    # -- entry points ----------------------------------------------------------------

    def initialize(self, session: CallerSession, suite: SuiteConfig, params: Any) -> Message:
        """Record the client's side of the handshake and answer with the suite's side."""
        params = params if isinstance(params, dict) else {}
        capabilities = params.get("capabilities")
        client_info = params.get("clientInfo")
        session.capabilities = capabilities if isinstance(capabilities, dict) else {}
        session.client_info = client_info if isinstance(client_info, dict) else {}
        session.protocol_version = negotiate(params.get("protocolVersion"))
        session.visible = self.listing(suite, session)[1]
        answer: Message = {
            "protocolVersion": session.protocol_version,
            "capabilities": self.capabilities(suite),
            "serverInfo": {**SERVER_INFO, "title": f"suite {suite.name}"},
        }
        instructions = self.instructions(suite)
        if instructions:
            answer["instructions"] = instructions
        return answer

    async def request(self, ctx: RequestContext, method: str, params: Any) -> Message | None:
        """Answer one request; never raises (errors become JSON-RPC errors), None if cancelled."""
        handler = self._handlers.get(method)
        try:
            if handler is None:
                raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method[:100]}")
            if params is not None and not isinstance(params, dict):
                raise RpcError(INVALID_PARAMS, "params must be an object")
            if (refused := params_problem(params)) is not None:
                raise refused
            return result(ctx.request_id, await handler(ctx, params or {}))
        except RpcError as err:
            return error(ctx.request_id, err)
        except asyncio.CancelledError:
            # Cancelled by the client's notifications/cancelled: answer, since an HTTP
            # request needs a response (the client ignores it). Closing a session re-raises.
            task = asyncio.current_task()
            if ctx.session.closed or task is None:
                raise
            task.uncancel()
            return error(ctx.request_id, RpcError(REQUEST_CANCELLED, "Request cancelled"))
        except Exception:
            logger.exception("handling %s failed", method)
            return error(ctx.request_id, RpcError(INTERNAL_ERROR, "internal error in the gateway"))

    def notification(self, session: CallerSession, method: str, params: Any) -> None:
        """Handle a notification from the client."""
        params = params if isinstance(params, dict) else {}
        if method == "notifications/initialized":
            session.initialized = True
        elif method == "notifications/cancelled":
            request_id = params.get("requestId")
            task = session.in_flight.get(request_id) if valid_id(request_id) else None
            if task is not None:
                task.cancel()
        elif method == "notifications/progress":
            token = params.get("progressToken")
            server = session.progress_routes.get(token) if valid_id(token) else None
            upstream = self.gateway.upstream(server) if server is not None else None
            if upstream is not None:
                self.gateway.spawn(upstream.notify(method, params))

    def response(self, session: CallerSession, message: Message) -> None:
        """The client's answer to a request the gateway sent it (only this session's)."""
        future = session.pending.get(message["id"])
        if future is not None and not future.done():
            future.set_result(message)

    def upstream_notification(self, server: str, message: Message) -> None:
        """Route a server's notification sent outside any call to the sessions concerned."""
        method = message.get("method")
        params = message.get("params")
        gateway = self.gateway
        if method in ("notifications/resources/list_changed", "notifications/prompts/list_changed"):
            self.catalog.forget()
            for session in gateway.sessions_of([server]):
                if session.initialized:
                    session.push(notification(method))
        elif method == "notifications/resources/updated" and isinstance(params, dict):
            uri = params.get("uri")
            for session_id in self.catalog.subscribers(server, str(uri)):
                subscriber = gateway.sessions.get(session_id)
                if subscriber is not None:
                    subscriber.push(notification(method, params))
        elif method == "notifications/message":
            # A log line outside a call may concern any caller: only sessions of
            # suites without ToolPermissions (one trusted user) that asked for logs see it.
            for session in gateway.sessions_of([server]):
                suite = gateway.suite(session.suite)
                if (
                    suite is not None
                    and not suite.secured
                    and session.log_level is not None
                    and log_wanted(session, params)
                ):
                    session.push(message)

    # -- what the suite offers -------------------------------------------------------

    def capabilities(self, suite: SuiteConfig) -> Message:
        """What the suite's servers really offer, merged; tools always (with listChanged)."""
        merged: Message = {"tools": {"listChanged": True}}
        for server in suite.servers:
            info = self.gateway.server_info(server)
            offered = info.get("capabilities") if info else None
            if not isinstance(offered, dict):
                continue
            for name in ("resources", "prompts"):
                if isinstance(offered.get(name), dict):
                    entry = merged.setdefault(name, {})
                    for flag in ("subscribe", "listChanged"):
                        if offered[name].get(flag) is True:
                            entry[flag] = True
            for name in ("logging", "completions"):
                if isinstance(offered.get(name), dict):
                    merged[name] = {}
        if "resources" in merged or "prompts" in merged:
            for name in ("resources", "prompts"):
                if name in merged:
                    merged[name].setdefault("listChanged", True)
        return merged

    def instructions(self, suite: SuiteConfig) -> str:
        parts = [suite.description] if suite.description else []
        for server in suite.servers:
            info = self.gateway.server_info(server)
            text = info.get("instructions") if info else None
            if isinstance(text, str) and text.strip():
                parts.append(f"{server}: {text.strip()}")
        return "\n\n".join(parts)

    # -- handlers --------------------------------------------------------------------

    async def _ping(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        return {}

    def listing(self, suite: SuiteConfig, session: CallerSession) -> tuple[list[Message], str]:
        """The session's tools/list, and a fingerprint of it (a change sends list_changed)."""
        if suite.discovery == "search":
            return self.search.listing(suite, session)
        return self.gateway.visible_tools(suite, session.subject)

    async def _tools_list(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        tools, fingerprint = self.listing(ctx.suite, ctx.session)
        ctx.session.visible = fingerprint
        return {"tools": tools}

    async def _tools_call(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        if self.search.handles(ctx.suite, params.get("name")):
            return await self.search.call(ctx, params)
        return await call_tool(ctx, params)

    async def _set_level(self, ctx: RequestContext, params: dict[str, Any]) -> Message:
        level = params.get("level")
        if level not in LOG_LEVELS:
            raise RpcError(INVALID_PARAMS, f"level must be one of {', '.join(LOG_LEVELS)}")
        ctx.session.log_level = level
        servers = self.catalog.reachable(ctx, "logging")
        await asyncio.gather(
            *(forward(ctx, s, "logging/setLevel", {"level": level}) for s in servers),
            return_exceptions=True,
        )
        return {}
