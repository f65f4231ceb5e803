"""The values a diff is made of, each with a `to_dict()` for JSON output.

JSON keys are camelCase, like the resources. Values printed as `before`/`after` are
display strings made safe by `reconciler.core.spec_changes.safe_value`: a secret reference
reads `secret llm/openai` or `env $CI_BOT_TOKEN`, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..core.models import DEFAULT_NAMESPACE, ResourceKey

ChangeType = Literal["added", "removed", "changed"]
Lifecycle = Literal["start", "stop", "restart"]
Direction = Literal["widened", "narrowed", "changed"]
Via = Literal["servers", "selector"]
AccessKind = Literal[
    "suite-opened",
    "suite-closed",
    "subject-added",
    "subject-removed",
    "allow-added",
    "allow-removed",
    "deny-added",
    "deny-removed",
    "tools-callable",
    "tools-not-callable",
    "rate-limit",
    "sandbox-added",
    "sandbox-removed",
    "sandbox-path-added",
    "sandbox-path-removed",
    "sandbox-network-opened",
    "sandbox-network-closed",
    "identity-added",
    "identity-removed",
    "identity-changed",
    "credential-added",
    "credential-removed",
]


def key_dict(key: ResourceKey) -> dict[str, str]:
    return {"resource": str(key), "kind": key.kind, "namespace": key.namespace, "name": key.name}


def suite_label(key: ResourceKey) -> str:
    """A suite as users name it: `dev`, or `team-a/dev` outside the default namespace."""
    return key.name if key.namespace == DEFAULT_NAMESPACE else f"{key.namespace}/{key.name}"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field, its values rendered for display (None when absent)."""

    path: str
    """Dotted camelCase path, e.g. `spec.args.1`."""
    before: str | None
    after: str | None
    restart: bool = False
    """An MCPServer runtime field: changing it restarts the server."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "restart": self.restart,
        }


@dataclass(frozen=True, slots=True)
class LockedToolChange:
    """A ToolLock change to one tool, in words."""

    tool: str
    change: Literal["added", "removed", "changed", "accepted", "unaccepted"]
    details: tuple[str, ...] = ()
    """What changed: description before/after, parameters added, removed or retyped."""

    @property
    def message(self) -> str:
        verb = {
            "added": "locked",
            "removed": "unlocked",
            "changed": "re-locked",
            "accepted": "finding accepted",
            "unaccepted": "acceptance withdrawn",
        }[self.change]
        return f"{self.tool} {verb}: " + "; ".join(self.details)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "change": self.change,
            "details": list(self.details),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """A resource added, removed or changed, and what that does."""

    key: ResourceKey
    change: ChangeType
    fields: tuple[FieldChange, ...] = ()
    """Changed fields (changes only)."""
    restart: bool = False
    """MCPServer: its runtime hash changed (see reconciler.core.spec_changes.RUNTIME_FIELDS)."""
    lifecycle: Lifecycle | None = None
    """MCPServer: whether it starts, stops or restarts as a result."""
    notes: tuple[str, ...] = ()
    """Consequences in words (provider model changed, tool names change, ...)."""
    origin: str | None = None
    """`FILE:LINE` of the declaration (the old one for removals)."""
    tools_added: tuple[str, ...] = ()
    """MCPServer, when discovered tools were given: tools newly exposed."""
    tools_removed: tuple[str, ...] = ()
    """MCPServer, when discovered tools were given: tools no longer exposed."""
    locked_tools: tuple[LockedToolChange, ...] = ()
    """ToolLock: each tool's change in words (its `spec.tools` fields are not listed)."""

    @property
    def paths(self) -> list[str]:
        """Changed fields cut to two levels (`spec.args`, `metadata.labels`), deduplicated."""
        seen: dict[str, None] = {}
        for change in self.fields:
            seen[".".join(change.path.split(".")[:2])] = None
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            **key_dict(self.key),
            "change": self.change,
            "restart": self.restart,
            "lifecycle": self.lifecycle,
            "fields": [f.to_dict() for f in self.fields],
            "notes": list(self.notes),
            "origin": self.origin,
            "toolsAdded": list(self.tools_added),
            "toolsRemoved": list(self.tools_removed),
            "toolLock": [c.to_dict() for c in self.locked_tools],
        }


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """A server that joined or left a suite, or whose priority in it changed."""

    suite: ResourceKey
    server: str
    change: Literal["joined", "left", "priority"]
    before: int | None = None
    """Priority before (None: not a member)."""
    after: int | None = None
    """Priority after (None: not a member)."""
    via: Via = "servers"
    """How it is (for `left`: was) a member: named in `servers`, or matched by `selector`."""

    @property
    def message(self) -> str:
        suite = suite_label(self.suite)
        how = " (by selector)" if self.via == "selector" else ""
        if self.change == "joined":
            return f"{self.server} joins suite {suite}{how}"
        if self.change == "left":
            return f"{self.server} leaves suite {suite}{how}"
        return f"{self.server} priority in suite {suite}: {self.before} -> {self.after}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": str(self.suite),
            "server": self.server,
            "change": self.change,
            "priorityBefore": self.before,
            "priorityAfter": self.after,
            "via": self.via,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class AccessChange:
    """Who may call what, before and after: one line of the Access section."""

    direction: Direction
    kind: AccessKind
    message: str
    """The change in words, e.g. `ci-bot may now call filesystem.write_* on suite dev`."""
    suite: ResourceKey | None = None
    subject: str | None = None
    """A caller's name, `role:<name>`, or None for anyone (an open suite)."""
    patterns: tuple[str, ...] = ()
    """Rule patterns concerned."""
    tools: tuple[str, ...] = ()
    """Concrete `server.tool` names concerned, when discovered tools were given."""
    critical: bool = False
    """A suite opened to anyone without a token."""
    permission: ResourceKey | None = None
    """The ToolPermission concerned (rate limits)."""
    server: ResourceKey | None = None
    """The MCPServer whose sandbox changed (`sandbox-*` kinds)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "kind": self.kind,
            "suite": str(self.suite) if self.suite else None,
            "subject": self.subject,
            "patterns": list(self.patterns),
            "tools": list(self.tools),
            "critical": self.critical,
            "permission": str(self.permission) if self.permission else None,
            "server": str(self.server) if self.server else None,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Diff:
    """Everything that changes from one revision to another."""

    resources: tuple[ResourceChange, ...] = ()
    memberships: tuple[MembershipChange, ...] = ()
    access: tuple[AccessChange, ...] = ()
    before_revision: str | None = None
    after_revision: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.resources or self.memberships or self.access)

    def summary(self) -> dict[str, int]:
        """Counts for a summary line or table, always with every key."""
        counts = {
            "added": 0,
            "removed": 0,
            "changed": 0,
            "restarts": 0,
            "starts": 0,
            "stops": 0,
            "membershipChanges": len(self.memberships),
            "accessWidened": 0,
            "accessNarrowed": 0,
            "critical": 0,
        }
        for change in self.resources:
            counts[change.change] += 1
            if change.lifecycle is not None:
                counts[change.lifecycle + "s"] += 1
        for access in self.access:
            if access.direction == "widened":
                counts["accessWidened"] += 1
            elif access.direction == "narrowed":
                counts["accessNarrowed"] += 1
            counts["critical"] += access.critical
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "beforeRevision": self.before_revision,
            "afterRevision": self.after_revision,
            "hasChanges": self.has_changes,
            "summary": self.summary(),
            "resources": [c.to_dict() for c in self.resources],
            "memberships": [c.to_dict() for c in self.memberships],
            "access": [c.to_dict() for c in self.access],
        }
