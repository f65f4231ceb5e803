"""What the console shows, read from the state store and the gateway's current config.

Plain values only: `pages.py` turns them into HTML. `fingerprint` is what the live stream
watches: it changes whenever an event is written or a server's process row changes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..controller.store import Store
from ..controller.store_records import Event, Revisions
from ..core.conditions import condition

if TYPE_CHECKING:
    from ..controller.standalone import StandaloneController

ENHANCEMENT_META = "dev.mcp-reconciler/enhancement"


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
    events: list[Event]


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
    events: list[Event]
    health: list[tuple[float, bool, float | None, str | None]] = field(default_factory=list)


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
        served = config.suites.get(record.key.name) if config is not None else None
        ready = condition(record.conditions, "Ready")
        suites.append(
            SuiteRow(
                name=record.key.name,
                url=(
                    f"{controller.gateway_url}/suites/{record.key.name}/mcp"
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
    for suite in config.suites.values():
        for route in suite.tools.values():
            if route.server == server and route.chain is None:
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
    name = server.partition("/")[2]
    events = list(reversed(store.events(resource=f"MCPServer/{name}", limit=30)))
    health = [(h.ts, h.ok, h.latency_ms, h.error) for h in store.health(server, limit=20)]
    return ServerDetail(row=row, tools=tools, events=events, health=health)
