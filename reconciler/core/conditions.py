"""The shared vocabulary of status: phases, conditions (Ready, Reconciling, Stalled), reasons.

Pure functions, used by the standalone controller and the Kubernetes operator alike, so a
resource reads the same in `mcp-reconciler status` and in `kubectl get`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import UTC, datetime

from .models import Condition


class Phase(enum.StrEnum):
    """One-word state of a server for tables."""

    PENDING = "Pending"
    STARTING = "Starting"
    READY = "Ready"
    DEGRADED = "Degraded"
    BACKOFF = "BackOff"
    STALLED = "Stalled"
    STOPPED = "Stopped"
    DISABLED = "Disabled"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: bool | None,
    reason: str,
    message: str = "",
    *,
    generation: int | None = None,
    at: str | None = None,
) -> list[Condition]:
    """Return the conditions with `type_` set; the transition time moves only on a status change."""
    text = "Unknown" if status is None else ("True" if status else "False")
    result: list[Condition] = []
    replaced = False
    for condition in conditions:
        if condition.type != type_:
            result.append(condition)
            continue
        replaced = True
        transition = (
            condition.last_transition_time if condition.status == text else (at or now_rfc3339())
        )
        result.append(
            Condition(
                type=type_,
                status=text,
                reason=reason,
                message=message,
                last_transition_time=transition,
                observed_generation=generation,
            )
        )
    if not replaced:
        result.append(
            Condition(
                type=type_,
                status=text,
                reason=reason,
                message=message,
                last_transition_time=at or now_rfc3339(),
                observed_generation=generation,
            )
        )
    return result


def summarize(
    *,
    ready: bool,
    reconciling: bool,
    stalled: bool,
    reason: str,
    message: str = "",
    previous: Sequence[Condition] = (),
    generation: int | None = None,
) -> list[Condition]:
    """The three standard conditions from one outcome, kstatus-style.

    Stalled implies not Ready and not Reconciling; Reconciling implies not (yet) Ready.
    """
    if stalled:
        ready, reconciling = False, False
    conditions = list(previous)
    conditions = set_condition(conditions, "Ready", ready, reason, message, generation=generation)
    conditions = set_condition(
        conditions,
        "Reconciling",
        reconciling,
        "Progressing" if reconciling else reason,
        message if reconciling else "",
        generation=generation,
    )
    conditions = set_condition(
        conditions,
        "Stalled",
        stalled,
        reason if stalled else "Succeeded" if ready else reason,
        message if stalled else "",
        generation=generation,
    )
    return conditions


def condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
