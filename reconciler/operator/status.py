"""The status the operator writes on custom resources: one outcome in, one status out.

Pure functions over JSON. Conditions come from the shared vocabulary
(`reconciler.core.conditions.summarize`), so `kubectl get` and `mcp-reconciler status` read the
same; a transition time moves only when a condition's status changes, and a status that
would not change is not written at all (`status_changes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.conditions import Phase, set_condition, summarize
from ..core.models import Condition, MCPServer
from ..upstream.discovery import ServerTool, apply_filter

STALLED_INVALID = "ValidationFailed"
"""Reason of a resource whose declaration the models reject."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one reconcile of a resource concluded."""

    phase: str
    reason: str
    message: str = ""
    ready: bool = False
    reconciling: bool = False
    stalled: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Kind-specific status fields (camelCase), e.g. `tools`, `toolCount`, `url`."""
    extra: tuple[tuple[str, bool, str, str], ...] = ()
    """More conditions: (type, status, reason, message), e.g. `ToolsLocked`."""

    @classmethod
    def invalid(cls, message: str, *, reason: str = STALLED_INVALID) -> Outcome:
        return cls(Phase.STALLED, reason, message, stalled=True)

    @classmethod
    def ready_now(cls, reason: str, message: str = "", **fields: Any) -> Outcome:
        return cls("Ready", reason, message, ready=True, fields=fields)


def _conditions(previous: Mapping[str, Any]) -> list[Condition]:
    found = []
    for raw in previous.get("conditions") or []:
        try:
            found.append(Condition.model_validate(raw))
        except ValueError:
            continue  # written by someone else in a shape we do not know: replaced
    return found


def status_for(
    previous: Mapping[str, Any], outcome: Outcome, *, generation: int | None
) -> dict[str, Any]:
    """The whole status after `outcome`, keeping unrelated fields of `previous`."""
    conditions = summarize(
        ready=outcome.ready,
        reconciling=outcome.reconciling,
        stalled=outcome.stalled,
        reason=outcome.reason,
        message=outcome.message,
        previous=_conditions(previous),
        generation=generation,
    )
    for type_, holds, reason, message in outcome.extra:
        conditions = set_condition(conditions, type_, holds, reason, message, generation=generation)
    status = dict(previous)
    status.update(outcome.fields)
    status["phase"] = outcome.phase
    status["message"] = outcome.message or None
    status["observedGeneration"] = generation
    status["conditions"] = [
        c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions
    ]
    return status


def status_changes(previous: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch from `previous` to `new` (top-level keys); empty when equal."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        if previous.get(key) != value:
            patch[key] = value
    return patch


def tools_status(
    server: MCPServer, tools: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """`status.tools` (name, description, schema hash, exposed) and the exposed count.

    Raises InvalidInput when the server's `tools.overrides` expose two tools under one name.
    """
    listed = [ServerTool.from_raw(dict(raw)) for raw in tools]
    filters = server.spec.tools
    exposed = {
        tool.server_name
        for tool in apply_filter(listed, filters.include, filters.exclude, filters.overrides)
    }
    entries = [
        tool.to_status(exposed=tool.name in exposed).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for tool in listed
    ]
    return entries, len(exposed)
