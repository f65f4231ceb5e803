"""What changed between two versions of a tool's lock entry, in words a reviewer reads.

Used by the `ToolDrift` event (the lock entry against the definition the server offers
now) and by `diff` (the entry in one revision against the entry in another).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..core.models import LockedParameter, LockedTool
from .definitions import one_line

_QUOTED = 160
"""Characters of a description quoted in a change."""


def definition_changes(before: LockedTool, after: LockedTool) -> list[str]:
    """Each difference in title, description and parameters, as a phrase."""
    return list(_changes(before, after))


def _changes(before: LockedTool, after: LockedTool) -> Iterator[str]:
    if (before.title or "") != (after.title or ""):
        yield f"title changed from {_quote(before.title)} to {_quote(after.title)}"
    if (before.description or "") != (after.description or ""):
        yield (
            f"description changed from {_quote(before.description)} to {_quote(after.description)}"
        )
    for name in sorted(set(before.parameters) | set(after.parameters)):
        old, new = before.parameters.get(name), after.parameters.get(name)
        if old is None and new is not None:
            yield f"parameter {name} added ({describe_parameter(new)})"
        elif new is None and old is not None:
            yield f"parameter {name} removed (was {describe_parameter(old)})"
        elif old is not None and new is not None:
            if old.type != new.type:
                before_type, after_type = old.type or "any", new.type or "any"
                yield f"parameter {name} type changed from {before_type} to {after_type}"
            if old.required != new.required:
                yield f"parameter {name} is {'now required' if new.required else 'now optional'}"


def describe_parameter(parameter: LockedParameter) -> str:
    """`string`, or `integer, required`."""
    kind = parameter.type or "any"
    return f"{kind}, required" if parameter.required else kind


def _quote(text: str | None) -> str:
    if not text:
        return "(none)"
    return '"' + one_line(text, limit=_QUOTED) + '"'
