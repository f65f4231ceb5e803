"""The gateway's ASGI app and how it is served in the controller's event loop.

`create_app` routes the MCP endpoints of every suite (streamable HTTP and legacy SSE),
`/healthz`, `/readyz` and `/metrics`, every one of them behind the Host/Origin check
(`hosts.py`). `GatewayServer` serves it on a TCP port inside the caller's event loop
(`reconciler.embedded_http`), with the connection limits of `connections.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..core.errors import ServerError
from ..embedded_http import EmbeddedHttpServer
from .connections import ConnectionGuard, ConnectionLimits
from .hosts import App, Receive, Scope, Send, guarded
from .http import (
    METADATA_PREFIX,
    delete_mcp,
    gateway_of,
    get_mcp,
    json_response,
    post_mcp,
    resource_metadata,
)
from .legacy_sse import legacy_messages, legacy_stream
from .service import Gateway

Endpoint = Callable[[Request], Awaitable[Response]]


async def healthz(request: Request) -> Response:
    """Alive: the process answers HTTP."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: configuration loaded, every member server connected or given up on."""
    ready, reasons = gateway_of(request).readiness()
    return json_response(
        {"status": "ready" if ready else "not ready", "waiting": reasons},
        status=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    gateway = gateway_of(request)
    gateway.collect()
    return Response(gateway.metrics.render(), media_type=gateway.metrics.content_type)


def _fixed_suite(endpoint: Endpoint, suite: str) -> Endpoint:
    async def serve_suite(request: Request) -> Response:
        request.scope["path_params"] = {**request.path_params, "suite": suite}
        return await endpoint(request)

    return serve_suite


def create_app(
    gateway: Gateway, *, root_suite: str | None = None, extra_routes: Sequence[BaseRoute] = ()
) -> App:
    """The ASGI app serving `gateway`; with `root_suite`, that suite is also served at `/mcp`
    (the bridge of a single stdio server). `extra_routes` (the web console) are served on
    the same listener."""
    root = (
        [
            Route("/mcp", _fixed_suite(post_mcp, root_suite), methods=["POST"]),
            Route("/mcp", _fixed_suite(get_mcp, root_suite), methods=["GET"]),
            Route("/mcp", _fixed_suite(delete_mcp, root_suite), methods=["DELETE"]),
        ]
        if root_suite is not None
        else []
    )
    app = Starlette(
        routes=[
            *root,
            Route("/suites/{suite:path}/mcp", post_mcp, methods=["POST"]),
            Route("/suites/{suite:path}/mcp", get_mcp, methods=["GET"]),
            Route("/suites/{suite:path}/mcp", delete_mcp, methods=["DELETE"]),
            Route("/suites/{suite:path}/sse", legacy_stream, methods=["GET"]),
            Route("/suites/{suite:path}/messages", legacy_messages, methods=["POST"]),
            Route(METADATA_PREFIX + "/suites/{suite:path}/mcp", resource_metadata, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *extra_routes,
        ]
    )
    app.state.gateway = gateway
    return guarded(_post_first(app), gateway.hosts)


def _post_first(app: Starlette) -> App:
    """`app`, with a POST to `/suites/<suite>/mcp` (nearly every request a gateway gets)
    handed straight to its endpoint: the route Starlette would pick for it, without
    matching the path against every route first. Anything else goes through the app."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and path.startswith("/suites/")
            and path.endswith("/mcp")
            and len(path) >= 12
            and not scope.get("root_path")
        ):
            scope["app"] = app
            scope["path_params"] = {"suite": path[8:-4]}
            response = await post_mcp(Request(scope, receive, send))
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    return dispatch


class GatewayServer:
    """Serves a gateway on host:port while the `async with` block runs.

    Port 0 picks a free port; `port` tells which one. Leaving the block ends every
    session (their streams close) and stops the server within `shutdown_seconds`.
    """

    def __init__(
        self,
        gateway: Gateway,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        shutdown_seconds: int = 5,
        root_suite: str | None = None,
        limits: ConnectionLimits | None = None,
        extra_routes: Sequence[BaseRoute] = (),
    ) -> None:
        self.gateway = gateway
        self.host = host
        self.connections = ConnectionGuard(limits or ConnectionLimits())
        """Open connections per client address, and how many were refused or timed out."""
        self._server = EmbeddedHttpServer(
            create_app(gateway, root_suite=root_suite, extra_routes=extra_routes),
            host=host,
            port=port,
            name="mcp-gateway",
            shutdown_seconds=shutdown_seconds,
            http=self.connections.protocol,
            timeout_keep_alive=int(max(1, self.connections.limits.idle_seconds)),
        )

    @property
    def port(self) -> int:
        """The port listened on (the one picked, when asked for port 0)."""
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind, then serve; raise ServerError when the address cannot be bound."""
        try:
            await self._server.start()
        except OSError as exc:
            raise ServerError(
                f"the gateway cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "pick another address with --listen"
            ) from None

    async def stop(self) -> None:
        self.gateway.close()
        await self._server.stop()

    async def __aenter__(self) -> GatewayServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve(gateway: Gateway, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until cancelled (the controller's `run --listen HOST:PORT`)."""
    async with GatewayServer(gateway, host, port):
        await asyncio.Event().wait()
