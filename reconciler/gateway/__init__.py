"""The gateway: each MCPSuite served as one MCP endpoint, with authentication, tool
permissions, rate limits and metrics.

    config = build_gateway_config(desired, tools, resolver=resolver)   # pure
    gateway = Gateway(registry, recorder=store.record_call)
    gateway.update(config)                                             # after every reconcile
    await serve(gateway, "127.0.0.1", 8765)                            # or GatewayServer
"""

from __future__ import annotations

from .config import (
    ANONYMOUS,
    GatewayConfig,
    SuiteConfig,
    ToolRoute,
    WithheldTool,
    build_gateway_config,
)
from .hosts import HostPolicy
from .metrics import GatewayMetrics
from .naming import POLICIES, Candidate, Naming, NamingPolicy
from .records import CallOutcome, CallRecord
from .server import GatewayServer, create_app, serve
from .service import CallRecorder, Gateway, ServerSink, ServerState
from .upstream_ports import Upstream, UpstreamRegistry

__all__ = [
    "ANONYMOUS",
    "POLICIES",
    "CallOutcome",
    "CallRecord",
    "CallRecorder",
    "Candidate",
    "Gateway",
    "GatewayConfig",
    "GatewayMetrics",
    "GatewayServer",
    "HostPolicy",
    "Naming",
    "NamingPolicy",
    "ServerSink",
    "ServerState",
    "SuiteConfig",
    "ToolRoute",
    "Upstream",
    "UpstreamRegistry",
    "WithheldTool",
    "build_gateway_config",
    "create_app",
    "serve",
]
