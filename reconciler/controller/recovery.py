"""Recovery after a crash of the controller: nothing it started survives unverified."""

from __future__ import annotations

import contextlib

from ..core.conditions import Phase
from ..core.models import MCPServer
from ..store import Store
from .processes import kill_group
from .statuses import not_running


async def cleanup_leftovers(store: Store) -> list[str]:
    """After a crash: stop every process the previous controller had started.

    A stdio server cannot be re-attached once its pipes are gone, so "adopting" it means
    verifying it is ours (pid, start time and boot) and stopping its whole process group;
    the plan then starts exactly one fresh copy. Returns the servers cleaned up.
    """
    cleaned = []
    for record in store.instances():
        if record.pid is None or record.start_time is None:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if await kill_group(record.pid, record.start_time, boot=record.boot_id):
                cleaned.append(record.server)
        store.forget_server(record.server)
    with store.batch():  # statuses of the previous run are stale until the first reconcile
        for status in store.statuses(kind=MCPServer.kind_name):
            pending = not_running(
                Phase.PENDING,
                "ControllerStarting",
                "the controller started; waiting for the first reconcile",
                reconciling=True,
                previous=status.conditions,
            )
            store.put_status(
                status.key,
                phase=pending.phase,
                conditions=pending.conditions,
                message=pending.message,
                spec_hash=status.spec_hash,
            )
    for server in cleaned:
        store.add_event(
            severity="warning",
            category="server",
            reason="LeftoverStopped",
            message=f"stopped {server} left running by a previous controller",
            resource=None,
        )
    return cleaned
