"""The semantic diff between two revisions: what a pull request would change, as data.

`diff_states(old, new)` is pure: resources added / removed / changed (field by field,
secret references printed by description), servers that start, stop or restart, suite
membership, and access widened or narrowed per subject and suite. The renderers in
`reconciler.render` print a Diff as text, JSON or Markdown.
"""

from __future__ import annotations

from .access import access_changes
from .model import (
    AccessChange,
    AccessKind,
    Diff,
    Direction,
    FieldChange,
    LockedToolChange,
    MembershipChange,
    ResourceChange,
)
from .resources import diff_states

__all__ = [
    "AccessChange",
    "AccessKind",
    "Diff",
    "Direction",
    "FieldChange",
    "LockedToolChange",
    "MembershipChange",
    "ResourceChange",
    "access_changes",
    "diff_states",
]
