"""The standalone reconcile pipeline: one pass from a snapshot to a converged, recorded state.

    load ─► record attempt ─► plan ─► guard mass prune ─► guard suites turned open
         ─► carry out ─► configure gateway ─► record applied ─► write status

An unchanged revision (and every resync) still compares the secret values the gateway
depends on (`credentials.py`): a rotated token reconfigures the gateway at once.

It is the only place that sequences side effects. The plan comes from the shared planner
(`reconciler.core.planning`); this module only decides how each action is carried out locally:
a ServerRunner per running server (started and stopped through the RunnerPool), and a new
gateway configuration. What is applied is kept once: the DesiredState, and for each
resource the spec hash it was applied with (and, for a server, the directory of its file).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ..core.conditions import Phase
from ..core.desired import DesiredState
from ..core.errors import Problem
from ..core.models import MCPServer, Resource, ResourceKey
from ..core.open_suites import opened_suites
from ..core.planning import (
    Action,
    ActionKind,
    ObservedResource,
    ObservedServer,
    ObservedState,
    Plan,
    mass_prune,
    plan,
)
from ..core.spec_changes import spec_hash
from ..gateway import ServerState
from ..loading.loader import LoadResult
from ..secrets import SecretResolver
from ..store import Store
from ..toollock import ServerVerdict, ToolVerdict, judge_state
from ..upstream.sinks import MessageSink
from .credentials import fingerprints, rotated
from .pool import RunnerPool
from .runner import ServerRunner, server_id
from .statuses import ProviderFacts, ServerFacts, not_running, status_of

log = structlog.get_logger("reconciler.controller")

Locks = Mapping[tuple[str, str], ServerVerdict]
"""(namespace, server) -> the ToolLock and scan verdict on its running tools."""
GatewaySink = Callable[[DesiredState, dict[str, list[dict[str, Any]]], Locks], None]
"""Receives the applied state, each running server's tools and the ToolLock and scan
verdict on them after every change."""


@dataclass(frozen=True, slots=True)
class Applied:
    """One applied resource."""

    resource: Resource
    spec_hash: str
    base_dir: Path | None = None
    """A server's: the directory of the file it was declared in (relative commands and
    workingDir start there)."""


@dataclass
class ReconcileOutcome:
    """What one reconcile did: for logs, the control API and tests."""

    revision: str
    applied: bool
    reason: str
    message: str = ""
    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0


class Reconciler:
    """Owns the runners and the applied state of one standalone controller."""

    def __init__(
        self,
        *,
        store: Store,
        pool: RunnerPool,
        gateway: GatewaySink | None = None,
        server_state: Callable[[str, ServerState], None] | None = None,
        sink_for: Callable[[str], MessageSink] | None = None,
        resolver: SecretResolver | None = None,
        allow_mass_prune: bool = False,
        allow_open_suites: bool = False,
        provider_facts: Callable[[], Mapping[ResourceKey, ProviderFacts]] | None = None,
    ) -> None:
        self.store = store
        self.pool = pool
        self.gateway = gateway
        self.server_state = server_state
        """Told each server's state (up, starting, down, failed): the gateway's /readyz."""
        self.sink_for = sink_for
        """Receives what a server (by qualified name) sends outside any call."""
        self.resolver = resolver or SecretResolver()
        """Reads token values, to notice a rotated credential."""
        self.allow_mass_prune = allow_mass_prune
        self.allow_open_suites = allow_open_suites
        """Apply a revision that leaves a suite that had ToolPermissions without any."""
        self._credentials: dict[str, str] = {}
        self.provider_facts = provider_facts
        """Each LLMProvider's probe (None: providers are Ready once applied)."""
        self.applied: DesiredState | None = None
        self._inventory: dict[ResourceKey, Applied] = {}
        """Every applied resource (servers running or not)."""
        self.locks: dict[tuple[str, str], ServerVerdict] = {}
        """(namespace, server) -> the ToolLock and scan verdict on its running tools."""
        self._lock = asyncio.Lock()

    @property
    def lock(self) -> asyncio.Lock:
        """Held while runners are replaced (a reconcile, a resync, a restart)."""
        return self._lock

    # -- the pipeline ---------------------------------------------------------------------

    async def reconcile(
        self, result: LoadResult, *, revision: str, root: Path | None = None
    ) -> ReconcileOutcome:
        """Apply one loaded revision, or keep the last good one when it is invalid."""
        async with self._lock:
            started = time.monotonic()
            outcome = await self._reconcile(result, revision=revision, root=root)
            outcome.seconds = time.monotonic() - started
            log.info(
                "reconciled",
                revision=revision,
                applied=outcome.applied,
                reason=outcome.reason,
                seconds=round(outcome.seconds, 4),
                changes=outcome.plan.counts() if outcome.plan else None,
            )
            return outcome

    async def _reconcile(
        self, result: LoadResult, *, revision: str, root: Path | None
    ) -> ReconcileOutcome:
        if not result.ok or result.state is None:
            return self._reject(revision, result.errors)
        desired = result.state
        desired.revision = revision
        observed = self.observed()
        the_plan = plan(desired, observed)
        if mass_prune(the_plan, observed) and not self.allow_mass_prune:
            return self._refuse_mass_prune(revision, the_plan)
        opened = opened_suites(self.applied, desired) if self.applied is not None else []
        if opened and not self.allow_open_suites:
            return self._refuse_open_suites(revision, opened, the_plan)
        if the_plan.is_noop and self.applied is not None and revision == self.applied.revision:
            if self._credentials_rotated():
                self._configure_gateway()
                return ReconcileOutcome(
                    revision, True, "CredentialsRotated", "tokens changed", plan=the_plan
                )
            return ReconcileOutcome(revision, True, "Unchanged", "no changes", plan=the_plan)
        await self._carry_out(the_plan, base_dirs=_base_dirs(desired, the_plan, root))
        self.applied = desired
        with self.store.batch():
            self.store.record_applied(revision, _documents(desired))
            self._event("info", "source", "Applied", f"applied {revision}: {_summary(the_plan)}")
            self._credentials_rotated()
            self.write_status([a.key for a in the_plan.changes])
        self._configure_gateway()
        return ReconcileOutcome(revision, True, "Succeeded", _summary(the_plan), plan=the_plan)

    async def resync(self) -> ReconcileOutcome | None:
        """Re-plan the applied state: corrects drift (a runner that ended, a lost process)."""
        if self.applied is None:
            return None
        async with self._lock:
            the_plan = plan(self.applied, self.observed())
            rotated = self._credentials_rotated()
            if not the_plan.is_noop:
                await self._carry_out(the_plan)
                self._configure_gateway()
                self.write_status()
            elif rotated:
                self._configure_gateway()
            return ReconcileOutcome(self.applied.revision or "", True, "Resynced", plan=the_plan)

    def observed(self) -> ObservedState:
        servers: dict[ResourceKey, ObservedServer] = {}
        resources: dict[ResourceKey, ObservedResource] = {}
        for key, applied in self._inventory.items():
            if not isinstance(applied.resource, MCPServer):
                resources[key] = ObservedResource(applied.spec_hash, applied.resource)
                continue
            runner = self.pool.runner(key)
            running = runner is not None and (runner.running or runner.stalled)
            servers[key] = ObservedServer(
                runtime_hash=runner.runtime_hash if runner else None,
                spec_hash=applied.spec_hash,
                running=running,
                phase=str(runner.phase) if runner else str(Phase.STOPPED),
                consecutive_failures=runner.failures if runner else 0,
                stalled=runner.stalled if runner else False,
                applied=applied.resource,
            )
        return ObservedState(servers=servers, resources=resources)

    # -- carrying out the plan ------------------------------------------------------------

    async def _carry_out(
        self, the_plan: Plan, *, base_dirs: dict[ResourceKey, Path] | None = None
    ) -> None:
        stops = [a for a in the_plan.actions if a.kind in _STOPPING]
        await asyncio.gather(*(self.pool.stop(a.key) for a in stops if a.key in self.pool))
        for action in the_plan.actions:
            if isinstance(action.resource, MCPServer) or (
                action.kind is ActionKind.DELETE and action.key.kind == MCPServer.kind_name
            ):
                self._server_action(action, (base_dirs or {}).get(action.key))
            else:
                self._resource_action(action)

    def _server_action(self, action: Action, base_dir: Path | None) -> None:
        key = action.key
        if action.kind is ActionKind.DELETE:
            pruned = self._inventory.pop(key, None)
            if pruned is not None:
                self.store.forget_server(server_id(pruned.resource))  # type: ignore[arg-type]
            self.store.delete_status(key)
            self._event("info", "prune", "Pruned", f"{key} stopped and removed", resource=key)
            return
        server = action.resource
        assert isinstance(server, MCPServer)
        previous = self._inventory.get(key)
        if action.kind is ActionKind.UNCHANGED and previous is not None:
            return
        server_hash = action.spec_hash or spec_hash(server)
        base_dir = base_dir or (previous.base_dir if previous else None) or Path.cwd()
        self._inventory[key] = Applied(server, server_hash, base_dir)
        runner = self.pool.runner(key)
        if action.kind is ActionKind.UPDATE and runner is not None:
            runner.update(server, spec_hash=server_hash)
            return
        if action.run and (runner is None or not runner.running):
            self.pool.start(
                server,
                spec_hash=server_hash,
                runtime_hash=action.runtime_hash,
                base_dir=base_dir,
                sink=self.sink_for(key.qualified_name) if self.sink_for else None,
                on_change=self._runner_changed,
            )
            verb = {ActionKind.RESTART: "Restarting", ActionKind.START: "Starting"}
            self._event(
                "info", "server", verb.get(action.kind, "Creating"), action.reason, resource=key
            )

    def _resource_action(self, action: Action) -> None:
        if action.kind is ActionKind.DELETE:
            self._inventory.pop(action.key, None)
            self.store.delete_status(action.key)
            self._event("info", "prune", "Pruned", f"{action.key} removed", resource=action.key)
        elif action.spec_hash is not None and action.resource is not None:
            self._inventory[action.key] = Applied(action.resource, action.spec_hash)

    async def shutdown(self) -> None:
        """Stop every server (SIGTERM then SIGKILL to each process group)."""
        async with self._lock:
            await self.pool.stop_all()
            stopped = not_running(
                Phase.STOPPED,
                "ControllerStopped",
                "the controller stopped; servers run again when it starts",
            )
            for key, applied in self._inventory.items():
                if not isinstance(applied.resource, MCPServer):
                    continue
                self.store.put_status(
                    key,
                    phase=stopped.phase,
                    conditions=stopped.conditions,
                    message=stopped.message,
                    spec_hash=applied.spec_hash,
                )

    # -- failures -------------------------------------------------------------------------

    def _reject(self, revision: str, problems: list[Problem]) -> ReconcileOutcome:
        first = str(problems[0]) if problems else "invalid input"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        self.store.record_attempt(revision, outcome="ValidationFailed", message=first + more)
        for problem in problems[:50]:
            self._event("error", "validation", "ValidationFailed", str(problem))
        kept = self.applied.revision if self.applied else "nothing"
        self._event(
            "warning",
            "source",
            "NotApplied",
            f"{revision} is invalid ({len(problems)} errors); {kept} keeps running",
        )
        return ReconcileOutcome(
            revision, False, "ValidationFailed", first + more, problems=problems
        )

    def _refuse_mass_prune(self, revision: str, the_plan: Plan) -> ReconcileOutcome:
        deletes = [a for a in the_plan.actions if a.kind is ActionKind.DELETE]
        servers = [a for a in deletes if a.key.kind == MCPServer.kind_name]
        applied = sum(isinstance(a.resource, MCPServer) for a in self._inventory.values())
        message = (
            f"refusing to prune {len(servers)} of {applied} servers at once: the "
            "source may be broken or empty; restart with --allow-mass-prune if this is intended"
        )
        self.store.record_attempt(revision, outcome="MassPruneRefused", message=message)
        self._event("error", "prune", "MassPruneRefused", message)
        return ReconcileOutcome(revision, False, "MassPruneRefused", message, plan=the_plan)

    def _refuse_open_suites(
        self, revision: str, suites: list[str], the_plan: Plan
    ) -> ReconcileOutcome:
        names = ", ".join(suites)
        message = (
            f"refusing to apply: suite {names} would lose its last ToolPermission and be open "
            "to anyone without a token; set spec.public: true on the suite if that is "
            "intended, or restart the controller with --allow-open-suites"
        )
        self.store.record_attempt(revision, outcome="OpenSuiteRefused", message=message)
        for suite in self.applied.suites if self.applied is not None else ():
            if suite.name in suites:
                self._event("error", "access", "OpenSuiteRefused", message, resource=suite.key)
        return ReconcileOutcome(revision, False, "OpenSuiteRefused", message, plan=the_plan)

    def _credentials_rotated(self) -> bool:
        """Compare the applied state's token values with the last seen; an event per change."""
        if self.applied is None:
            return False
        current = fingerprints(self.applied, self.resolver)
        changed = rotated(self._credentials, current)
        self._credentials = current
        for where in changed:
            self._event(
                "info",
                "access",
                "CredentialRotated",
                f"{where}: the token changed; the previous token no longer logs in",
            )
        return bool(changed)

    # -- gateway and status ---------------------------------------------------------------

    def _configure_gateway(self) -> None:
        if self.applied is None:
            return
        tools = self.pool.tools()
        changed = self._judge_tools(self.applied, tools)
        if self.gateway is not None:
            self.gateway(self.applied, tools, self.locks)
        if changed:
            self.write_status(changed)

    def _judge_tools(
        self, desired: DesiredState, tools: dict[str, list[dict[str, Any]]]
    ) -> list[ResourceKey]:
        """Judge the tools against their ToolLocks and the scan (the same pure decision the
        gateway configuration makes); record an event for each tool newly reported or
        released. Returns the servers whose verdict changed."""
        verdicts = judge_state(desired, tools)
        changed: list[ResourceKey] = []
        for server_key in sorted(set(verdicts) | set(self.locks)):
            before, after = self.locks.get(server_key), verdicts.get(server_key)
            if before == after:
                continue
            key = ResourceKey(MCPServer.kind_name, *server_key)
            changed.append(key)
            if after is None:
                continue
            old = {v.tool: v for v in before.reported} if before else {}
            for verdict in after.reported:
                if _news(old.get(verdict.tool), verdict):
                    self._tool_event(key, after, verdict)
            still = {v.tool for v in after.reported}
            for tool in sorted(set(old) - still):
                if after.verdict(tool) is not None:
                    self._event(
                        "info", "toollock", "ToolReleased",
                        f"{key.name}.{tool} matches its lock again and is served",
                        resource=key,
                    )  # fmt: skip
        self.locks = verdicts
        return changed

    def _tool_event(self, key: ResourceKey, server: ServerVerdict, verdict: ToolVerdict) -> None:
        action = "withheld" if verdict.withheld else "served (ToolLock mode warn)"
        reason = "ToolDrift" if verdict.drifted else "ToolFinding"
        self._event(
            "warning",
            "toollock",
            reason,
            f"{key.name}.{verdict.tool} {action}: {verdict.reason()}",
            resource=key,
        )

    async def _runner_changed(self, runner: ServerRunner) -> None:
        if not self.pool.is_current(runner):
            return
        if self.server_state is not None:
            self.server_state(
                runner.server.key.qualified_name, _SERVER_STATES.get(runner.phase, "starting")
            )
        self._configure_gateway()
        self.write_status([runner.server.key])

    def write_status(self, keys: Iterable[ResourceKey] | None = None) -> None:
        """Write the status of the given resources (default: all), in one transaction.

        A suite's status follows its members, so a server's change rewrites the suites too.
        """
        desired = self.applied
        if desired is None:
            return
        if keys is None:
            resources: Iterable[Resource] = desired
        else:
            wanted = set(keys)
            if any(k.kind == MCPServer.kind_name for k in wanted):
                wanted.update(s.key for s in desired.suites)
            resources = [r for k in wanted if (r := desired.resources.get(k)) is not None]
        with self.store.batch():
            self._write_status(resources, desired)

    def _write_status(self, resources: Iterable[Resource], desired: DesiredState) -> None:
        facts = {
            runner.server.key: ServerFacts(
                runner.phase,
                len(runner.exposed_tools()),
                runner.last_error,
                runner.stall_reason,
                self.locks.get((runner.server.metadata.ns, runner.server.name)),
                failure_reason=runner.failure_reason,
            )
            for runner in self.pool
        }
        providers = self.provider_facts() if self.provider_facts is not None else None
        for resource in resources:
            view = status_of(resource, desired, facts, providers)
            self.store.put_status(
                resource.key,
                phase=view.phase,
                conditions=view.conditions,
                message=view.message,
                observed_generation=resource.metadata.generation,
                spec_hash=spec_hash(resource),
                withheld=view.withheld,
            )

    # -- bookkeeping ----------------------------------------------------------------------

    def _event(
        self,
        severity: str,
        category: str,
        reason: str,
        message: str,
        *,
        resource: ResourceKey | None = None,
    ) -> None:
        self.store.add_event(
            severity=severity,  # type: ignore[arg-type]
            category=category,
            reason=reason,
            message=message,
            resource=str(resource) if resource else None,
        )


_SERVER_STATES: dict[str, ServerState] = {
    Phase.READY: "up",
    Phase.STARTING: "starting",
    Phase.BACKOFF: "down",
    Phase.STALLED: "failed",
    Phase.STOPPED: "down",
}

_STOPPING = frozenset({ActionKind.STOP, ActionKind.DELETE, ActionKind.RESTART})


def _news(before: ToolVerdict | None, after: ToolVerdict) -> bool:
    """Whether a reported tool is worth a new event: first reported, or reported differently."""
    return before is None or (before.current_hash, before.withheld, before.findings) != (
        after.current_hash,
        after.withheld,
        after.findings,
    )


def _base_dirs(desired: DesiredState, the_plan: Plan, root: Path | None) -> dict[ResourceKey, Path]:
    """Directory of the file of each changed server (`root`: where relative files are)."""
    found: dict[ResourceKey, Path] = {}
    for action in the_plan.changes:
        origin = desired.origins.get(action.key)
        if not isinstance(action.resource, MCPServer) or origin is None:
            continue
        path = Path(origin.file)
        if root is not None and not path.is_absolute():
            path = root / path
        found[action.key] = path.resolve().parent
    return found


def _documents(desired: DesiredState) -> list[dict[str, Any]]:
    return [
        r.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"status"})
        for r in desired
    ]


def _summary(the_plan: Plan) -> str:
    counts = {k: v for k, v in the_plan.counts().items() if k != ActionKind.UNCHANGED.value}
    if not counts:
        return "no changes"
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
