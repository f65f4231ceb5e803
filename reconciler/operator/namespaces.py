"""Reconciling a whole namespace: its gateway, and the status of suites, permissions,
providers and workflows.

    touch(ns) ─► (debounce) ─► state of the namespace ─► cross-references
        ─► invalid anywhere?  yes: keep the last good gateway, Stall what is wrong
                              no:  plan (observed = the gateway ConfigMap's `applied`)
                                   ─► render and apply the gateway (or remove it: no suite)
        ─► status of every suite, permission, provider and workflow ─► Events

A namespace is all or nothing, as a revision is for `validate`: while one resource is
invalid, the gateway keeps the configuration it was last given, so that a broken
ToolPermission never leaves a suite open, and what was served keeps being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.desired import DesiredState
from ..core.errors import Problem, ReconcilerError
from ..core.membership import resolved_members
from ..core.models import API_VERSION, MCPServer, MCPSuite, Resource, ResourceKey
from ..core.models.provider import LLMProvider
from ..core.planning import ActionKind, ObservedState, plan
from ..llm.probe import ProbeResult
from ..loading.validation import check_references
from .bodies import Snapshot, problem_text
from .gateway import env_references, gateway_url, render_gateway, served_descriptions
from .kube import CONFIG_MAP, DEPLOYMENT, SERVICE, Kube
from .manifests import Owner
from .naming import GATEWAY_NAME
from .observed import observed_resources
from .providerprobes import ClusterProviderProbes
from .resourceindex import NamespaceState, ResourceIndex, namespace_state
from .servers import ACTION_REASONS, Event
from .settings import OperatorSettings
from .status import Outcome, status_changes, status_for

log = logging.getLogger(__name__)

EventPoster = Callable[[Mapping[str, Any], Event], None]
"""Posts an Event on the object `{apiVersion, kind, metadata: {name, namespace, uid}}`."""
Descriptions = Callable[
    [str, DesiredState, Mapping[str, Mapping[str, str]]],
    Awaitable[Mapping[str, Mapping[str, str]]],
]
"""Enhanced tool descriptions of a namespace by server and tool, given those served now."""

RETRY_SECONDS = 5.0


def reference(snap: Snapshot) -> dict[str, Any] | None:
    key = snap.key
    if key is None:
        return None
    metadata = {"name": key.name, "namespace": key.namespace, "uid": snap.uid}
    return {"apiVersion": API_VERSION, "kind": key.kind, "metadata": metadata}


@dataclass(frozen=True, slots=True)
class _Verdict:
    """Reference problems of one resource, worded as `validate` words them."""

    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


class Namespaces:
    """Debounced, serialized reconciles of namespaces."""

    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        *,
        index: Callable[[], ResourceIndex | None],
        post: EventPoster,
        descriptions: Descriptions | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.index = index
        self.post = post
        self.descriptions = descriptions
        self.probes: ClusterProviderProbes | None = None
        """LLMProvider probes (None: providers are Ready once applied)."""
        self._dirty: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._blocked: dict[str, str] = {}
        self._seconds: dict[str, float] = {}
        self.reconciles = 0
        """Namespace reconciles carried out (for the benchmark and tests)."""

    def touch(self, namespace: str) -> None:
        """Reconcile the namespace soon (once for a burst of changes)."""
        self._dirty.add(namespace)
        task = self._tasks.get(namespace)
        if task is None or task.done():
            self._tasks[namespace] = asyncio.create_task(
                self._loop(namespace), name=f"mcp-namespace {namespace}"
            )

    def idle(self) -> bool:
        return not self._dirty and all(task.done() for task in self._tasks.values())

    async def aclose(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _loop(self, namespace: str) -> None:
        while namespace in self._dirty:
            # Waiting twice as long as the last pass took keeps a large namespace's passes
            # to a third of the loop's time while thousands of objects arrive.
            last = self._seconds.get(namespace, 0.0)
            await asyncio.sleep(max(self.settings.namespace_debounce, 2 * last))
            self._dirty.discard(namespace)
            started = time.monotonic()
            try:
                await self.reconcile(namespace)
                self._seconds[namespace] = time.monotonic() - started
            except ReconcilerError as exc:
                log.warning("namespace %s: %s; retrying in %ss", namespace, exc, RETRY_SECONDS)
                self._dirty.add(namespace)
                await asyncio.sleep(RETRY_SECONDS)
            except Exception:
                log.exception("namespace %s: reconcile failed; retrying", namespace)
                self._dirty.add(namespace)
                await asyncio.sleep(RETRY_SECONDS)

    # -- the pipeline -------------------------------------------------------------------

    async def reconcile(self, namespace: str) -> None:
        index = self.index()
        if index is None:
            return
        self.reconciles += 1
        state = namespace_state(index, namespace)
        verdicts = self._verdicts(state)
        blocking = sorted(
            [str(key) for key in state.invalid]
            + [str(key) for key, v in verdicts.items() if v.errors]
        )
        if blocking:
            self._block(namespace, state, blocking)
        else:
            self._blocked.pop(namespace, None)
            await self._gateway(namespace, state)
        await self._statuses(state, verdicts)

    def _verdicts(self, state: NamespaceState) -> dict[ResourceKey, _Verdict]:
        problems = check_references(state.desired, invalid=set(state.invalid))
        for label in env_references(state.desired):
            key_text, _, field = label.partition(": ")
            problems.append(
                Problem(
                    "a token from the operator's environment cannot reach the gateway pod; "
                    "reference a Secret with secretKeyRef in Kubernetes",
                    resource=key_text,
                    field=field,
                )
            )
        by_label = {str(key): key for key in state.desired.resources}
        found: dict[ResourceKey, tuple[list[Problem], list[Problem]]] = {}
        for problem in problems:
            key = by_label.get(problem.resource or "")
            if key is None:
                continue
            errors, warnings = found.setdefault(key, ([], []))
            (warnings if problem.severity == "warning" else errors).append(problem)
        return {key: _Verdict(tuple(e), tuple(w)) for key, (e, w) in found.items()}

    def _block(self, namespace: str, state: NamespaceState, blocking: list[str]) -> None:
        message = (
            f"gateway configuration not updated while {', '.join(blocking[:5])} "
            f"{'is' if len(blocking) == 1 else 'are'} invalid; the last good one is served"
        )
        if self._blocked.get(namespace) == message:
            return
        self._blocked[namespace] = message
        log.warning("namespace %s: %s", namespace, message)
        for suite in state.desired.suites:
            ref = reference(state.snapshots[suite.key])
            if ref is not None:
                self.post(ref, Event("GatewayNotUpdated", message, warning=True))

    async def _gateway(self, namespace: str, state: NamespaceState) -> None:
        desired = state.desired
        live = await self.kube.get(CONFIG_MAP, namespace, GATEWAY_NAME)
        observed = observed_resources(namespace, live)
        the_plan = plan(desired, ObservedState(resources=observed.resources))
        applied: dict[str, str] = {}
        for action in the_plan.actions:
            if action.key.kind == MCPServer.kind_name:
                continue
            if action.kind is not ActionKind.DELETE and action.spec_hash is not None:
                applied[f"{action.key.kind}/{action.key.name}"] = action.spec_hash
            snap = state.snapshots.get(action.key)
            ref = reference(snap) if snap is not None else None
            if action.is_change and ref is not None:
                self.post(ref, Event(ACTION_REASONS[action.kind], f"gateway: {action.reason}"))
            elif action.kind is ActionKind.DELETE:
                log.info("namespace %s: %s removed from the gateway", namespace, action.key)
        suites = desired.suites
        if not suites:
            if live is not None:
                await asyncio.gather(
                    self.kube.delete(DEPLOYMENT, namespace, GATEWAY_NAME),
                    self.kube.delete(SERVICE, namespace, GATEWAY_NAME),
                    self.kube.delete(CONFIG_MAP, namespace, GATEWAY_NAME),
                )
                log.info("namespace %s: no suite left; gateway removed", namespace)
            return
        owners = [Owner(s.name, state.snapshots[s.key].uid or "", kind="MCPSuite") for s in suites]
        served = served_descriptions(live)
        descriptions = (
            await self.descriptions(namespace, desired, served)
            if self.descriptions is not None
            else served
        )
        objects = render_gateway(
            namespace,
            desired,
            owners=sorted(owners, key=lambda o: o.name),
            applied=applied,
            settings=self.settings.manifests,
            descriptions=descriptions,
        )
        await self.kube.apply(objects.config_map, live=live)
        await asyncio.gather(self.kube.apply(objects.deployment), self.kube.apply(objects.service))

    async def _statuses(
        self, state: NamespaceState, verdicts: Mapping[ResourceKey, _Verdict]
    ) -> None:
        members = resolved_members(state.desired)
        writes: list[tuple[ResourceKey, dict[str, Any]]] = []
        for key, resource in state.desired.resources.items():
            if isinstance(resource, MCPServer):
                continue
            snap = state.snapshots[key]
            verdict = verdicts.get(key)
            if verdict is not None and verdict.errors:
                message = "; ".join(problem_text(p) for p in verdict.errors)
                outcome = Outcome.invalid(message, reason="InvalidReference")
                if snap.status.get("message") != message:
                    ref = reference(snap)
                    if ref is not None:
                        self.post(ref, Event("InvalidReference", message, warning=True))
            else:
                warnings = "; ".join(problem_text(p) for p in verdict.warnings) if verdict else ""
                outcome = self._ready(resource, state, members.get(key, {}), warnings)
            status = status_for(snap.status, outcome, generation=snap.generation)
            patch = status_changes(snap.status, status)
            if patch:
                writes.append((key, patch))
        for key, patch in writes:
            await self.kube.patch_status(key.kind, key.namespace, key.name, patch)

    def _ready(
        self,
        resource: Resource,
        state: NamespaceState,
        members: Mapping[str, int],
        warnings: str,
    ) -> Outcome:
        if isinstance(resource, LLMProvider) and self.probes is not None:
            return _provider_outcome(self.probes.result(resource))
        if not isinstance(resource, MCPSuite):
            return Outcome.ready_now("Applied", warnings or "applied")
        ns = resource.metadata.ns
        waiting = []
        for name in sorted(members):
            snap = state.snapshots.get(ResourceKey(MCPServer.kind_name, ns, name))
            if snap is None or snap.status.get("phase") not in ("Ready", "Disabled", "Stopped"):
                waiting.append(name)
        fields = {
            "servers": sorted(members),
            "endpoint": gateway_url(ns, resource.name, self.settings.manifests),
        }
        if waiting:
            message = f"waiting for {', '.join(waiting)}"
            return Outcome("Pending", "ServersNotReady", message, reconciling=True, fields=fields)
        message = warnings or f"{len(members)} servers ready"
        return Outcome("Ready", "Succeeded", message, ready=True, fields=fields)


def _provider_outcome(result: ProbeResult | None) -> Outcome:
    if result is None:
        return Outcome("Pending", "Probing", "probing the provider", reconciling=True)
    if result.ok:
        return Outcome.ready_now(result.reason, result.message)
    return Outcome("NotReady", result.reason, result.message, reconciling=True)
