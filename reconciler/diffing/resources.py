"""Resource-level changes: added, removed, changed field by field; server lifecycle; suites."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.desired import DesiredState
from ..core.models import (
    KINDS,
    LLMProvider,
    MCPServer,
    MCPSuite,
    Resource,
    ResourceKey,
    ToolLock,
    Workflow,
)
from ..core.models.globs import glob_match
from ..core.spec_changes import (
    SECRET_REFERENCE_KEYS,
    field_deltas,
    is_runtime_path,
    runtime_changed,
    safe_value,
)
from .access import index_access_changes
from .index import StateIndex
from .locks import lock_tool_changes
from .model import (
    Diff,
    FieldChange,
    Lifecycle,
    LockedToolChange,
    MembershipChange,
    ResourceChange,
    Via,
)
from .sandbox import sandbox_changes

MAX_VALUE_CHARS = 160
"""Longer values are cut (with `...`) when displayed."""

_KIND_RANK = {kind: rank for rank, kind in enumerate(KINDS)}
_PROVIDER_FIELDS = ("spec.type", "spec.model", "spec.endpoint", "spec.apiVersion")

Tools = Mapping[str, Sequence[str]]
"""Discovered tools: server (qualified name: `namespace/name` outside the default
namespace) -> the server's tool names."""


def diff_states(old: DesiredState, new: DesiredState, *, tools: Tools | None = None) -> Diff:
    """What changes from `old` to `new`.

    `tools`, when given (discovered tools per server name), adds the concrete tools that
    become exposed or hidden, and callable or not callable per subject.
    """
    before, after = StateIndex.of(old), StateIndex.of(new)
    return Diff(
        resources=tuple(_resource_changes(before, after, tools=tools)),
        memberships=tuple(_membership_changes(before, after)),
        access=(
            *index_access_changes(before, after, tools=tools),
            *sandbox_changes(old, new),
        ),
        before_revision=old.revision,
        after_revision=new.revision,
    )


def display(value: Any, path: str) -> str | None:
    """A field value fit to print: secret references by description, long values cut."""
    if value is None:
        return None
    key = path.rpartition(".")[2]
    safe = _without_nulls(safe_value(value, key=key))
    if key in SECRET_REFERENCE_KEYS and isinstance(safe, str):
        text = safe
    else:
        text = json.dumps(safe, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _without_nulls(value: Any) -> Any:
    """Drop unset optional fields from displayed mappings: `{"name": "A", "value": "x"}`."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def resource_changes(
    old: DesiredState, new: DesiredState, *, tools: Tools | None = None
) -> list[ResourceChange]:
    """One ResourceChange per resource added, removed or changed, servers first."""
    return _resource_changes(StateIndex.of(old), StateIndex.of(new), tools=tools)


def _resource_changes(
    before_index: StateIndex, after_index: StateIndex, *, tools: Tools | None
) -> list[ResourceChange]:
    old, new = before_index.state, after_index.state
    changes: list[ResourceChange] = []
    for key in _differing(before_index, after_index):
        before, after = old.resources.get(key), new.resources.get(key)
        if after is None:
            assert before is not None
            stop: Lifecycle | None = "stop" if before_index.wants(key, before) else None
            changes.append(
                ResourceChange(
                    key,
                    "removed",
                    lifecycle=stop,
                    origin=_origin(old, key),
                    tools_removed=_exposed(before, tools),
                    locked_tools=_locked(before, None),
                )
            )
        elif before is None:
            start: Lifecycle | None = "start" if after_index.wants(key, after) else None
            changes.append(
                ResourceChange(
                    key,
                    "added",
                    lifecycle=start,
                    origin=_origin(new, key),
                    notes=tuple(_added_notes(after)),
                    tools_added=_exposed(after, tools),
                    locked_tools=_locked(None, after),
                )
            )
        else:
            runs = (before_index.wants(key, before), after_index.wants(key, after))
            change = _changed(before, after, new, runs=runs, tools=tools)
            if change is not None:
                changes.append(change)
    return changes


def _differing(old: StateIndex, new: StateIndex) -> list[ResourceKey]:
    """Keys of the resources removed, added, changed, or starting or stopping, servers first.

    Most resources of a large state are unchanged, often the very same object on both sides
    (a load reuses the model of a document it read before): those are passed over by
    identity, and only what may change is sorted. An unchanged server starts or stops only
    when an active Workflow needs it on one side and not on the other.
    """
    before_resources, after_resources = old.state.resources, new.state.resources
    flipped = old.needed ^ new.needed
    keys = [key for key in before_resources if key not in after_resources]
    for key, after in after_resources.items():
        before = before_resources.get(key)
        if (
            before is None
            or (before is not after and before != after)
            or (key in flipped and old.wants(key, before) != new.wants(key, after))
        ):
            keys.append(key)
    keys.sort(key=lambda k: (_KIND_RANK.get(k[0], 99), k))
    return keys


def _changed(
    before: Resource,
    after: Resource,
    new: DesiredState,
    *,
    runs: tuple[bool, bool],
    tools: Tools | None,
) -> ResourceChange | None:
    """`runs`: whether the server should run before and after."""
    key = after.key
    is_server = isinstance(before, MCPServer) and isinstance(after, MCPServer)
    deltas = field_deltas(before, after)
    locked = _locked(before, after)
    if isinstance(after, ToolLock):  # its tools are described per tool, in words
        deltas = [d for d in deltas if not d.path.startswith(("spec.tools", "spec.accepted"))]
    fields = tuple(
        FieldChange(
            d.path,
            display(d.before, d.path),
            display(d.after, d.path),
            restart=is_server and is_runtime_path(d.path),
        )
        for d in deltas
    )
    restart = (
        bool(deltas)
        and isinstance(before, MCPServer)
        and isinstance(after, MCPServer)
        and runtime_changed(before, after)
    )
    was, will = runs
    lifecycle: Lifecycle | None = None
    if was and not will:
        lifecycle = "stop"
    elif will and not was:
        lifecycle = "start"
    elif was and will and restart:
        lifecycle = "restart"
    if not fields and lifecycle is None and not locked:
        return None
    exposed_before, exposed_after = _exposed(before, tools), _exposed(after, tools)
    return ResourceChange(
        key,
        "changed",
        fields=fields,
        restart=restart,
        lifecycle=lifecycle,
        notes=tuple(_notes(before, after, new, {f.path for f in fields}, lifecycle=lifecycle)),
        origin=_origin(new, key, fields[0].path if fields else None),
        tools_added=tuple(t for t in exposed_after if t not in exposed_before),
        tools_removed=tuple(t for t in exposed_before if t not in exposed_after),
        locked_tools=locked,
    )


def _locked(before: Resource | None, after: Resource | None) -> tuple[LockedToolChange, ...]:
    if isinstance(before, ToolLock) or isinstance(after, ToolLock):
        return lock_tool_changes(
            before if isinstance(before, ToolLock) else None,
            after if isinstance(after, ToolLock) else None,
        )
    return ()


def _origin(state: DesiredState, key: ResourceKey, path: str | None = None) -> str | None:
    origin = state.origins.get(key)
    if origin is None:
        return None
    return f"{origin.file}:{origin.line_of(path) if path else origin.line}"


def _exposed(resource: Resource | None, tools: Tools | None) -> tuple[str, ...]:
    """Tools of a server its filter exposes, when discovered tools are known."""
    if tools is None or not isinstance(resource, MCPServer):
        return ()
    return exposed_tools(resource, tools.get(resource.key.qualified_name, ()))


def exposed_tools(server: MCPServer, names: Sequence[str]) -> tuple[str, ...]:
    """The server's own names of the tools its `tools.include`/`exclude` lets through."""
    spec = server.spec.tools
    return tuple(
        name
        for name in names
        if any(glob_match(p, name) for p in spec.include)
        and not any(glob_match(p, name) for p in spec.exclude)
    )


def _added_notes(resource: Resource) -> list[str]:
    if isinstance(resource, MCPServer) and not resource.spec.enabled:
        return ["declared disabled: not started"]
    return []


def _notes(
    before: Resource,
    after: Resource,
    new: DesiredState,
    paths: set[str],
    *,
    lifecycle: Lifecycle | None,
) -> list[str]:
    notes: list[str] = []
    if isinstance(after, MCPServer):
        if lifecycle in ("start", "stop") and not any(
            p.startswith(("spec.enabled", "spec.autoStart")) for p in paths
        ):
            needed = "now needed" if lifecycle == "start" else "no longer needed"
            notes.append(f"{needed} by an active Workflow")
        if any(p.startswith("spec.enhancement") for p in paths):
            notes.append("tool descriptions are enhanced again")
    elif isinstance(before, LLMProvider) and isinstance(after, LLMProvider):
        if paths & set(_PROVIDER_FIELDS):
            old_spec, new_spec = before.spec, after.spec
            notes.append(
                f"provider {_provider_text(old_spec.type, old_spec.model, old_spec.endpoint)}"
                f" -> {_provider_text(new_spec.type, new_spec.model, new_spec.endpoint)}"
            )
            users = sorted(
                s.name
                for s in new.of_kind(MCPServer, after.metadata.ns)
                if s.spec.enhancement is not None and s.spec.enhancement.provider_ref == after.name
            )
            if users:
                notes.append("re-enhances tools of: " + ", ".join(users))
    elif isinstance(before, MCPSuite) and isinstance(after, MCPSuite):
        if before.spec.conflict_resolution != after.spec.conflict_resolution:
            notes.append(
                f"tool names on the endpoint change: {_naming(before)} -> {_naming(after)};"
                " clients see different tool names"
            )
    elif (
        isinstance(before, ToolLock)
        and isinstance(after, ToolLock)
        and before.spec.mode != after.spec.mode
    ):
        if after.spec.mode == "warn":
            notes.append(f"drifted and unlocked tools of {after.name} are served (with warnings)")
        else:
            notes.append(f"drifted and unlocked tools of {after.name} are withheld")
    elif (
        isinstance(before, Workflow)
        and isinstance(after, Workflow)
        and before.spec.active != after.spec.active
    ):
        suites = ", ".join(after.spec.suites) or "none"
        state = "activated" if after.spec.active else "deactivated"
        notes.append(f"{state}: servers of suites {suites} follow")
    return notes


def _provider_text(kind: str, model: str | None, endpoint: str | None) -> str:
    text = f"{kind}/{model}" if model else kind
    return f"{text} at {endpoint}" if endpoint else text


def _naming(suite: MCPSuite) -> str:
    if suite.spec.conflict_resolution == "prefix":
        return "prefix (<server>_<tool>)"
    return "priority (bare names, higher priority wins)"


def membership_changes(old: DesiredState, new: DesiredState) -> list[MembershipChange]:
    """Servers joining or leaving suites (named or by selector), and priority changes."""
    return _membership_changes(StateIndex.of(old), StateIndex.of(new))


def _membership_changes(old: StateIndex, new: StateIndex) -> list[MembershipChange]:
    changes: list[MembershipChange] = []
    # Same members with the same priorities: nobody joins, leaves or moves.
    for key in sorted(k for k, members in new.members.items() if old.members.get(k) != members):
        before = _members(old, key)
        after = _members(new, key)
        for server in sorted(set(before) | set(after)):
            if server not in before:
                prio, via = after[server]
                changes.append(MembershipChange(key, server, "joined", None, prio, via))
            elif server not in after:
                prio, via = before[server]
                changes.append(MembershipChange(key, server, "left", prio, None, via))
            elif before[server][0] != after[server][0]:
                prio, via = after[server]
                changes.append(
                    MembershipChange(key, server, "priority", before[server][0], prio, via)
                )
    return changes


def _members(index: StateIndex, key: ResourceKey) -> dict[str, tuple[int, Via]]:
    suite = index.state.get(MCPSuite, key.name, key.namespace)
    if suite is None:
        return {}
    named = {m.name for m in suite.spec.servers}
    return {
        name: (priority, "servers" if name in named else "selector")
        for name, priority in index.members.get(key, {}).items()
    }


__all__ = ["diff_states", "display", "exposed_tools", "membership_changes", "resource_changes"]
