"""Reconciling one MCPServer in the cluster: plan, apply its objects, discover its tools.

    reconcile:  validate ─► plan (shared planner; observed = its Deployment's annotations)
                ─► render ─► apply (create / patch drift) ─► outcome + events
    check:      discovery through the Service (or its own URL) ─► tools, Ready/Degraded
    delete:     remove the owned objects (the finalizer is released by the caller)

Nothing here writes status or posts Events: each step returns a `Result` and the kopf
handlers write it in one place.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..core.desired import DesiredState
from ..core.errors import (
    CREDENTIAL_REASONS,
    AuthorizationServerError,
    InvalidInput,
    ReconcilerError,
    ServerError,
)
from ..core.models import DEFAULT_NAMESPACE, MCPServer, ResourceKey, ValueSource
from ..core.planning import Action, ActionKind, ObservedState, plan
from ..core.spec_changes import runtime_hash
from ..identity import ClientCredentials
from ..toollock import ServerVerdict, judge_state
from ..upstream.remote import redacted_url
from .bodies import Snapshot
from .discovery import ToolLister
from .kube import CONFIG_MAP, DEPLOYMENT, NETWORK_POLICY, SERVICE, Kube, KubeError
from .manifests import UNSUPPORTED, Owner, deployed, discovery_url, render_server, unsupported
from .naming import ANNOTATION_RESTARTED_AT, ANNOTATION_RUNTIME_HASH, server_object_name
from .observed import deployment_replicas, observed_from_deployment, observed_remote
from .settings import DEFAULT_DISCOVERY_URL, OperatorSettings
from .status import STALLED_INVALID, Outcome, tools_status

ACTION_REASONS: Final = {
    ActionKind.CREATE: "Created",
    ActionKind.UPDATE: "Updated",
    ActionKind.RESTART: "Restarted",
    ActionKind.START: "Started",
    ActionKind.STOP: "Stopped",
    ActionKind.DELETE: "Deleted",
}
"""Event reason of each planned action."""

NOT_RUNNING: Final = frozenset({"Disabled", "Stopped", "Stalled"})


@dataclass(frozen=True, slots=True)
class Event:
    """A Kubernetes Event to post on the resource."""

    reason: str
    message: str
    warning: bool = False


@dataclass
class Result:
    """What one step concluded: the status outcome (None: leave it) and the Events."""

    outcome: Outcome | None
    events: list[Event] = field(default_factory=list)
    changed: bool = False
    """Whether something the namespace's gateway depends on changed (tools, phase)."""


def stalled(snap: Snapshot, message: str, reason: str) -> Result:
    """Stalled with `message`; the Warning Event only when the message is new."""
    previous = snap.status
    repeated = previous.get("phase") == "Stalled" and previous.get("message") == message
    events = [] if repeated else [Event(reason, message, warning=True)]
    return Result(Outcome.invalid(message, reason=reason), events, changed=not repeated)


class Servers:
    """Carries out the planner's decisions for servers with Kubernetes objects."""

    def __init__(self, kube: Kube, settings: OperatorSettings, *, lister: ToolLister) -> None:
        self.kube = kube
        self.settings = settings
        self.lister = lister
        self._tools: dict[ResourceKey, list[dict[str, Any]]] = {}
        self._failures: dict[ResourceKey, int] = {}
        self._verdicts: dict[ResourceKey, ServerVerdict] = {}
        self._oauth: dict[ResourceKey, tuple[tuple[Any, ...], ClientCredentials]] = {}
        """The OAuth client of each remote server with `auth.oauth2`, with what built it."""

    def discovered(self, key: ResourceKey) -> list[dict[str, Any]] | None:
        """The raw tools of the server's last successful discovery."""
        return self._tools.get(key)

    # -- reconcile ----------------------------------------------------------------------

    async def reconcile(self, snap: Snapshot, *, context: DesiredState) -> Result:
        """Converge the server's objects on its declaration; `context` holds its namespace's
        suites and workflows (they decide whether an `autoStart: false` server runs)."""
        parsed = snap.parsed
        if parsed.resource is None:
            return stalled(snap, parsed.message, STALLED_INVALID)
        server = parsed.resource
        assert isinstance(server, MCPServer)
        problem = unsupported(server)
        if problem is not None:
            return stalled(snap, problem, UNSUPPORTED)
        if not deployed(server):
            return self._remote(server, snap, context)
        return await self._deployed(server, snap, context)

    def _plan(self, server: MCPServer, context: DesiredState, observed: ObservedState) -> Action:
        desired = DesiredState.of([server, *context])
        action = plan(desired, observed).for_key(server.key)
        assert action is not None
        return action

    async def _deployed(self, server: MCPServer, snap: Snapshot, context: DesiredState) -> Result:
        ns, name = server.metadata.ns, _object_name(server)
        live = await self.kube.get(DEPLOYMENT, ns, name)
        observed = ObservedState()
        if live is not None:
            observed.servers[server.key] = observed_from_deployment(live)
        action = self._plan(server, context, observed)
        objects = render_server(
            server,
            owner=Owner(server.name, snap.uid or ""),
            run=action.run,
            live_replicas=deployment_replicas(live),
            settings=self.settings.manifests,
        )
        applied = await asyncio.gather(
            self.kube.apply(objects.config_map),
            self.kube.apply(objects.deployment, live=live),
            self.kube.apply(objects.service),
            *([self.kube.apply(objects.network_policy)] if objects.network_policy else []),
        )
        if objects.network_policy is None and _runtime_changed(live, server):
            await self._drop_network_policy(ns, name)
        events: list[Event] = []
        done = [
            f"{obj['kind']} {result}"
            for obj, (result, _) in zip(objects.all(), applied, strict=True)
            if result != "unchanged"
        ]
        restart = _restart_requested(server, snap)
        if restart is not None:
            events.append(Event("Restarted", f"restart requested at {restart}: rolling the pods"))
        elif action.is_change:
            message = action.reason + (f" ({', '.join(done)})" if done else "")
            events.append(Event(ACTION_REASONS[action.kind], message))
        elif done:
            drifted = [
                f"{obj['kind']} {obj['metadata']['name']}: {', '.join(paths[:5])}"
                for obj, (result, paths) in zip(objects.all(), applied, strict=True)
                if result != "unchanged"
            ]
            events.append(Event("DriftCorrected", "; ".join(drifted)))
        url = discovery_url(
            server, template=DEFAULT_DISCOVERY_URL, settings=self.settings.manifests
        )
        fields = {"specHash": runtime_hash(server), "url": url, **_restart_fields(server)}
        return Result(
            self._outcome(server, snap, action, fields, restarting=restart is not None),
            events,
            changed=True,
        )

    async def _drop_network_policy(self, namespace: str, name: str) -> bool:
        """Remove the NetworkPolicy of a server's sandbox; whether there was one.

        Without the right to manage NetworkPolicies (RBAC of an older release) none can
        have been created: nothing to remove.
        """
        try:
            return await self.kube.delete(NETWORK_POLICY, namespace, name)
        except KubeError as exc:
            if exc.status != 403:
                raise
            return False

    def _remote(self, server: MCPServer, snap: Snapshot, context: DesiredState) -> Result:
        observed = ObservedState()
        seen = observed_remote(server, snap.status, generation=snap.generation)
        if seen is not None:
            observed.servers[server.key] = seen
        action = self._plan(server, context, observed)
        events = []
        restart = _restart_requested(server, snap)
        if restart is not None:
            events.append(Event("Restarted", f"restart requested at {restart}: reconnecting"))
        elif action.is_change:
            events.append(Event(ACTION_REASONS[action.kind], action.reason))
        assert server.spec.url is not None
        fields = {
            "specHash": runtime_hash(server),
            "url": redacted_url(server.spec.url),
            **_restart_fields(server),
        }
        outcome = self._outcome(server, snap, action, fields, restarting=restart is not None)
        return Result(outcome, events, changed=True)

    def _outcome(
        self,
        server: MCPServer,
        snap: Snapshot,
        action: Action,
        fields: Mapping[str, Any],
        *,
        restarting: bool = False,
    ) -> Outcome:
        if not action.run:
            self._tools.pop(server.key, None)
            if not server.spec.enabled:
                return Outcome("Disabled", "Disabled", "enabled is false", fields=fields)
            message = "autoStart is false and no active workflow needs it"
            return Outcome("Stopped", "NotNeeded", message, fields=fields)
        previous = snap.status
        keeps_running = action.kind in (ActionKind.UPDATE, ActionKind.UNCHANGED)
        if restarting:
            self._failures.pop(server.key, None)
        elif keeps_running and previous.get("phase") in ("Ready", "Degraded"):
            ready = previous.get("phase") == "Ready"
            return Outcome(
                str(previous["phase"]),
                "Succeeded" if ready else "DiscoveryFailed",
                str(previous.get("message") or ""),
                ready=ready,
                reconciling=not ready,
                fields=fields,
            )
        return Outcome(
            "Starting",
            "Starting",
            "waiting for the server to answer discovery",
            reconciling=True,
            fields=fields,
        )

    # -- delete -------------------------------------------------------------------------

    async def delete(self, snap: Snapshot, *, namespace: str, name: str) -> Result:
        """Remove everything the server owns (Kubernetes would collect it too, later)."""
        self._tools.pop(ResourceKey(MCPServer.kind_name, namespace, name), None)
        self._failures.pop(ResourceKey(MCPServer.kind_name, namespace, name), None)
        object_name = server_object_name(name)
        removed = await asyncio.gather(
            self.kube.delete(DEPLOYMENT, namespace, object_name),
            self.kube.delete(SERVICE, namespace, object_name),
            self.kube.delete(CONFIG_MAP, namespace, object_name),
            self._drop_network_policy(namespace, object_name),
        )
        kinds = [
            k
            for k, gone in zip(
                ("Deployment", "Service", "ConfigMap", "NetworkPolicy"), removed, strict=True
            )
            if gone
        ]
        message = f"removed {', '.join(kinds)}" if kinds else "nothing to remove"
        return Result(None, [Event("Deleted", message)], changed=True)

    # -- health -------------------------------------------------------------------------

    async def check(self, snap: Snapshot, *, context: DesiredState | None = None) -> Result:
        """Discover the server's tools; Ready with them, or Degraded saying why not.

        `context` (the namespace's resources) gives the server's ToolLock and its suites:
        the verdict on its tools is written as `withheldTools` and `ToolsLocked`.
        """
        server = snap.parsed.resource
        if not isinstance(server, MCPServer) or snap.status.get("phase") in NOT_RUNNING:
            return Result(None)
        if not snap.status.get("phase") or unsupported(server) is not None:
            return Result(None)  # not reconciled yet
        key = server.key
        url = discovery_url(
            server, template=self.settings.discovery_url, settings=self.settings.manifests
        )
        timeout = min(self.settings.discovery_timeout, server.spec.health_check.timeout_seconds)
        transport = "streamable-http" if server.spec.transport == "stdio" else server.spec.transport
        try:
            headers = await self._headers(server)
            # a server behind OAuth: a token per request, one new token after a 401
            bearer = await self._oauth_client(server)
            tools = await self.lister(
                server.name, url, transport=transport, headers=headers, timeout=timeout,
                bearer=bearer,
            )  # fmt: skip
        except ReconcilerError as exc:
            return self._failed(snap, key, exc)
        try:
            entries, count = tools_status(server, tools)
        except InvalidInput as exc:
            return stalled(snap, exc.message, "ToolNameClash")
        self._failures.pop(key, None)
        before = {t.get("name") for t in snap.status.get("tools") or []}
        after = {t["name"] for t in entries}
        changed_tools = before != after or self._tools.get(key) != tools
        self._tools[key] = tools
        events = []
        if snap.status.get("phase") != "Ready":
            events.append(Event("Ready", f"{count} tools exposed ({len(entries)} discovered)"))
        elif before != after:
            added, removed = sorted(after - before), sorted(before - after)
            events.append(
                Event("ToolsChanged", f"added {added or '[]'}, removed {removed or '[]'}")
            )
        fields: dict[str, Any] = {"tools": entries, "toolCount": count}
        extra: tuple[tuple[str, bool, str, str], ...] = ()
        verdict = self._judge(server, context)
        if verdict is not None:
            fields["withheldTools"] = list(verdict.withheld)
            condition = verdict.condition
            if condition is not None:
                extra = (("ToolsLocked", *condition),)
            events += self._lock_events(key, verdict)
        withheld_changed = list(snap.status.get("withheldTools") or []) != fields.get(
            "withheldTools", []
        )
        outcome = Outcome(
            "Ready", "Succeeded", f"{count} tools", ready=True, fields=fields, extra=extra
        )
        became_ready = snap.status.get("phase") != "Ready"
        return Result(outcome, events, changed=changed_tools or became_ready or withheld_changed)

    def _judge(self, server: MCPServer, context: DesiredState | None) -> ServerVerdict | None:
        """The ToolLock and scan verdict on the server's tools, with its namespace's suites
        and the other servers' last discovered tools (for shadowing)."""
        ns = server.metadata.ns
        if context is None:
            return None
        desired = DesiredState.of([*context.resources.values(), server])
        tools = {
            key.qualified_name: found for key, found in self._tools.items() if key.namespace == ns
        }
        return judge_state(desired, tools).get((ns, server.name))

    def _lock_events(self, key: ResourceKey, verdict: ServerVerdict) -> list[Event]:
        """A ToolDrift (or ToolFinding) Warning for each tool newly reported."""
        before = {v.tool: v for v in self._verdicts[key].reported} if key in self._verdicts else {}
        self._verdicts[key] = verdict
        events = []
        for tool in verdict.reported:
            old = before.get(tool.tool)
            if old is not None and (old.current_hash, old.withheld) == (
                tool.current_hash,
                tool.withheld,
            ):
                continue
            action = "withheld" if tool.withheld else "served (ToolLock mode warn)"
            reason = "ToolDrift" if tool.drifted else "ToolFinding"
            message = f"{key.name}.{tool.tool} {action}: {tool.reason()}"
            events.append(Event(reason, message, warning=True))
        return events

    def _failed(self, snap: Snapshot, key: ResourceKey, error: ReconcilerError) -> Result:
        """Degraded (or still Starting) after a failed discovery; a failure with a reason
        of its own (a remote server's OAuth) is reported under it: Stalled when fatal (the
        token endpoint refused the client), else BackOff until a check succeeds."""
        message = error.message
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        reason = error.reason if error.reason in CREDENTIAL_REASONS else None
        if reason is not None and error.fatal and reason != "SecretNotFound":  # may come later
            where = "" if key.namespace == DEFAULT_NAMESPACE else f" -n {key.namespace}"
            hint = (
                f"; once fixed, `mcp-reconciler restart {key.name} --kube{where}` checks it again"
            )
            return stalled(snap, message + hint, reason)
        was_ready = snap.status.get("phase") in ("Ready", "Degraded")
        if not was_ready:
            if reason is None:
                return Result(Outcome("Starting", "Starting", message, reconciling=True))
            previous = snap.status
            repeated = (previous.get("phase"), previous.get("message")) == ("BackOff", message)
            events = [] if repeated else [Event(reason, message, warning=True)]
            outcome = Outcome("BackOff", reason, message, reconciling=True)
            return Result(outcome, events, changed=not repeated)
        server = snap.parsed.resource
        threshold = (
            server.spec.health_check.failure_threshold if isinstance(server, MCPServer) else 1
        )
        if failures < threshold and snap.status.get("phase") == "Ready":
            return Result(None)
        events = []
        if snap.status.get("phase") == "Ready":
            events.append(Event(reason or "DiscoveryFailed", message, warning=True))
        outcome = Outcome("Degraded", reason or "DiscoveryFailed", message, reconciling=True)
        return Result(outcome, events, changed=snap.status.get("phase") == "Ready")

    async def _headers(self, server: MCPServer) -> dict[str, str]:
        """Headers of a remote server, with referenced Secrets read from the cluster."""
        if deployed(server):
            return {}
        headers = {}
        for header in server.spec.headers:
            if header.value is not None:
                headers[header.name] = header.value
            elif header.value_from is not None:
                headers[header.name] = await self._secret(server.metadata.ns, header.value_from)
        return headers

    async def _oauth_client(self, server: MCPServer) -> ClientCredentials | None:
        """The OAuth client of a remote server with `auth.oauth2` (kept while its spec and
        Secret stay the same), holding a token already: None for any other server."""
        oauth2 = server.spec.auth.oauth2 if server.spec.auth and not deployed(server) else None
        if oauth2 is None:
            self._oauth.pop(server.key, None)
            return None
        secret = await self._secret(server.metadata.ns, oauth2.client_secret)
        made_of = (oauth2.model_dump_json(), hashlib.sha256(secret.encode()).digest())
        known = self._oauth.get(server.key)
        if known is None or known[0] != made_of:
            client = ClientCredentials(
                token_url=oauth2.token_url,
                client_id=oauth2.client_id,
                client_secret=secret,
                scopes=oauth2.scopes,
                audience=oauth2.audience,
            )
            known = self._oauth[server.key] = (made_of, client)
        try:
            await known[1].token()
        except AuthorizationServerError as exc:
            raise ServerError.caused_by(f"no OAuth token: {exc.message}", exc) from None
        return known[1]

    async def _secret(self, namespace: str, source: ValueSource) -> str:
        if source.secret_key_ref is not None:
            ref = source.secret_key_ref
            return await self.kube.secret_value(namespace, ref.name, ref.key)
        assert source.env is not None
        value = os.environ.get(source.env)
        if value is None:
            raise InvalidInput(f"{source.describe()} is not set in the operator's environment")
        return value


def _runtime_changed(live: Mapping[str, Any] | None, server: MCPServer) -> bool:
    """Whether the live Deployment was made from another runtime spec (or there is none)."""
    if live is None:
        return True
    annotations = live.get("metadata", {}).get("annotations") or {}
    return bool(annotations.get(ANNOTATION_RUNTIME_HASH) != runtime_hash(server))


def _restart_requested(server: MCPServer, snap: Snapshot) -> str | None:
    """The `restartedAt` annotation when it is newer than the restart last carried out (the
    status's `restartedAt`); None when no restart is pending."""
    requested = server.metadata.annotations.get(ANNOTATION_RESTARTED_AT)
    if not requested or snap.status.get("restartedAt") == requested:
        return None
    return requested


def _restart_fields(server: MCPServer) -> dict[str, Any]:
    requested = server.metadata.annotations.get(ANNOTATION_RESTARTED_AT)
    return {"restartedAt": requested} if requested else {}


def _object_name(server: MCPServer) -> str:
    return server_object_name(server.name)
