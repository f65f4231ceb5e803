"""What the console shows, read from the state store and the gateway's current config.

Plain values only: `pages.py` turns them into HTML. `fingerprint` is what the live stream
watches: it changes whenever an event is written or a server's process row changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clientconfig import Client, client_config
from ..controller.serverlogs import log_path, read_lines
from ..controller.usage import UsageSeries, usage_series
from ..core.access import qualified
from ..core.conditions import condition
from ..core.models import MCPServer, ResourceKey, qualified_name
from ..core.models.globs import glob_match
from ..gateway.config import Access, server_name
from ..store import Store
from ..store.records import EventRecord, Revisions
from ..toollock import ServerVerdict, ToolVerdict

if TYPE_CHECKING:
    from ..controller.standalone import StandaloneController

ENHANCEMENT_META = "dev.mcp-reconciler/enhancement"
LOG_LINES = 50
HEALTH_MARKS = 100
"""Health checks drawn at most (the store keeps the newest 100 of a server)."""
LIFECYCLE_REASONS = {
    "BackOff": "crash",
    "RestartsExhausted": "crash",
    "Restarted": "restart",
    "Restarting": "restart",
    "Ready": "ready",
}
"""Server events drawn on its health history, by reason."""


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
    discovery: str = "all"
    """`all` (every tool listed) or `search` (`find_tools` and `call_tool`)."""
    max_results: int = 5
    """Most tools one `find_tools` returns (search mode)."""


@dataclass(frozen=True, slots=True)
class Overview:
    servers: list[ServerRow]
    suites: list[SuiteRow]
    revisions: Revisions
    events: list[EventRecord]


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One scan finding of a tool, and what became of it."""

    kind: str
    """`hidden-characters`, `instructions-to-model`, `sensitive-paths`, ..."""
    severity: str
    where: str
    excerpt: str
    """Invisible characters escaped, on one line."""
    decision: str
    """`withheld` (a high finding withholds the tool), `warned` (high, served under ToolLock
    mode warn), `accepted` (high, listed under the lock's `accepted`), `noted` (not high)."""


@dataclass(frozen=True, slots=True)
class ToolRow:
    name: str
    upstream: str | None
    served: str | None
    """The description clients see (enhanced or pinned), when a suite serves the tool."""
    enhanced: bool
    exposed: bool
    lock: str | None = None
    """`locked`, `drifted`, `unlocked`, `unpinned` (no ToolLock); None: not judged yet."""
    withheld: bool = False
    lock_reason: str = ""
    """Why the tool is reported (the drift in words, the finding), empty when it is not."""
    findings: tuple[FindingRow, ...] = ()
    enhancement: str = "off"
    """`enhanced`, `cached`, `pinned`, `failed`, `pending`, `skipped` (the enhancement run's
    outcome), `queued` (declared, no run has covered it yet) or `off` (not declared)."""
    enhancement_note: str | None = None
    """Provider and model of a text, or the reason and message of a failure."""


@dataclass(frozen=True, slots=True)
class HealthMark:
    """A moment of a server's health history: a check, or a (re)start or failure."""

    ts: float
    kind: str
    """`ok`, `failed` (a health check), `crash` (the process failed), `restart`
    (restarted on request or for a spec change), `ready` (came up)."""
    text: str


@dataclass(frozen=True, slots=True)
class ServerDetail:
    row: ServerRow
    tools: list[ToolRow]
    events: list[EventRecord]
    health: list[tuple[float, bool, float | None, str | None]] = field(default_factory=list)
    log: list[tuple[float, str]] = field(default_factory=list)
    """The last lines the server wrote to stderr."""
    lock_mode: str | None = None
    """The ToolLock's mode (`enforce`, `warn`), None without a lock."""
    missing: tuple[str, ...] = ()
    """Locked tools the server no longer offers."""
    history: list[HealthMark] = field(default_factory=list)
    """Health checks, crashes and restarts over the kept history, oldest first."""


def _store(controller: StandaloneController) -> Store:
    assert controller.store is not None, "the console is served only while the store is open"
    return controller.store


def fingerprint(controller: StandaloneController, *, calls: bool = False) -> tuple[Any, ...]:
    """Changes when an event is written or a server's process row changes; with `calls`,
    also when gateway calls are recorded (the usage page's stream)."""
    store = _store(controller)
    newest = store.events(limit=1)
    return (
        newest[0].id if newest else 0,
        tuple((r.server, r.phase, r.pid, r.restarts) for r in store.instances()),
        store.newest_call() if calls else None,
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
                discovery=served.discovery if served is not None else "all",
                max_results=served.max_results if served is not None else 5,
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


def _verdict(controller: StandaloneController, namespace: str, name: str) -> ServerVerdict | None:
    """The ToolLock and scan verdict the gateway serves by (None: not judged yet)."""
    reconciler = controller.reconciler
    if reconciler is not None and (namespace, name) in reconciler.locks:
        return reconciler.locks[(namespace, name)]
    config = controller.gateway.config if controller.gateway is not None else None
    return config.locks.get((namespace, name)) if config is not None else None


def _findings(verdict: ToolVerdict, *, warn: bool) -> tuple[FindingRow, ...]:
    rows = []
    for finding in verdict.scanned:
        if not finding.high:
            decision = "noted"
        elif finding not in verdict.findings:
            decision = "accepted"
        else:
            decision = "warned" if warn else "withheld"
        rows.append(
            FindingRow(finding.kind, finding.severity, finding.where, finding.excerpt, decision)
        )
    return tuple(rows)


def _enhancements(
    controller: StandaloneController, namespace: str, name: str
) -> Callable[[str], tuple[str, str | None]]:
    """Tool name -> (enhancement state, note), from the controller's last enhancement run."""
    applied = controller.reconciler.applied if controller.reconciler is not None else None
    declared = applied.get(MCPServer, name, namespace) if applied is not None else None
    if declared is None or declared.spec.enhancement is None:
        return lambda tool: ("off", None)
    enhancer = getattr(controller, "enhancer", None)
    report = enhancer.report if enhancer is not None else None
    routed = qualified_name(namespace, name)  # how enhancement requests name the server
    outcomes = {o.tool: o for o in report.outcomes if o.server == routed} if report else {}

    def state(tool: str) -> tuple[str, str | None]:
        outcome = outcomes.get(tool)
        if outcome is None:
            return "queued", None
        if outcome.state in ("failed", "pending", "skipped"):
            return outcome.state, " ".join(p for p in (outcome.reason, outcome.message) if p)
        by = "/".join(p for p in (outcome.provider, outcome.model) if p)
        return outcome.state, by or None

    return state


def _history(store: Store, server: str) -> list[HealthMark]:
    namespace, name = server.split("/", 1)
    marks = [
        HealthMark(
            h.ts,
            "ok" if h.ok else "failed",
            f"health check ok in {h.latency_ms:.0f} ms"
            if h.ok and h.latency_ms is not None
            else f"health check failed: {h.error}",
        )
        for h in store.health(server, limit=HEALTH_MARKS)
    ]
    since = marks[0].ts if len(marks) >= HEALTH_MARKS else None
    for event in store.events(
        resource=str(ResourceKey(MCPServer.kind_name, namespace, name)),
        category="server",
        since=since,
        limit=HEALTH_MARKS,
    ):
        kind = LIFECYCLE_REASONS.get(event.reason)
        if kind is None and event.severity == "error":
            kind = "crash"
        if kind is not None:
            marks.append(HealthMark(event.ts, kind, f"{event.reason}: {event.message}"))
    return sorted(marks, key=lambda mark: mark.ts)


def server_detail(controller: StandaloneController, server: str) -> ServerDetail | None:
    store = _store(controller)
    row = next((r for r in server_rows(store, now=time.time()) if r.server == server), None)
    if row is None:
        return None
    namespace, _, name = server.partition("/")
    served = _served_descriptions(controller, server)
    verdict = _verdict(controller, namespace, name)
    warn = verdict is not None and verdict.mode == "warn"
    enhancement = _enhancements(controller, namespace, name)
    tools = []
    for cap in store.capabilities(server=server, kind="tool"):
        definition = served.get(cap.name)
        meta = definition.get("_meta") if definition is not None else None
        judged = verdict.verdict(cap.name) if verdict is not None else None
        state, note = enhancement(cap.name)
        tools.append(
            ToolRow(
                name=cap.name,
                upstream=cap.description,
                served=definition.get("description") if definition is not None else None,
                enhanced=isinstance(meta, Mapping) and ENHANCEMENT_META in meta,
                exposed=cap.exposed,
                lock=judged.state if judged is not None else None,
                withheld=judged.withheld if judged is not None else False,
                lock_reason=judged.reason() if judged is not None else "",
                findings=_findings(judged, warn=warn) if judged is not None else (),
                enhancement=state if cap.exposed else "off",
                enhancement_note=note if cap.exposed else None,
            )
        )
    key = ResourceKey(MCPServer.kind_name, namespace, name)
    events = list(reversed(store.events(resource=str(key), limit=30)))
    health = [(h.ts, h.ok, h.latency_ms, h.error) for h in store.health(server, limit=10)]
    log_file = log_path(controller.options.state_dir, namespace, name)
    log = [(line.ts, line.text) for line in read_lines(log_file, tail=LOG_LINES)]
    return ServerDetail(
        row=row,
        tools=tools,
        events=events,
        health=health,
        log=log,
        lock_mode=verdict.mode if verdict is not None else None,
        missing=verdict.missing if verdict is not None else (),
        history=_history(store, server),
    )


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
    withheld: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(exposed name, server, tool, why) of tools the ToolLock or the scan withholds."""
    embeddings: tuple[str, str] | None = None
    """(LLMProvider, model) fused into the ranking of `find_tools`."""


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
    withheld = [(exposed, w.server, w.tool, w.reason) for exposed, w in suite.withheld.items()]
    return SuiteDetail(
        row=row,
        clients=clients,
        tools=tools,
        subjects=subjects,
        matrix=matrix,
        withheld=withheld,
        embeddings=suite.embeddings,
    )


WINDOWS = (("1h", 3600.0, 12), ("24h", 86400.0, 24), ("7d", 7 * 86400.0, 28))
"""(label, seconds, buckets): 5-minute buckets over 1h, hourly over 24h, 6-hourly over 7d."""


@dataclass(frozen=True, slots=True)
class Usage:
    window: str
    series: UsageSeries
    """Per tool and per time bucket: calls, errors, p50 and p95."""


def usage(controller: StandaloneController, window: str) -> Usage:
    """The usage over `window` (a label of WINDOWS), from one scan of the window's calls."""
    store = _store(controller)
    if hasattr(controller, "usage"):
        controller.usage.flush()
    now = time.time()
    _, seconds, buckets = next(w for w in WINDOWS if w[0] == window)
    rows = store.call_rows(since=now - seconds, until=now)
    return Usage(window, usage_series(rows, since=now - seconds, until=now, buckets=buckets))
