"""What the console shows, read from the state store and the gateway's current config.

Plain values only: `pages.py` turns them into HTML. `fingerprint` is what the live stream
watches: it changes whenever an event is written or a server's process row changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clientconfig import Client, client_config
from ..controller.serverlogs import log_path, read_lines
from ..core.access import qualified
from ..core.conditions import condition
from ..core.models import MCPServer, ResourceKey, qualified_name
from ..core.models.globs import glob_match
from ..gateway.config import Access, server_name
from ..store import Store
from ..store.records import CallStats, EventRecord, Revisions

if TYPE_CHECKING:
    from ..controller.standalone import StandaloneController

ENHANCEMENT_META = "dev.mcp-reconciler/enhancement"
LOG_LINES = 50


@dataclass(frozen=True, slots=True)
class ServerRow:
    server: str
    """`namespace/name`."""
    phase: str
    pid: int | None
    uptime_seconds: float | None
    restarts: int
    tool_count: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class SuiteRow:
    name: str
    url: str | None
    members: tuple[str, ...]
    phase: str
    ready: str
    message: str | None
    tools: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Overview:
    servers: list[ServerRow]
    suites: list[SuiteRow]
    revisions: Revisions
    events: list[EventRecord]


@dataclass(frozen=True, slots=True)
class ToolRow:
    name: str
    upstream: str | None
    served: str | None
    """The description clients see (enhanced or pinned), when a suite serves the tool."""
    enhanced: bool
    exposed: bool


@dataclass(frozen=True, slots=True)
class ServerDetail:
    row: ServerRow
    tools: list[ToolRow]
    events: list[EventRecord]
    health: list[tuple[float, bool, float | None, str | None]] = field(default_factory=list)
    log: list[tuple[float, str]] = field(default_factory=list)
    """The last lines the server wrote to stderr."""


def _store(controller: StandaloneController) -> Store:
    assert controller.store is not None, "the console is served only while the store is open"
    return controller.store


def fingerprint(controller: StandaloneController) -> tuple[Any, ...]:
    store = _store(controller)
    newest = store.events(limit=1)
    return (
        newest[0].id if newest else 0,
        tuple((r.server, r.phase, r.pid, r.restarts) for r in store.instances()),
    )


def server_rows(store: Store, *, now: float) -> list[ServerRow]:
    instances = {r.server: r for r in store.instances()}
    counts: dict[str, int] = {}
    for cap in store.capabilities(kind="tool"):
        if cap.exposed:
            counts[cap.server] = counts.get(cap.server, 0) + 1
    rows = []
    for record in store.statuses(kind="MCPServer"):
        server = f"{record.key.namespace}/{record.key.name}"
        instance = instances.get(server)
        rows.append(
            ServerRow(
                server=server,
                phase=(instance.phase if instance else record.phase) or "Unknown",
                pid=instance.pid if instance else None,
                uptime_seconds=(
                    now - instance.started_at
                    if instance and instance.started_at and instance.pid
                    else None
                ),
                restarts=instance.restarts if instance else 0,
                tool_count=counts.get(server, 0),
                last_error=instance.last_error if instance else None,
            )
        )
    return rows


def overview(controller: StandaloneController, *, events: int = 20) -> Overview:
    store = _store(controller)
    config = controller.gateway.config if controller.gateway is not None else None
    suites = []
    for record in store.statuses(kind="MCPSuite"):
        name = record.key.qualified_name  # how the gateway names and serves it
        served = config.suites.get(name) if config is not None else None
        ready = condition(record.conditions, "Ready")
        suites.append(
            SuiteRow(
                name=name,
                url=(
                    f"{controller.gateway_url}/suites/{name}/mcp"
                    if controller.gateway_url
                    else None
                ),
                members=served.servers if served is not None else (),
                phase=record.phase or "Unknown",
                ready=ready.status if ready else "Unknown",
                message=record.message,
                tools=tuple(served.tools) if served is not None else (),
            )
        )
    return Overview(
        servers=server_rows(store, now=time.time()),
        suites=suites,
        revisions=store.revisions(),
        events=list(reversed(store.events(limit=events))),
    )


def _served_descriptions(controller: StandaloneController, server: str) -> Mapping[str, Any]:
    """The server's tools as some suite serves them: tool name -> served definition."""
    config = controller.gateway.config if controller.gateway is not None else None
    served: dict[str, Any] = {}
    if config is None:
        return served
    routed = qualified_name(*server.split("/", 1))  # how the gateway names the server
    for suite in config.suites.values():
        for route in suite.tools.values():
            if route.server == routed and route.chain is None:
                served.setdefault(route.tool, route.definition)
    return served


def server_detail(controller: StandaloneController, server: str) -> ServerDetail | None:
    store = _store(controller)
    row = next((r for r in server_rows(store, now=time.time()) if r.server == server), None)
    if row is None:
        return None
    served = _served_descriptions(controller, server)
    tools = []
    for cap in store.capabilities(server=server, kind="tool"):
        definition = served.get(cap.name)
        meta = definition.get("_meta") if definition is not None else None
        tools.append(
            ToolRow(
                name=cap.name,
                upstream=cap.description,
                served=definition.get("description") if definition is not None else None,
                enhanced=isinstance(meta, Mapping) and ENHANCEMENT_META in meta,
                exposed=cap.exposed,
            )
        )
    namespace, name = server.split("/", 1)
    key = ResourceKey(MCPServer.kind_name, namespace, name)
    events = list(reversed(store.events(resource=str(key), limit=30)))
    health = [(h.ts, h.ok, h.latency_ms, h.error) for h in store.health(server, limit=20)]
    log_file = log_path(controller.options.state_dir, namespace, name)
    log = [(line.ts, line.text) for line in read_lines(log_file, tail=LOG_LINES)]
    return ServerDetail(row=row, tools=tools, events=events, health=health, log=log)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: str
    """The pattern that decided (`deny: x.*`, `allow: x.y`), or why nothing did."""


@dataclass(frozen=True, slots=True)
class SuiteDetail:
    row: SuiteRow
    clients: list[tuple[str, str]]
    """(client, its configuration as text)."""
    tools: list[tuple[str, str, str]]
    """(exposed name, server, server's tool name)."""
    subjects: list[str]
    matrix: dict[tuple[str, str], Decision]
    """(subject, exposed tool) -> decision, computed with the gateway's own `Access`."""


def decide(access: Access, server: str, tool: str) -> Decision:
    """The gateway's decision (`Access.allows`) and the pattern behind it."""
    allowed = access.allows(server, tool)
    rules = access.rules
    if rules is None:
        return Decision(allowed, "no ToolPermission: everything allowed")
    name = qualified(server_name(server), tool)
    deny = next((p for p in rules.deny if glob_match(p, name)), None)
    allow = next((p for p in rules.allow if glob_match(p, name)), None)
    if deny is not None:
        return Decision(allowed, f"deny: {deny}")
    if allow is not None:
        return Decision(allowed, f"allow: {allow}")
    return Decision(allowed, "no rule allows it")


def suite_detail(controller: StandaloneController, name: str) -> SuiteDetail | None:
    row = next((s for s in overview(controller, events=0).suites if s.name == name), None)
    config = controller.gateway.config if controller.gateway is not None else None
    suite = config.suites.get(name) if config is not None else None
    if row is None:
        return None
    clients: list[tuple[str, str]] = []
    if row.url:
        token_env = "MCP_TOKEN" if suite is not None and suite.secured else None
        for client in Client:
            made = client_config(client, suite=name, url=row.url, token_env=token_env)
            clients.append(
                (client.value, made if isinstance(made, str) else json.dumps(made, indent=2))
            )
    if suite is None:
        return SuiteDetail(row=row, clients=clients, tools=[], subjects=[], matrix={})
    tools = [(exposed, r.server, r.tool) for exposed, r in suite.tools.items()]
    subjects = sorted(suite.access)
    matrix = {
        (subject, exposed): decide(suite.access_for(subject), server, tool)
        for subject in subjects
        for exposed, server, tool in tools
    }
    return SuiteDetail(row=row, clients=clients, tools=tools, subjects=subjects, matrix=matrix)


WINDOWS = (("1h", 3600.0), ("24h", 86400.0), ("7d", 7 * 86400.0))


@dataclass(frozen=True, slots=True)
class Usage:
    windows: dict[str, list[CallStats]]
    """Window label -> per (server, tool) calls, errors, p50 and p95."""


def usage(controller: StandaloneController) -> Usage:
    store = _store(controller)
    if hasattr(controller, "usage"):
        controller.usage.flush()
    now = time.time()
    return Usage(
        windows={
            label: store.call_stats(since=now - seconds, by=("server", "tool"))
            for label, seconds in WINDOWS
        }
    )
