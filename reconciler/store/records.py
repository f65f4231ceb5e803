"""The values the state store reads and writes: one frozen dataclass per row kind (a call
is the gateway's own `CallRecord`)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.models import Condition, ResourceKey
from ..gateway.records import CallOutcome as CallOutcome
from ..gateway.records import CallRecord as CallRecord

EventSeverity = Literal["info", "warning", "error"]
CapabilityKind = Literal["tool", "resource", "resource_template", "prompt"]
AuditOutcome = Literal["ok", "error", "denied", "unauthenticated"]
"""What `audit --outcome` filters by: `error` is every failure but a refusal."""


@dataclass(frozen=True, slots=True)
class InventoryRecord:
    """A server the controller manages, and the process it started for it (if any)."""

    server: str
    """`namespace/name`."""
    phase: str
    """One-word state (`conditions.Phase`)."""
    runtime_hash: str | None = None
    """Hash of the runtime spec the running (or last started) instance was started from."""
    spec_hash: str | None = None
    """Hash of the spec last applied."""
    running: bool = False
    """Under supervision: up, starting or backing off between restarts."""
    pid: int | None = None
    """Leader of the server's process group (its pid is the group id)."""
    pgid: int | None = None
    start_time: int | None = None
    """Start time of `pid` in clock ticks since boot: with `pid`, the process identity."""
    boot_id: str | None = None
    """Boot in which `pid` was started."""
    started_at: float | None = None
    restarts: int = 0
    """Restarts since the runtime spec last changed."""
    consecutive_failures: int = 0
    stalled_reason: str | None = None
    """Set once restarts gave up: nothing restarts the server until its spec changes."""
    last_error: str | None = None
    updated_at: float = 0.0
    """Set by the store on every write."""


@dataclass(frozen=True, slots=True)
class Capability:
    """A tool, resource, resource template or prompt as a server reports it now."""

    name: str
    """Tool or prompt name, resource URI or URI template."""
    description: str | None = None
    schema: Any = None
    """JSON: a tool's input schema, a prompt's arguments, a resource's descriptor."""
    schema_hash: str | None = None
    """Computed from `schema` when not given."""
    exposed: bool = True
    """False when filtered out by `tools.include`/`exclude`."""


@dataclass(frozen=True, slots=True)
class CapabilityRecord:
    """A stored capability of a server."""

    server: str
    kind: CapabilityKind
    name: str
    description: str | None
    schema: Any
    schema_hash: str | None
    exposed: bool
    first_seen: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class CapabilityChanges:
    """Names added, removed, or changed (description, schema or exposure) by a discovery."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """One health check of a server."""

    server: str
    ts: float
    ok: bool
    latency_ms: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Something that happened, for `mcp-reconciler events` and status messages."""

    id: int
    ts: float
    severity: EventSeverity
    category: str
    """`source`, `validation`, `server`, `health`, `discovery`, `gateway`, `enhancement`,
    `prune`, ..."""
    resource: str | None
    """`Kind/name` concerned, if any."""
    reason: str
    """CamelCase, machine-readable."""
    message: str


@dataclass(frozen=True, slots=True)
class Revision:
    """A source revision the controller tried or applied."""

    revision: str
    ts: float
    outcome: str
    """CamelCase reason: `Succeeded`, or the reason of the error that stopped it."""
    message: str | None


@dataclass(frozen=True, slots=True)
class Revisions:
    """Last attempted and last applied revision; they differ after a failed attempt."""

    attempted: Revision | None
    applied: Revision | None


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """Status of one resource as the controller last wrote it."""

    key: ResourceKey
    observed_generation: int | None
    spec_hash: str | None
    phase: str | None
    conditions: list[Condition]
    message: str | None
    updated_at: float
    withheld: tuple[str, ...] = ()
    """A server's tools withheld by its ToolLock or the scan."""


@dataclass(frozen=True, slots=True)
class CallStats:
    """Aggregate of the calls of one group (`group`: the grouped-by column values)."""

    count: int
    errors: int
    """Calls whose outcome was not `ok`."""
    mean_ms: float
    p50_ms: float
    p95_ms: float
    group: dict[str, str | None] = field(default_factory=dict)


def inventory_from_row(row: sqlite3.Row) -> InventoryRecord:
    values = dict(row)
    values["running"] = bool(values["running"])
    return InventoryRecord(**values)


def capability_from_row(row: sqlite3.Row) -> CapabilityRecord:
    values = dict(row)
    values["schema"] = json.loads(values["schema"]) if values["schema"] is not None else None
    values["exposed"] = bool(values["exposed"])
    return CapabilityRecord(**values)


def health_from_row(row: sqlite3.Row) -> HealthRecord:
    values = dict(row)
    del values["id"]
    values["ok"] = bool(values["ok"])
    return HealthRecord(**values)


def event_from_row(row: sqlite3.Row) -> EventRecord:
    return EventRecord(**dict(row))


def revision_from_row(row: sqlite3.Row) -> Revision:
    return Revision(
        revision=row["revision"], ts=row["ts"], outcome=row["outcome"], message=row["message"]
    )


def status_from_row(row: sqlite3.Row) -> StatusRecord:
    return StatusRecord(
        key=ResourceKey(row["kind"], row["namespace"], row["name"]),
        observed_generation=row["observed_generation"],
        spec_hash=row["spec_hash"],
        phase=row["phase"],
        conditions=[Condition.model_validate(c) for c in json.loads(row["conditions"])],
        message=row["message"],
        updated_at=row["updated_at"],
        withheld=tuple(json.loads(row["withheld"])),
    )
