"""The status the standalone controller writes for each resource: pure functions.

A server's status follows its runner (phase, last error, tool count) and the verdict of
its ToolLock and the scan (the `ToolsLocked` condition, withheld tools); a suite's follows
its members; a provider's its probe; every other kind is Ready once applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..core.conditions import Phase, set_condition, summarize
from ..core.desired import DesiredState
from ..core.models import Condition, LLMProvider, MCPServer, MCPSuite, Resource, ResourceKey
from ..toollock import ServerVerdict


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What a runner says about its server."""

    phase: Phase
    tools: int = 0
    last_error: str | None = None
    stall_reason: str | None = None
    """Why a Stalled server gave up (default RestartsExhausted)."""
    lock: ServerVerdict | None = None
    """The ToolLock and scan verdict on the server's tools."""
    failure_reason: str | None = None
    """Reason of the failure a server backs off from, when it has one of its own (a remote
    server's OAuth: OAuthClientRejected, TokenEndpointUnavailable, UpstreamUnauthorized)."""


@dataclass(frozen=True, slots=True)
class ProviderFacts:
    """Where a provider's probe stands (`ok` None while the first probe runs)."""

    ok: bool | None
    reason: str
    message: str
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class StatusView:
    """One resource's phase, conditions and message."""

    phase: str
    conditions: list[Condition]
    message: str
    withheld: tuple[str, ...] = ()
    """Tools withheld by the server's ToolLock or the scan."""


def status_of(
    resource: Resource,
    desired: DesiredState,
    servers: Mapping[ResourceKey, ServerFacts],
    providers: Mapping[ResourceKey, ProviderFacts] | None = None,
) -> StatusView:
    if isinstance(resource, MCPServer):
        return server_status(resource, servers.get(resource.key))
    if isinstance(resource, MCPSuite):
        return suite_status(resource, desired, servers)
    if isinstance(resource, LLMProvider) and providers is not None:
        return provider_status(providers.get(resource.key))
    return StatusView("Ready", _conditions(True, False, False, "Applied", "applied"), "applied")


def provider_status(facts: ProviderFacts | None) -> StatusView:
    """Ready once a probe succeeded; else not Ready with the probe's reason (retrying)."""
    if facts is None or facts.ok is None:
        message = facts.message if facts else "probing the provider"
        return StatusView("Pending", _conditions(False, True, False, "Probing", message), message)
    if facts.ok:
        return StatusView(
            "Ready", _conditions(True, False, False, facts.reason, facts.message), facts.message
        )
    return StatusView(
        "NotReady", _conditions(False, True, False, facts.reason, facts.message), facts.message
    )


def server_status(server: MCPServer, facts: ServerFacts | None) -> StatusView:
    if facts is None:
        if not server.spec.enabled:
            return not_running(Phase.DISABLED, "Disabled", "enabled is false")
        return not_running(
            Phase.STOPPED, "NotNeeded", "autoStart is false and no active workflow needs it"
        )
    ready = facts.phase == Phase.READY
    stalled = facts.phase == Phase.STALLED
    if ready:
        reason, message = "Succeeded", f"{facts.tools} tools"
    elif stalled:
        reason = facts.stall_reason or "RestartsExhausted"
        message = facts.last_error or "gave up restarting"
    elif facts.phase == Phase.BACKOFF:
        reason, message = facts.failure_reason or "BackOff", facts.last_error or "restarting"
    else:
        reason, message = "Starting", "starting"
    conditions = _conditions(ready, not ready and not stalled, stalled, reason, message)
    return with_lock(StatusView(str(facts.phase), conditions, message), facts.lock)


def with_lock(view: StatusView, verdict: ServerVerdict | None) -> StatusView:
    """The view with the `ToolsLocked` condition and the withheld tools of the verdict."""
    found = verdict.condition if verdict is not None else None
    if verdict is None or found is None:
        return view
    status, reason, message = found
    conditions = set_condition(view.conditions, "ToolsLocked", status, reason, message)
    return StatusView(view.phase, conditions, view.message, verdict.withheld)


def suite_status(
    suite: MCPSuite, desired: DesiredState, servers: Mapping[ResourceKey, ServerFacts]
) -> StatusView:
    members = [m.server for m in desired.suite_members(suite)]
    waiting = [
        name
        for name in members
        if (facts := servers.get(ResourceKey("MCPServer", suite.metadata.ns, name))) is None
        or facts.phase != Phase.READY
    ]
    ready = not waiting
    message = f"{len(members)} servers ready" if ready else f"waiting for {', '.join(waiting)}"
    if suite.spec.discovery.mode == "search":
        message += "; tools found through find_tools (discovery: search)"
    reason = "Succeeded" if ready else "ServersNotReady"
    return StatusView(
        "Ready" if ready else "Pending",
        _conditions(ready, not ready, False, reason, message),
        message,
    )


def not_running(
    phase: Phase,
    reason: str,
    message: str,
    *,
    reconciling: bool = False,
    previous: Sequence[Condition] = (),
) -> StatusView:
    """A server the controller is not running (disabled, stopped, or not yet started)."""
    conditions = summarize(
        ready=False,
        reconciling=reconciling,
        stalled=False,
        reason=reason,
        message=message,
        previous=previous,
    )
    return StatusView(str(phase), conditions, message)


def _conditions(
    ready: bool, reconciling: bool, stalled: bool, reason: str, message: str
) -> list[Condition]:
    return summarize(
        ready=ready, reconciling=reconciling, stalled=stalled, reason=reason, message=message
    )
