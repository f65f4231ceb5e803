"""Real upstream servers behind a real gateway, and the official MCP client in front of it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from reconciler.core.desired import DesiredState
from reconciler.gateway import CallRecord, Gateway, GatewayServer, build_gateway_config
from reconciler.gateway.config import GatewayConfig
from reconciler.gateway.connections import ConnectionLimits
from reconciler.loading.loader import load_documents
from reconciler.secrets import SecretResolver
from reconciler.upstream import UpstreamConnection, stdio_transport
from tests.conftest import node_server, python_server


def everything_command() -> list[str]:
    return [*node_server("mcp-server-everything"), "stdio"]


def time_command() -> list[str]:
    return [python_server("mcp-server-time"), "--local-timezone", "UTC"]


SERVERS = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: everything}
spec: {command: node}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: time}
spec: {command: mcp-server-time}
"""


def suite(name: str, *servers: str, extra: str = "") -> str:
    members = ", ".join(f"{{name: {s}}}" for s in servers)
    return f"""
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {{name: {name}}}
spec: {{servers: [{members}]{extra}}}
"""


def desired(yaml: str) -> DesiredState:
    loaded = load_documents([("gateway.yaml", SERVERS + yaml)])
    assert loaded.ok, [str(p) for p in loaded.problems]
    return loaded.state


@dataclass
class Upstream:
    """A server process and the controller-style connection to it."""

    name: str
    process: asyncio.subprocess.Process
    connection: UpstreamConnection

    async def stop(self) -> None:
        await self.connection.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()


async def start_upstream(name: str, command: list[str]) -> Upstream:
    """Spawn a stdio server in its own process group and connect to it."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    connection = UpstreamConnection(name, stdio_transport(process.stdout, process.stdin))
    try:
        await connection.connect(timeout=30)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise
    return Upstream(name, process, connection)


@dataclass
class Registry:
    """The gateway's view of the controller's connections: live ones only."""

    upstreams: dict[str, Upstream] = field(default_factory=dict)

    def get(self, server: str) -> UpstreamConnection | None:
        upstream = self.upstreams.get(server)
        if upstream is None or upstream.connection.closed:
            return None
        return upstream.connection


@dataclass
class Started:
    """Upstream servers started for a test module, and the tools each one listed."""

    registry: Registry
    tools: dict[str, list[dict[str, Any]]]


@contextlib.asynccontextmanager
async def everything_and_time() -> AsyncIterator[Started]:
    """server-everything and mcp-server-time, started side by side and stopped at the end."""
    started = await asyncio.gather(
        start_upstream("everything", everything_command()),
        start_upstream("time", time_command()),
        return_exceptions=True,
    )
    upstreams = [u for u in started if isinstance(u, Upstream)]
    try:
        for failure in started:
            if isinstance(failure, BaseException):
                raise failure
        registry = Registry({u.name: u for u in upstreams})
        yield Started(registry, {u.name: await u.connection.list_tools() for u in upstreams})
    finally:
        for upstream in upstreams:
            await upstream.stop()


@dataclass
class Served:
    """A gateway serving on a free port, with the calls it recorded."""

    gateway: Gateway
    server: GatewayServer
    records: list[CallRecord]
    environ: dict[str, str]
    tools: dict[str, list[dict[str, Any]]]

    def url(self, suite: str, *, path: str = "mcp") -> str:
        return f"{self.server.url}/suites/{suite}/{path}"

    def config(self, yaml: str) -> GatewayConfig:
        return build_gateway_config(
            desired(yaml), self.tools, resolver=SecretResolver(environ=self.environ)
        )

    def reconfigure(self, yaml: str) -> None:
        self.gateway.update(self.config(yaml))


@contextlib.asynccontextmanager
async def serving(
    yaml: str,
    registry: Registry,
    tools: dict[str, list[dict[str, Any]]],
    *,
    environ: dict[str, str] | None = None,
    limits: ConnectionLimits | None = None,
    **options: Any,
) -> AsyncIterator[Served]:
    records: list[CallRecord] = []
    gateway = Gateway(registry, recorder=records.append, **options)
    server = GatewayServer(gateway, "127.0.0.1", 0, limits=limits)
    served = Served(gateway, server, records, environ or {}, tools)
    gateway.update(served.config(yaml))
    async with served.server:
        yield served


@contextlib.asynccontextmanager
async def mcp_client(
    url: str, *, token: str | None = None, **options: Any
) -> AsyncIterator[ClientSession]:
    """The official SDK client, initialized, sending the bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx2.Timeout(30, read=60)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, **options) as session,
    ):
        await session.initialize()
        yield session


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@contextlib.asynccontextmanager
async def oauth_client(url: str, issuer: str, client_id: str) -> AsyncIterator[ClientSession]:
    """The SDK client knowing only the suite URL and its account at the issuer."""
    auth = ClientCredentialsOAuthProvider(
        server_url=url,
        storage=MemoryStorage(),
        client_id=client_id,
        client_secret=f"{client_id}-secret",
        issuer=issuer,
    )
    async with (
        httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=60)) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def rpc_body(
    method: str, params: dict[str, Any] | None = None, *, id: int | str = 1
) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        body["params"] = params
    return body


INITIALIZE = rpc_body(
    "initialize",
    {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
    id=0,
)
ACCEPT = {"accept": "application/json, text/event-stream"}


async def open_session(http: httpx2.AsyncClient, url: str, **headers: str) -> str:
    response = await http.post(url, json=INITIALIZE, headers={**ACCEPT, **headers})
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]
