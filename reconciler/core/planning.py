"""The planner: from the desired state and what an actuator observed, the actions to take.

`plan(desired, observed)` is pure. Every consumer reads the same Plan: the standalone
controller (supervises processes), the Kubernetes operator (applies Deployments), the
gateway configuration (suites, permissions) and the enhancement step (providers, tool
texts). They differ only in how they carry an action out; after carrying it out they record
`action.spec_hash` (and, for servers, `action.runtime_hash` and whether it runs), which is
what they report back as the next ObservedState. `observed_after` computes that report, so
a second plan over it is a no-op.

Decisions for an MCPServer (one ActionKind each):

    not observed                          CREATE   (started when wanted running)
    wanted running, Stalled, same spec    UNCHANGED (stays Stalled until the spec changes)
    wanted running, Stalled, spec changed START, or RESTART when still running
    wanted running, running, runtime hash RESTART
    wanted running, running, other fields UPDATE   (applied in place)
    wanted running, not running           START    (drift: killed, or enabled again)
    not wanted running, running           STOP     (enabled false, or autoStart false and
                                                    no active Workflow needs it)
    not wanted running, spec changed      UPDATE   (recorded, stays stopped)
    observed, no longer declared          DELETE   (stopped and forgotten)

Other kinds are CREATE, UPDATE, UNCHANGED or DELETE. A suite's hash includes its members
after selectors are applied, so relabelling a server updates the suites it joins or leaves.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .desired import DesiredState
from .membership import resolved_members, wanted_running_servers
from .models import (
    LLMProvider,
    MCPServer,
    MCPSuite,
    Resource,
    ResourceKey,
    ToolLock,
    ToolPermission,
    Workflow,
)
from .spec_changes import (
    Fingerprint,
    changed_paths,
    digest,
    fingerprint,
    runtime_hash,
    spec_hash,
)

KIND_ORDER: tuple[str, ...] = (
    LLMProvider.kind_name,
    MCPServer.kind_name,
    MCPSuite.kind_name,
    ToolPermission.kind_name,
    Workflow.kind_name,
    ToolLock.kind_name,
)
"""Dependency order of kinds: creates and updates follow it, deletes run in reverse."""


class ActionKind(enum.StrEnum):
    """What to do with one resource."""

    CREATE = "create"
    UPDATE = "update"
    RESTART = "restart"
    """An update that replaces the running process (its runtime hash changed)."""
    START = "start"
    """Desired running but not running (drift, enabled again, needed by a workflow)."""
    STOP = "stop"
    """Running but not wanted running (enabled false, or autoStart false and not needed)."""
    DELETE = "delete"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class ObservedServer:
    """What an actuator reports about one server it manages."""

    runtime_hash: str | None = None
    """Runtime hash the running (or last started) instance was started from."""
    spec_hash: str | None = None
    """Spec hash last applied (in place or by a start)."""
    running: bool = False
    """Under supervision: up, starting, or backing off between restarts."""
    phase: str | None = None
    """The actuator's one-word phase (`Ready`, `Failed`, ...), for reasons only."""
    consecutive_failures: int = 0
    """Failures since it was last healthy."""
    stalled: bool = False
    """Gave up after `restart.maxFailures`; nothing restarts it until its spec changes."""
    applied: MCPServer | None = None
    """The declaration last applied, when the actuator keeps it (gives changed field paths)."""


@dataclass(frozen=True, slots=True)
class ObservedResource:
    """What an actuator reports about one suite, permission, provider or workflow."""

    spec_hash: str
    """Hash last applied (for suites: including resolved members)."""
    applied: Resource | None = None
    """The declaration last applied, when kept (gives changed field paths)."""


@dataclass
class ObservedState:
    """Everything an actuator manages, by key."""

    servers: dict[ResourceKey, ObservedServer] = field(default_factory=dict)
    resources: dict[ResourceKey, ObservedResource] = field(default_factory=dict)
    """Every other kind."""

    def __len__(self) -> int:
        return len(self.servers) + len(self.resources)


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan, and what to record once it is carried out."""

    key: ResourceKey
    kind: ActionKind
    reason: str
    """Why, in words: shown in logs, events and `diff`."""
    changed: tuple[str, ...] = ()
    """Changed field paths (`spec.args.1`), when the previously applied spec is known."""
    resource: Resource | None = None
    """The desired resource; None for DELETE."""
    spec_hash: str | None = None
    """Hash to record as applied; None for DELETE."""
    runtime_hash: str | None = None
    """Servers: runtime hash of the desired spec."""
    run: bool = False
    """Servers: whether it should be running once the action is carried out."""

    @property
    def restart(self) -> bool:
        """Whether a running process is replaced."""
        return self.kind is ActionKind.RESTART

    @property
    def is_change(self) -> bool:
        return self.kind is not ActionKind.UNCHANGED

    def __str__(self) -> str:
        return f"{self.kind.value} {self.key}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Plan:
    """Actions in dependency order: creates/updates by KIND_ORDER, then deletes in reverse."""

    actions: tuple[Action, ...]
    revision: str | None = None

    @property
    def changes(self) -> list[Action]:
        """Every action but UNCHANGED."""
        return [a for a in self.actions if a.is_change]

    @property
    def is_noop(self) -> bool:
        return all(not a.is_change for a in self.actions)

    def by_kind(self) -> dict[ActionKind, list[Action]]:
        """Actions grouped by ActionKind, each group in plan order."""
        grouped: dict[ActionKind, list[Action]] = defaultdict(list)
        for action in self.actions:
            grouped[action.kind].append(action)
        return dict(grouped)

    def counts(self) -> dict[str, int]:
        """Number of actions per ActionKind value, for summaries and metrics."""
        return {kind.value: len(actions) for kind, actions in self.by_kind().items()}

    def for_key(self, key: ResourceKey) -> Action | None:
        return next((a for a in self.actions if a.key == key), None)


def plan(desired: DesiredState, observed: ObservedState) -> Plan:
    """Decide the action for every desired or observed resource."""
    members = resolved_members(desired)
    wanted = wanted_running_servers(desired, members=members)
    by_kind: dict[str, list[Action]] = defaultdict(list)
    for key, resource in desired.resources.items():
        if isinstance(resource, MCPServer):
            action = _server_action(resource, observed.servers.get(key), wanted=key in wanted)
        else:
            action = _resource_action(resource, observed.resources.get(key), members.get(key))
        by_kind[key.kind].append(action)
    deletes: dict[str, list[Action]] = defaultdict(list)
    for key in [*observed.servers, *observed.resources]:
        if key not in desired.resources:
            deletes[key.kind].append(Action(key, ActionKind.DELETE, "no longer declared"))
    ordered: list[Action] = []
    for kind in _kinds(by_kind):
        ordered.extend(sorted(by_kind[kind], key=lambda a: a.key))
    for kind in reversed(_kinds(deletes)):
        ordered.extend(sorted(deletes[kind], key=lambda a: a.key))
    return Plan(tuple(ordered), desired.revision)


def _kinds(groups: Mapping[str, object]) -> list[str]:
    """KIND_ORDER, then any kind it does not know (sorted), so nothing is ever dropped."""
    return [k for k in KIND_ORDER if k in groups] + sorted(set(groups) - set(KIND_ORDER))


def _server_action(server: MCPServer, seen: ObservedServer | None, *, wanted: bool) -> Action:
    prints = fingerprint(server)
    kind, reason = decide_server(server, prints, seen, wanted=wanted)
    spec_changed = seen is not None and seen.spec_hash != prints.spec_hash
    return Action(
        server.key,
        kind,
        reason,
        changed=_changed(seen.applied, server) if seen is not None and spec_changed else (),
        resource=server,
        spec_hash=prints.spec_hash,
        runtime_hash=prints.runtime_hash,
        run=wanted,
    )


def decide_server(
    server: MCPServer, prints: Fingerprint, seen: ObservedServer | None, *, wanted: bool
) -> tuple[ActionKind, str]:
    """The decision table of the module docstring: what to do with one server, and why."""
    if seen is None:
        return ActionKind.CREATE, "new" if wanted else _why_not(server)
    spec_changed = seen.spec_hash != prints.spec_hash
    if not wanted:
        if seen.running:
            return ActionKind.STOP, _why_not(server)
        if spec_changed:
            return ActionKind.UPDATE, "spec changed (stays stopped)"
        return ActionKind.UNCHANGED, "stopped"
    if seen.stalled:
        if not spec_changed:
            count = seen.consecutive_failures
            after = f" after {count} failures" if count else ""
            return ActionKind.UNCHANGED, f"Stalled{after}: waiting for a spec change"
        kind = ActionKind.RESTART if seen.running else ActionKind.START
        return kind, "spec changed: retrying a Stalled server"
    if not seen.running:
        return ActionKind.START, "not running" + (f" (phase {seen.phase})" if seen.phase else "")
    if seen.runtime_hash != prints.runtime_hash:
        return ActionKind.RESTART, "runtime spec changed"
    if spec_changed:
        return ActionKind.UPDATE, "spec changed (no restart needed)"
    return ActionKind.UNCHANGED, "up to date"


def _why_not(server: MCPServer) -> str:
    if not server.spec.enabled:
        return "disabled (enabled: false)"
    return "autoStart false and no active Workflow needs it"


def _resource_action(
    resource: Resource, seen: ObservedResource | None, members: dict[str, int] | None
) -> Action:
    applied_hash = spec_hash(resource)
    if members is not None:
        applied_hash = digest([applied_hash, sorted(members.items())])
    kind, reason = ActionKind.UNCHANGED, "up to date"
    changed: tuple[str, ...] = ()
    if seen is None:
        kind, reason = ActionKind.CREATE, "new"
    elif seen.spec_hash != applied_hash:
        changed = _changed(seen.applied, resource)
        kind = ActionKind.UPDATE
        reason = "spec changed" if changed or seen.applied is None else "members changed"
    return Action(resource.key, kind, reason, changed, resource=resource, spec_hash=applied_hash)


def _changed(applied: Resource | None, resource: Resource) -> tuple[str, ...]:
    return changed_paths(applied, resource) if applied is not None else ()


def observed_after(observed: ObservedState, done: Plan) -> ObservedState:
    """What an actuator that carried out every action of `done` reports next."""
    servers = dict(observed.servers)
    resources = dict(observed.resources)
    for action in done.actions:
        if action.kind is ActionKind.DELETE:
            servers.pop(action.key, None)
            resources.pop(action.key, None)
        elif isinstance(action.resource, MCPServer):
            servers[action.key] = _server_after(action, servers.get(action.key))
        elif action.kind is not ActionKind.UNCHANGED:
            assert action.spec_hash is not None
            resources[action.key] = ObservedResource(action.spec_hash, action.resource)
    return ObservedState(servers, resources)


def _server_after(action: Action, seen: ObservedServer | None) -> ObservedServer:
    server = action.resource
    assert isinstance(server, MCPServer)
    if action.kind is ActionKind.UNCHANGED and seen is not None:
        return seen
    if action.kind in (ActionKind.START, ActionKind.RESTART) or (
        action.kind is ActionKind.CREATE and action.run
    ):
        return ObservedServer(
            action.runtime_hash, action.spec_hash, running=True, phase="Ready", applied=server
        )
    previous = seen or ObservedServer()
    running = previous.running and action.kind is not ActionKind.STOP
    return replace(previous, spec_hash=action.spec_hash, running=running, applied=server)


def mass_prune(plan: Plan, observed: ObservedState) -> bool:
    """Whether the plan deletes every observed server, or more than half of them, at once.

    The controller refuses such a plan unless `--allow-mass-prune` is given: a source that
    suddenly looks empty is more often a broken checkout than an intent.
    """
    total = len(observed.servers)
    if total == 0:
        return False
    deleted = sum(
        1 for a in plan.actions if a.kind is ActionKind.DELETE and a.key.kind == MCPServer.kind_name
    )
    return deleted == total or deleted * 2 > total


def converged(desired: DesiredState) -> ObservedState:
    """The observed state of an actuator that applied `desired` completely."""
    return observed_after(ObservedState(), plan(desired, ObservedState()))


__all__ = [
    "KIND_ORDER",
    "Action",
    "ActionKind",
    "ObservedResource",
    "ObservedServer",
    "ObservedState",
    "Plan",
    "converged",
    "decide_server",
    "mass_prune",
    "observed_after",
    "plan",
    "resolved_members",
    "runtime_hash",
    "spec_hash",
    "wanted_running_servers",
]
