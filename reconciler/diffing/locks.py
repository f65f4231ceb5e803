"""ToolLock changes per tool, in words: what a reviewer approves by merging a lock update."""

from __future__ import annotations

from ..core.models import ToolLock
from ..toollock import definition_changes, one_line
from ..toollock.changes import describe_parameter
from .model import LockedToolChange


def lock_tool_changes(
    before: ToolLock | None, after: ToolLock | None
) -> tuple[LockedToolChange, ...]:
    """Each tool locked, unlocked or re-locked with a different definition; each finding
    newly accepted or no longer accepted."""
    old = before.spec.tools if before else {}
    new = after.spec.tools if after else {}
    changes: list[LockedToolChange] = []
    for tool in sorted(set(old) | set(new)):
        was, will = old.get(tool), new.get(tool)
        if was is None and will is not None:
            text = f'"{one_line(will.description, limit=160)}"' if will.description else "(none)"
            params = (
                ", ".join(
                    f"{name} ({describe_parameter(will.parameters[name])})"
                    for name in sorted(will.parameters)
                )
                or "none"
            )
            changes.append(
                LockedToolChange(tool, "added", (f"description {text}", f"parameters: {params}"))
            )
        elif will is None and was is not None:
            changes.append(LockedToolChange(tool, "removed", ("no longer locked",)))
        elif was is not None and will is not None and was.sha256 != will.sha256:
            words = definition_changes(was, will) or [
                "definition changed (output schema, annotations or parameter details)"
            ]
            changes.append(LockedToolChange(tool, "changed", tuple(words)))
    accepted_before = {(a.tool, a.finding) for a in before.spec.accepted} if before else set()
    accepted_after = {(a.tool, a.finding) for a in after.spec.accepted} if after else set()
    for tool, finding in sorted(accepted_after - accepted_before):
        changes.append(
            LockedToolChange(
                tool, "accepted", (f"scan finding {finding} accepted: served despite it",)
            )
        )
    for tool, finding in sorted(accepted_before - accepted_after):
        changes.append(
            LockedToolChange(tool, "unaccepted", (f"scan finding {finding} no longer accepted",))
        )
    return tuple(changes)
