"""ServerRunner: keeps one declared server running — start, discover, health-check, restart.

One runner (one asyncio task) per server that should run. Its life:

    start ──► Starting ──► Ready ──(exit, or failureThreshold failed health checks)──┐
                ▲                                                                    │
                └──── BackOff (capped exponential) ◄── failures < restart.maxFailures ◄┘
                                                        failures ≥ maxFailures ──► Stalled

A Stalled runner does nothing more: only a spec change or `mcp-reconciler restart` (each a
new runner) starts the server again. stdio servers are spawned by the supervisor in their
own process group; remote servers are connected, never spawned. Every step lands in the
store (inventory, tools, health, events) so `status` works with the controller down and a
restart can clean up.

A failure to authenticate to the server (`CREDENTIAL_REASONS`: the token endpoint refused
the client or cannot be reached, the server refused a fresh token, a secret is missing) is
reported under its own reason, in the BackOff event and condition and in the Stalled one,
rather than as a generic `BackOff` or `RestartsExhausted`; a fatal one (the token
endpoint refused the client) stalls at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from ..core.conditions import Phase
from ..core.errors import (
    CREDENTIAL_REASONS,
    AuthorizationServerError,
    InvalidInput,
    ReconcilerError,
    ServerError,
)
from ..core.hashing import tool_schema_hash
from ..core.models import MCPServer
from ..core.spec_changes import runtime_hash
from ..identity import ClientCredentials
from ..store import Store
from ..store.records import Capability, InventoryRecord
from ..upstream.connection import UpstreamConnection
from ..upstream.discovery import ExposedTool, ServerTool, apply_filter
from ..upstream.remote import sse_transport, streamable_http_transport
from ..upstream.sinks import MessageSink
from ..upstream.transport import Transport, stdio_transport
from .confinement import Confinement
from .launch import Machine, launch_spec, remote_headers, secret_value
from .serverlogs import ServerLog, ServerLogs
from .supervisor import ManagedProcess, RestartDelays, spawn

log = structlog.get_logger("reconciler.controller")

HEALTHY_RESET_SECONDS = 60.0
"""A server that stayed Ready this long has its consecutive-failure count reset."""
CONNECT_TIMEOUT = 60.0
"""Seconds from spawn to a finished MCP handshake (Python servers import slowly)."""
STOP_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL when stopping a server."""

Listener = Callable[["ServerRunner"], Awaitable[None] | None]
"""Told after the phase or the tool list of a server changed."""


def _notifies_tool_changes(connection: UpstreamConnection) -> bool:
    tools = connection.server_capabilities.get("tools")
    return isinstance(tools, dict) and bool(tools.get("listChanged"))


def _specific_reason(error: BaseException) -> str | None:
    """The reason of a failure to authenticate to the server (CREDENTIAL_REASONS)."""
    if isinstance(error, ReconcilerError) and error.reason in CREDENTIAL_REASONS:
        return error.reason
    return None


def server_id(server: MCPServer) -> str:
    """The store's key for a server: `namespace/name`."""
    return f"{server.metadata.ns}/{server.name}"


class ServerRunner:
    """Supervises one server. Create, `start()`, and `stop()` when it is no longer wanted.

    `spec_hash` is the one the plan applies; `base_dir` the directory of the file the server
    was declared in (a relative command or workingDir starts there); `sink` receives what
    the server sends outside any call; `on_change` is told of every phase or tool change.
    """

    def __init__(
        self,
        server: MCPServer,
        *,
        spec_hash: str,
        base_dir: Path,
        store: Store,
        machine: Machine,
        confinement: Confinement,
        sink: MessageSink | None = None,
        on_change: Listener | None = None,
        runtime: str | None = None,
        logs: ServerLogs | None = None,
    ) -> None:
        self.server = server
        self.spec_hash = spec_hash
        self.base_dir = base_dir
        self.store = store
        self.machine = machine
        self.confinement = confinement
        """Wraps the launch when the server declares `sandbox` (bubblewrap)."""
        self.sink = sink
        self.on_change = on_change
        self.logs = logs
        """Where a stdio server's stderr is kept (`mcp-reconciler logs`)."""
        self.id = server_id(server)
        self.runtime_hash = runtime or runtime_hash(server)
        self.phase = Phase.PENDING
        self.connection: UpstreamConnection | None = None
        self.process: ManagedProcess | None = None
        self.tools: list[dict[str, Any]] = []
        self.failures = 0
        self.restarts = 0
        self.last_error: str | None = None
        self.stall_reason: str | None = None
        """CamelCase reason of a Stalled server (RestartsExhausted, SandboxUnavailable)."""
        self.failure_reason: str | None = None
        """Reason of the last failure when it was one to authenticate (CREDENTIAL_REASONS):
        what the BackOff, and a Stalled after it, report instead of a generic reason."""
        self.started_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._ready = asyncio.Event()
        self._refresh: asyncio.Task[None] | None = None
        self._credentials: ClientCredentials | None = None
        """The OAuth client of a remote server with `auth.oauth2`, kept across reconnects."""
        self._log: ServerLog | None = None
        self._settled = asyncio.Event()

    # -- control, from the reconciler --------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"server {self.id}")

    async def stop(self) -> None:
        """Stop supervising and stop the server (SIGTERM to its group, then SIGKILL)."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.phase = Phase.STOPPED
        await self._teardown()
        await self._changed()

    def update(self, server: MCPServer, *, spec_hash: str) -> None:
        """Apply a change that needs no restart (labels, filters, health check, policy)."""
        self.server = server
        self.spec_hash = spec_hash
        self._persist()

    async def wait_ready(self, timeout: float) -> bool:
        """For tests and `run --wait`: until Ready, or False after `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    async def wait_settled(self, timeout: float) -> bool:
        """Until the server is Ready, backing off or Stalled (it started, or failed to)."""
        try:
            async with asyncio.timeout(timeout):
                await self._settled.wait()
        except TimeoutError:
            return False
        return True

    @property
    def stalled(self) -> bool:
        return self.phase == Phase.STALLED

    @property
    def running(self) -> bool:
        """Under supervision (up, starting or backing off)."""
        return self._task is not None and not self._task.done()

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        policy = self.server.spec.restart
        while not self._stopping.is_set():
            self.phase = Phase.STARTING
            self._persist()
            ready_since: float | None = None
            try:
                await self._launch()
                ready_since = time.monotonic()
                await self._supervise()
            except asyncio.CancelledError:
                raise
            except (ReconcilerError, OSError) as exc:
                self.last_error = exc.message if isinstance(exc, ReconcilerError) else str(exc)
                self.failure_reason = _specific_reason(exc)
                if isinstance(exc, ReconcilerError) and exc.fatal:
                    self.stall_reason = exc.reason
            finally:
                self._ready.clear()
                await self._teardown()
            if self._stopping.is_set():
                return
            if self.stall_reason is not None:
                await self._stall(
                    self.stall_reason,
                    f"{self.last_error or self.stall_reason}; once fixed, `mcp-reconciler "
                    f"restart {self.server.key.qualified_name}` (or a change of its spec) "
                    "starts it again",
                )
                return
            if ready_since is not None and time.monotonic() - ready_since > HEALTHY_RESET_SECONDS:
                self.failures = 0
            self.failures += 1
            if self.failures >= policy.max_failures:
                await self._stall(
                    self.failure_reason or "RestartsExhausted",
                    f"gave up after {self.failures} consecutive failures: {self.last_error}; "
                    "fix the server, then `mcp-reconciler restart "
                    f"{self.server.key.qualified_name}` (or change its spec) to try again",
                )
                return
            delay = RestartDelays.from_policy(policy.backoff).delay(self.failures)
            self.phase = Phase.BACKOFF
            self._event(
                "warning",
                self.failure_reason or "BackOff",
                f"failed ({self.last_error}); restart {self.failures}/{policy.max_failures - 1}"
                f" in {delay:g}s",
            )
            self._persist()
            await self._changed()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
            self.restarts += 1

    async def _stall(self, reason: str, message: str) -> None:
        """Give up until the spec changes: Stalled, with the reason its condition carries and
        the message (what failed, and how to start it again) its status shows."""
        self.phase = Phase.STALLED
        self.stall_reason = reason
        self.last_error = message
        self._event("error", reason, message)
        self._persist()
        await self._changed()

    async def _launch(self) -> None:
        transport = await self._transport()
        connection = UpstreamConnection(
            self.server.key.qualified_name,
            transport,
            on_list_changed=self._on_list_changed,
            default_sink=self.sink,
        )
        await connection.connect(timeout=CONNECT_TIMEOUT)
        self.connection = connection
        self.started_at = time.time()
        await self._discover()
        self.phase = Phase.READY
        self.last_error = None
        self.failure_reason = None
        self._ready.set()
        self._event("info", "Ready", f"ready with {len(self.exposed_tools())} tools")
        self._persist()
        await self._changed()

    async def _transport(self) -> Transport:
        spec = self.server.spec
        if spec.transport == "stdio":
            launch = launch_spec(self.server, base_dir=self.base_dir, machine=self.machine)
            if spec.sandbox is not None:
                launch = await self.confinement.confine(launch, spec.sandbox)
            log = self._server_log()
            self.process = await spawn(
                launch,
                on_stderr=self._stderr,
                stderr_log=log.write if log is not None else None,
            )
            self._persist()
            return stdio_transport(self.process.stdout, self.process.stdin)
        headers = remote_headers(self.server, resolve=self.machine.resolve)
        assert spec.url is not None
        bearer = await self._bearer()
        if spec.transport == "sse":
            return sse_transport(spec.url, headers=headers, bearer=bearer)
        return streamable_http_transport(spec.url, headers=headers, bearer=bearer)

    async def _bearer(self) -> ClientCredentials | None:
        """The server's OAuth client, holding a token already (fetched before connecting)."""
        auth = self.server.spec.auth
        if auth is None or auth.oauth2 is None:
            return None
        if self._credentials is None:
            grant = auth.oauth2
            self._credentials = ClientCredentials(
                token_url=grant.token_url,
                client_id=grant.client_id,
                client_secret=secret_value(grant.client_secret, self.machine.resolve),
                scopes=grant.scopes,
                audience=grant.audience,
            )
        try:
            await self._credentials.token()
        except AuthorizationServerError as exc:
            raise ServerError.caused_by(f"no OAuth token: {exc.message}", exc) from None
        return self._credentials

    async def _supervise(self) -> None:
        """Return (raising ServerError) when the server exits or fails its health checks."""
        connection = self.connection
        assert connection is not None
        check = self.server.spec.health_check
        misses = 0
        while True:
            closed = asyncio.create_task(connection.wait_closed())
            try:
                done, _ = await asyncio.wait({closed}, timeout=check.interval_seconds)
            finally:
                closed.cancel()
            if done or connection.closed:
                raise ServerError.caused_by(
                    self._exit_message(connection), connection.failure_error
                )
            ok, error = await self._health_check(connection, check.timeout_seconds)
            misses = 0 if ok else misses + 1
            if misses >= check.failure_threshold:
                raise ServerError(f"{misses} health checks failed in a row (last: {error})")
            if ok and not _notifies_tool_changes(connection):
                await self._refresh_tools()

    async def _refresh_tools(self) -> None:
        """Re-list the tools of a server that never says they changed (health-check time)."""
        before = self.tools
        try:
            await self._discover()
        except ReconcilerError as exc:
            self._event("warning", "DiscoveryFailed", f"refreshing tools failed: {exc.message}")
            return
        if self.tools != before:
            await self._changed()

    async def _health_check(
        self, connection: UpstreamConnection, timeout: float
    ) -> tuple[bool, str | None]:
        try:
            latency = await connection.ping(timeout=timeout)
        except (ReconcilerError, TimeoutError) as exc:
            error = exc.message if isinstance(exc, ReconcilerError) else "timed out"
            self.store.record_health(self.id, ok=False, error=error)
            self._event("warning", "HealthCheckFailed", f"ping failed: {error}")
            return False, error
        self.store.record_health(self.id, ok=True, latency_ms=latency * 1000)
        return True, None

    def _exit_message(self, connection: UpstreamConnection) -> str:
        process = self.process
        if process is not None and process.returncode is not None:
            tail = "; ".join(process.stderr_tail()[-3:])
            return f"exited with code {process.returncode}" + (f": {tail}" if tail else "")
        return f"connection closed ({connection.close_reason or 'unknown reason'})"

    async def _teardown(self) -> None:
        connection, self.connection = self.connection, None
        process, self.process = self.process, None
        if connection is not None:
            await connection.close()
        if process is not None:
            await process.stop(grace=STOP_GRACE)
        if self._log is not None:
            self._log.close()
        self._persist()

    def _server_log(self) -> ServerLog | None:
        if self._log is None and self.logs is not None:
            self._log = self.logs.open(self.server.metadata.ns, self.server.name)
        return self._log

    # -- discovery ------------------------------------------------------------------------

    async def _discover(self) -> None:
        connection = self.connection
        if connection is None:
            return
        capabilities = connection.server_capabilities
        timeout = self.server.spec.health_check.timeout_seconds * 3
        self.tools = await connection.list_tools(timeout=timeout) if "tools" in capabilities else []
        exposed = {tool.server_name for tool in self._exposed()}
        changes = self.store.replace_capabilities(
            self.id,
            "tool",
            [
                Capability(
                    t["name"],
                    t.get("description"),
                    t.get("inputSchema"),
                    tool_schema_hash(t),
                    exposed=t["name"] in exposed,
                )
                for t in self.tools
            ],
        )
        if "resources" in capabilities:
            resources = await connection.list_resources(timeout=timeout)
            self.store.replace_capabilities(
                self.id,
                "resource",
                [Capability(r["uri"], r.get("description"), r) for r in resources],
            )
        if "prompts" in capabilities:
            prompts = await connection.list_prompts(timeout=timeout)
            self.store.replace_capabilities(
                self.id,
                "prompt",
                [Capability(p["name"], p.get("description"), p.get("arguments")) for p in prompts],
            )
        if changes and self.phase == Phase.READY:
            self._event(
                "info",
                "ToolsChanged",
                f"tools added {list(changes.added)}, removed {list(changes.removed)},"
                f" changed {list(changes.changed)}",
            )

    async def _on_list_changed(self, kind: str) -> None:
        try:
            await self._discover()
        except ReconcilerError as exc:
            self._event("warning", "DiscoveryFailed", f"refreshing {kind} failed: {exc.message}")
            return
        await self._changed()

    def _exposed(self) -> list[ExposedTool]:
        spec = self.server.spec.tools
        try:
            return apply_filter(
                (ServerTool.from_raw(t) for t in self.tools),
                spec.include,
                spec.exclude,
                spec.overrides,
            )
        except InvalidInput as error:
            self._event("warning", "ToolOverrideClash", error.message)
            return []

    def exposed_tools(self) -> list[dict[str, Any]]:
        """Discovered tools after the spec's include/exclude and overrides."""
        return [tool.definition() for tool in self._exposed()]

    # -- reporting ------------------------------------------------------------------------

    def _stderr(self, line: str) -> None:
        self._event("info", "ServerOutput", line, category="server-stderr")

    def _event(self, severity: str, reason: str, message: str, *, category: str = "server") -> None:
        self.store.add_event(
            severity=severity,  # type: ignore[arg-type]
            category=category,
            reason=reason,
            message=message,
            resource=str(self.server.key),
        )
        if category == "server":  # stderr lines stay in the event log only
            level = {"error": "error", "warning": "warning"}.get(severity, "info")
            log.log(
                getattr(logging, level.upper()),
                reason,
                server=self.server.key.qualified_name,
                message=message,
            )

    def _persist(self) -> None:
        process = self.process
        self.store.put_instance(
            InventoryRecord(
                server=self.id,
                phase=str(self.phase),
                runtime_hash=self.runtime_hash,
                spec_hash=self.spec_hash,
                running=self.phase not in (Phase.STALLED, Phase.STOPPED),
                pid=process.pid if process else None,
                pgid=process.pgid if process else None,
                start_time=process.start_time if process else None,
                boot_id=process.boot_id if process else None,
                started_at=self.started_at,
                restarts=self.restarts,
                consecutive_failures=self.failures,
                stalled_reason=self.last_error if self.phase == Phase.STALLED else None,
                last_error=self.last_error,
            )
        )

    async def _changed(self) -> None:
        if self.phase in (Phase.READY, Phase.STALLED, Phase.BACKOFF):
            self._settled.set()
        listener = self.on_change
        if listener is None:
            return
        result = listener(self)
        if result is not None:
            await result
