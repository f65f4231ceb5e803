"""What status says about each resource, from what the runners report (pure)."""

from __future__ import annotations

import pytest

from reconciler.controller.statuses import ServerFacts, status_of
from reconciler.core.conditions import Phase, condition
from reconciler.core.models import ResourceKey
from reconciler.loading.loader import load_documents

STATE = load_documents(
    [
        (
            "r.yaml",
            """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: a}
spec: {command: x}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: b}
spec: {command: x, enabled: false}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec: {servers: [{name: a}]}
""",
        )
    ]
).state
assert STATE is not None
A = ResourceKey("MCPServer", "default", "a")


@pytest.mark.parametrize(
    ("facts", "phase", "ready", "reconciling", "stalled", "reason"),
    [
        (ServerFacts(Phase.READY, 3), "Ready", "True", "False", "False", "Succeeded"),
        (ServerFacts(Phase.STARTING), "Starting", "False", "True", "False", "Starting"),
        (ServerFacts(Phase.BACKOFF, 0, "exit 1"), "BackOff", "False", "True", "False", "BackOff"),
        (
            ServerFacts(Phase.BACKOFF, 0, "no token", failure_reason="TokenEndpointUnavailable"),
            "BackOff", "False", "True", "False", "TokenEndpointUnavailable",
        ),
        (
            ServerFacts(Phase.STALLED, 0, "refused", "OAuthClientRejected"),
            "Stalled", "False", "False", "True", "OAuthClientRejected",
        ),
        (
            ServerFacts(Phase.STALLED, 0, "exit 1"),
            "Stalled", "False", "False", "True", "RestartsExhausted",
        ),
        (
            ServerFacts(Phase.STALLED, 0, "not started: no bwrap", "SandboxUnavailable"),
            "Stalled", "False", "False", "True", "SandboxUnavailable",
        ),
    ],
)  # fmt: skip
def test_server_conditions_follow_the_runner(
    facts: ServerFacts, phase: str, ready: str, reconciling: str, stalled: str, reason: str
) -> None:
    assert STATE is not None
    view = status_of(STATE.resources[A], STATE, {A: facts})
    assert view.phase == phase
    got = {t: condition(view.conditions, t) for t in ("Ready", "Reconciling", "Stalled")}
    assert (got["Ready"].status, got["Reconciling"].status, got["Stalled"].status) == (  # type: ignore[union-attr]
        ready, reconciling, stalled,
    )  # fmt: skip
    assert got["Ready"].reason == reason  # type: ignore[union-attr]


def test_disabled_server_and_suite_waiting_for_its_member() -> None:
    assert STATE is not None
    disabled = status_of(STATE.resources[ResourceKey("MCPServer", "default", "b")], STATE, {})
    assert (disabled.phase, disabled.message) == ("Disabled", "enabled is false")
    suite = STATE.resources[ResourceKey("MCPSuite", "default", "dev")]
    assert status_of(suite, STATE, {A: ServerFacts(Phase.STARTING)}).message == "waiting for a"
    assert status_of(suite, STATE, {A: ServerFacts(Phase.READY)}).phase == "Ready"


def test_a_search_suite_says_its_tools_are_found_through_find_tools() -> None:
    state = load_documents(
        [
            (
                "s.yaml",
                """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: a}
spec: {command: x}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: big}
spec: {servers: [{name: a}], discovery: {mode: search}}
""",
            )
        ]
    ).state
    assert state is not None
    suite = state.resources[ResourceKey("MCPSuite", "default", "big")]
    message = status_of(suite, state, {A: ServerFacts(Phase.READY)}).message
    assert message == "1 servers ready; tools found through find_tools (discovery: search)"
