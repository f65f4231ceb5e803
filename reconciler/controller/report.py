"""What `status` and `events` show: read from the state store, the controller up or down.

Every value passes through `reconciler.core.redaction` before it is shown.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core.conditions import condition
from ..core.redaction import redact_value
from ..store import Store
from ..store.records import EventSeverity
from .control import request_control
from .processes import verify


def status_report(state_dir: Path) -> dict[str, Any]:
    """Controller, revisions, resources with conditions, servers with process and tools."""
    live = request_control(state_dir, "GET", "/health")
    with Store.open_readonly(state_dir) as store:
        revisions = store.revisions()
        instances = {r.server: r for r in store.instances()}
        tools: dict[str, list[dict[str, Any]]] = {}
        for cap in store.capabilities(kind="tool"):
            tools.setdefault(cap.server, []).append(
                {"name": cap.name, "description": cap.description, "exposed": cap.exposed}
            )
        health = store.latest_health()
        now = time.time()
        last_write = max(
            [r.updated_at for r in instances.values()]
            + [r.updated_at for r in store.statuses()]
            + [h.ts for h in health.values()],
            default=0.0,
        )
        resources = []
        servers = []
        for record in store.statuses():
            ready = condition(record.conditions, "Ready")
            resources.append(
                {
                    "kind": record.key.kind,
                    "namespace": record.key.namespace,
                    "name": record.key.name,
                    "phase": record.phase,
                    "ready": ready.status if ready else "Unknown",
                    "reason": ready.reason if ready else None,
                    "message": record.message,
                    "conditions": [
                        c.model_dump(mode="json", by_alias=True, exclude_none=True)
                        for c in record.conditions
                    ],
                    **({"withheldTools": list(record.withheld)} if record.withheld else {}),
                }
            )
            if record.key.kind != "MCPServer":
                continue
            server_id = f"{record.key.namespace}/{record.key.name}"
            instance = instances.get(server_id)
            server_tools = tools.get(server_id, [])
            last_check = health.get(server_id)
            pid = instance.pid if instance else None
            # With the controller gone, a pid is shown only while that very process runs.
            if (
                live is None
                and instance is not None
                and pid is not None
                and (
                    instance.start_time is None
                    or not verify(pid, instance.start_time, boot=instance.boot_id)
                )
            ):
                pid = None
            seen = instance.updated_at if instance else record.updated_at
            servers.append(
                {
                    "name": record.key.name,
                    "namespace": record.key.namespace,
                    "phase": instance.phase if instance else record.phase,
                    "reason": ready.reason if ready else None,
                    "asLastSeen": live is None,
                    "ageSeconds": round(now - seen) if seen else None,
                    "pid": pid,
                    "uptimeSeconds": (
                        round(now - instance.started_at)
                        if instance and instance.started_at and pid
                        else None
                    ),
                    "restarts": instance.restarts if instance else 0,
                    "consecutiveFailures": instance.consecutive_failures if instance else 0,
                    "lastError": instance.last_error if instance else None,
                    "toolCount": sum(1 for t in server_tools if t["exposed"]),
                    "tools": server_tools,
                    "withheldTools": list(record.withheld),
                    "lastHealthCheck": (
                        {
                            "ok": last_check.ok,
                            "latencyMs": last_check.latency_ms,
                            "ts": last_check.ts,
                        }
                        if last_check
                        else None
                    ),
                }
            )
    return redact_value(
        {
            "controller": {
                "running": live is not None,
                "lastSeenSeconds": (
                    round(now - last_write) if live is None and last_write else None
                ),
                "pid": live.get("pid") if live else None,
                "gateway": live.get("gateway") if live else None,
                "stateDir": str(state_dir),
            },
            "revisions": {
                "attempted": asdict(revisions.attempted) if revisions.attempted else None,
                "applied": asdict(revisions.applied) if revisions.applied else None,
            },
            "resources": resources,
            "servers": servers,
        }
    )


def events_report(
    state_dir: Path,
    *,
    resource: str | None = None,
    severity: EventSeverity | None = None,
    type_: str | None = None,
    limit: int = 50,
    since: float | None = None,
    after_id: int | None = None,
) -> list[dict[str, Any]]:
    """The newest events, oldest first; `after_id` gives only those recorded after it.

    `type_` matches an event's category (`server`, `source`, ...) or its reason
    (`Restarted`, ...).
    """
    with Store.open_readonly(state_dir) as store:
        if type_ is not None and type_ not in store.event_categories():
            found = store.events(
                resource=resource, severity=severity, reason=type_, limit=limit, since=since,
                after_id=after_id,
            )  # fmt: skip
        else:
            found = store.events(
                resource=resource, severity=severity, category=type_, limit=limit, since=since,
                after_id=after_id,
            )  # fmt: skip
        return [redact_value(asdict(event)) for event in found]
