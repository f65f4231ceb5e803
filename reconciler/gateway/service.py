"""The Gateway: the running service that serves each suite as one MCP endpoint.

It holds the current `GatewayConfig` (swapped atomically by `update`: calls in flight
finish on the configuration they started with), the client sessions, the rate-limit
buckets and the metrics, and finds upstream connections through a registry the controller
provides. The HTTP side lives in `http.py`, method handling in `router.py` and `calls.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Literal

from ..core.models import qualified_name
from ..discovery import Embedder
from .auth import JwtVerifier
from .config import GatewayConfig, SuiteConfig
from .hosts import HostPolicy
from .metrics import GatewayMetrics
from .ratelimit import SubjectRateLimiter
from .records import CallRecord
from .router import Router
from .rpc import METHOD_NOT_FOUND, Message, RpcError, notification
from .sessions import CallerSession, SessionStore
from .upstream_ports import Upstream, UpstreamRegistry

logger = logging.getLogger(__name__)

ServerState = Literal["starting", "up", "down", "failed"]
"""`failed`: given up on (Stalled); the gateway is ready without it."""

CallRecorder = Callable[[CallRecord], None]
EmbedderSource = Callable[[str, str, str], Embedder | None]
"""(namespace, LLMProvider, model) -> the embedder of that provider, None when there is none."""


class Gateway:
    """Serves the suites of the current configuration over the registry's upstreams."""

    def __init__(
        self,
        upstreams: UpstreamRegistry,
        *,
        recorder: CallRecorder | None = None,
        metrics: GatewayMetrics | None = None,
        hosts: HostPolicy | None = None,
        call_timeout: float = 300.0,
        max_body_bytes: int = 4 * 1024 * 1024,
        sessions: SessionStore | None = None,
        embedders: EmbedderSource | None = None,
        verifier: JwtVerifier | None = None,
        public_url: str | None = None,
    ) -> None:
        self.upstreams = upstreams
        self.embedders = embedders
        self.recorder = recorder
        self.metrics = metrics or GatewayMetrics()
        self.hosts = hosts or HostPolicy()
        self.call_timeout = call_timeout
        """Seconds a forwarded request may take before the client gets a timeout error."""
        self.max_body_bytes = max_body_bytes
        self.verifier = verifier
        """Verifies the JWTs of OIDC subjects (None: only static tokens authenticate)."""
        self.public_url = public_url.rstrip("/") if public_url else None
        """The external base URL (`run --public-url`); None: each request's own."""
        self.sessions = sessions or SessionStore()
        self.limiter = SubjectRateLimiter()
        self.router = Router(self)
        self.sessions.on_remove = self.router.catalog.drop_subscriptions
        self._config: GatewayConfig | None = None
        self._states: dict[str, ServerState] = {}
        self._health: dict[str, bool] = {}
        self._reported: set[str] = set()
        self._server_info: dict[str, dict[str, Any]] = {}
        self._visible: dict[tuple[str, str], tuple[list[dict[str, Any]], str]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # -- configuration -------------------------------------------------------------

    @property
    def config(self) -> GatewayConfig | None:
        return self._config

    def suite(self, name: str) -> SuiteConfig | None:
        config = self._config
        return config.suites.get(name) if config is not None else None

    def update(self, config: GatewayConfig) -> None:
        """Serve `config` from now on; sessions whose visible tools changed get list_changed."""
        self._config = config
        self._visible = {}
        self.metrics.set_withheld(
            {qualified_name(ns, name): len(v.withheld) for (ns, name), v in config.locks.items()}
        )
        self.router.catalog.forget()
        self.router.search.forget(config.suites)
        for session in self.sessions:
            suite = config.suites.get(session.suite)
            if suite is None:
                self.sessions.remove(session.id)
                continue
            _, fingerprint = self.router.listing(suite, session)
            if session.visible != fingerprint:
                session.visible = fingerprint
                if session.initialized:
                    session.push(notification("notifications/tools/list_changed"))
        live = {(s.name, subject) for s in config.suites.values() for subject in s.access}
        self.limiter.forget(lambda key: (key[0], key[1]) in live)
        for name in self._reported - config.servers:
            self._states.pop(name, None)
            self._health.pop(name, None)
            self.metrics.forget_server(name)
        self._reported &= config.servers

    def embedder(self, suite: SuiteConfig) -> Embedder | None:
        """The embedder of a search suite that declares embeddings, when it can be had."""
        if suite.embeddings is None or self.embedders is None:
            return None
        return self.embedders(suite.namespace, *suite.embeddings)

    def visible_tools(self, suite: SuiteConfig, subject: str) -> tuple[list[dict[str, Any]], str]:
        """The tool definitions the subject may call, and a fingerprint of them."""
        key = (suite.name, subject)
        cached = self._visible.get(key)
        if (
            cached is None
            or self._config is None
            or self._config.suites.get(suite.name) is not suite
        ):
            access = suite.access_for(subject)
            tools = [
                dict(route.definition)
                for route in suite.tools.values()
                if access.allows(route.server, route.tool)
            ]
            digest = hashlib.sha256(
                json.dumps(tools, sort_keys=True, default=str).encode()
            ).hexdigest()
            cached = (tools, digest)
            if self._config is not None and self._config.suites.get(suite.name) is suite:
                self._visible[key] = cached
        return cached

    # -- servers -------------------------------------------------------------------

    def upstream(self, server: str) -> Upstream | None:
        return self.upstreams.get(server)

    def server_info(self, server: str) -> dict[str, Any] | None:
        """The server's initialize result, as last seen (kept while it restarts)."""
        upstream = self.upstreams.get(server)
        if upstream is not None:
            try:
                info = upstream.initialize_result
            except Exception:  # a connection still handshaking
                info = None
            if isinstance(info, dict):
                self._server_info[server] = info
        return self._server_info.get(server)

    def set_server_state(
        self, server: str, state: ServerState, *, healthy: bool | None = None
    ) -> None:
        """Reported by the controller: `failed` servers do not hold up /readyz, and
        `healthy` (the last health check) feeds `mcp_server_healthy`."""
        self._states[server] = state
        if healthy is not None:
            self._health[server] = healthy

    def collect(self) -> None:
        """Bring the gauges up to date before a scrape: sessions per suite, servers up."""
        config = self._config
        if config is None:
            return
        for name in config.suites:
            self.metrics.sessions.labels(name).set(self.sessions.count(name))
        for server in config.servers:
            up = self.upstreams.get(server) is not None
            self.metrics.set_server_state(server, up=up, healthy=self._health.get(server, up))
            self._reported.add(server)

    def readiness(self) -> tuple[bool, list[str]]:
        """Ready when the config is loaded and every member server is connected or failed."""
        config = self._config
        if config is None:
            return False, ["no configuration loaded yet"]
        waiting = [
            server
            for server in sorted(config.servers)
            if self._states.get(server) != "failed" and self.upstreams.get(server) is None
        ]
        return not waiting, [f"server {s} is not connected yet" for s in waiting]

    def upstream_notification(self, server: str, message: Message) -> None:
        """A notification a server sent outside any call (the controller forwards them)."""
        self.router.upstream_notification(server, message)

    def sessions_of(self, servers: Iterable[str]) -> list[CallerSession]:
        """Open sessions of suites that include any of `servers`."""
        wanted = set(servers)
        config = self._config
        if config is None:
            return []
        return [
            s
            for s in self.sessions
            if (suite := config.suites.get(s.suite)) is not None and wanted & set(suite.servers)
        ]

    def record(self, record: CallRecord) -> None:
        self.metrics.observe_call(
            suite=record.suite,
            server=record.server,
            tool=record.tool,
            outcome=record.outcome,
            seconds=record.duration_ms / 1000,
            code=record.error_code,
        )
        if self.recorder is not None:
            try:
                self.recorder(record)
            except Exception:
                logger.exception("the call recorder failed; the call itself was served")

    def end_session(self, session: CallerSession) -> None:
        """End a session (DELETE, or its legacy stream closed): calls stop, subscriptions end."""
        self.sessions.remove(session.id)

    def server_sink(self, server: str) -> ServerSink:
        """A MessageSink for what `server` sends outside any call (its default sink)."""
        return ServerSink(self, server)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` in the background; a failure is only logged (best-effort upstream calls)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("a background request upstream failed: %s", task.exception())

    def close(self) -> None:
        """End every session (their streams close)."""
        self.sessions.close_all()


class ServerSink:
    """Routes a server's messages that belong to no call: notifications to the sessions
    concerned; requests are refused (no single client can answer them)."""

    def __init__(self, gateway: Gateway, server: str) -> None:
        self.gateway = gateway
        self.server = server

    async def on_notification(self, method: str, params: dict[str, Any] | None) -> None:
        self.gateway.upstream_notification(self.server, notification(method, params))

    async def on_request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        raise RpcError(
            METHOD_NOT_FOUND,
            f"{method} outside a call cannot be routed to a client of the gateway",
        )
