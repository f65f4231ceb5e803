"""The planner: table-driven cases over desired and observed states, no I/O."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from reconciler.core.desired import DesiredState
from reconciler.core.models import KINDS, MCPServer, Resource, ResourceKey
from reconciler.core.planning import (
    KIND_ORDER,
    ActionKind,
    ObservedServer,
    ObservedState,
    Plan,
    converged,
    mass_prune,
    observed_after,
    plan,
    resolved_members,
    runtime_hash,
    spec_hash,
)


def res(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> Resource:
    return KINDS[kind].model_validate(
        {"kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}
    )


def server(name: str = "time", **spec: Any) -> MCPServer:
    labels = spec.pop("labels", {})
    body = {"command": "mcp-server-time", "args": ["--local-timezone", "UTC"], **spec}
    made = res("MCPServer", name, body, labels=labels)
    assert isinstance(made, MCPServer)
    return made


def key(name: str, kind: str = "MCPServer") -> ResourceKey:
    return ResourceKey(kind, "default", name)


def full_state() -> DesiredState:
    return DesiredState.of(
        [
            res("Workflow", "notes", {"suites": ["dev"]}),
            res("ToolPermission", "ci", _permission()),
            res("MCPSuite", "dev", {"servers": [{"name": "time"}]}),
            server("time"),
            res("LLMProvider", "local", {"type": "builtin"}),
        ],
        revision="main@sha1:abc",
    )


def _permission() -> dict[str, Any]:
    return {
        "suites": ["dev"],
        "subjects": [{"name": "ci-bot", "tokenFrom": {"env": "CI_BOT_TOKEN"}}],
        "rules": [{"action": "allow", "tools": ["time.*"]}],
    }


def single(desired: DesiredState, observed: ObservedState, name: str = "time") -> Any:
    action = plan(desired, observed).for_key(key(name))
    assert action is not None
    return action


def test_first_plan_creates_everything_in_dependency_order() -> None:
    state = full_state()
    result = plan(state, ObservedState())
    assert [a.kind for a in result.actions] == [ActionKind.CREATE] * 5
    declared = {resource.key.kind for resource in state}
    assert [a.key.kind for a in result.actions] == [k for k in KIND_ORDER if k in declared]
    assert result.revision == "main@sha1:abc"
    time_action = result.for_key(key("time"))
    assert time_action is not None
    assert time_action.run


def test_second_plan_over_a_converged_state_is_a_noop() -> None:
    desired = full_state()
    first = plan(desired, ObservedState())
    second = plan(desired, observed_after(ObservedState(), first))
    assert second.is_noop
    assert second.changes == []
    assert set(second.by_kind()) == {ActionKind.UNCHANGED}


def test_deletes_come_after_creates_in_reverse_dependency_order() -> None:
    declared = {resource.key.kind for resource in full_state()}
    observed = converged(full_state())
    desired = DesiredState.of([server("other")])
    result = plan(desired, observed)
    deletes = [a.key.kind for a in result.actions if a.kind is ActionKind.DELETE]
    assert deletes == [k for k in reversed(KIND_ORDER) if k in declared]
    assert result.actions[0].kind is ActionKind.CREATE


RUNTIME_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("command", {"command": "other-binary"}),
    ("args", {"args": ["--local-timezone", "Europe/Paris"]}),
    ("env literal", {"env": [{"name": "TZ", "value": "UTC"}]}),
    ("env secret reference", {"env": [{"name": "T", "valueFrom": {"env": "HOST_TOKEN"}}]}),
    ("workingDir", {"workingDir": "/tmp"}),
    ("image", {"image": "ghcr.io/example/time:1"}),
    ("resources", {"resources": {"limits": {"cpu": "1"}}}),
    ("limits", {"limits": {"memoryMb": 256}}),
]

IN_PLACE_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("labels", {"labels": {"team": "platform"}}),
    ("description", {"description": "tells the time"}),
    ("tools filter", {"tools": {"exclude": ["convert_*"]}}),
    ("tool override", {"tools": {"overrides": {"get_current_time": {"description": "now"}}}}),
    ("enhancement", {"enhancement": {"providerRef": "local"}}),
    ("healthCheck", {"healthCheck": {"intervalSeconds": 5}}),
    ("restart policy", {"restart": {"maxFailures": 9}}),
    ("replicas", {"replicas": 3}),
]


@pytest.mark.parametrize(("label", "change"), RUNTIME_CHANGES, ids=[c[0] for c in RUNTIME_CHANGES])
def test_runtime_field_change_restarts_a_running_server(label: str, change: dict[str, Any]) -> None:
    observed = converged(DesiredState.of([server()]))
    action = single(DesiredState.of([server(**change)]), observed)
    assert action.kind is ActionKind.RESTART, label
    assert action.restart
    assert action.changed, "the applied spec is known, so field paths are listed"


@pytest.mark.parametrize(
    ("label", "change"), IN_PLACE_CHANGES, ids=[c[0] for c in IN_PLACE_CHANGES]
)
def test_other_field_change_updates_in_place(label: str, change: dict[str, Any]) -> None:
    observed = converged(DesiredState.of([server()]))
    action = single(DesiredState.of([server(**change)]), observed)
    assert action.kind is ActionKind.UPDATE, label
    assert not action.restart
    assert runtime_hash(server(**change)) == runtime_hash(server())


def test_remote_url_and_header_changes_reconnect() -> None:
    def remote(**spec: Any) -> MCPServer:
        return server(command=None, args=[], transport="streamable-http", **spec)

    base = remote(url="http://127.0.0.1:3001/mcp")
    assert runtime_hash(base) != runtime_hash(remote(url="http://127.0.0.1:3002/mcp"))
    headed = remote(url="http://127.0.0.1:3001/mcp", headers=[{"name": "X-A", "value": "1"}])
    assert runtime_hash(base) != runtime_hash(headed)


def test_changed_fields_are_dotted_camel_case_paths() -> None:
    observed = converged(DesiredState.of([server()]))
    action = single(DesiredState.of([server(args=["--local-timezone", "Asia/Tokyo"])]), observed)
    assert action.changed == ("spec.args.1",)
    update = single(DesiredState.of([server(healthCheck={"intervalSeconds": 5})]), observed)
    assert update.changed == ("spec.healthCheck.intervalSeconds",)


def test_changed_fields_are_empty_when_the_applied_spec_is_unknown() -> None:
    observed = converged(DesiredState.of([server()]))
    observed.servers[key("time")] = replace(observed.servers[key("time")], applied=None)
    action = single(DesiredState.of([server(args=["x"])]), observed)
    assert action.kind is ActionKind.RESTART
    assert action.changed == ()


def test_writing_a_default_explicitly_changes_nothing() -> None:
    explicit = server(enabled=True, autoStart=True, healthCheck={"intervalSeconds": 30})
    assert spec_hash(explicit) == spec_hash(server())
    assert plan(DesiredState.of([explicit]), converged(DesiredState.of([server()]))).is_noop


def observed_server(**fields: Any) -> ObservedState:
    base = converged(DesiredState.of([server()])).servers[key("time")]
    return ObservedState(servers={key("time"): replace(base, **fields)})


SERVER_CASES: list[tuple[str, MCPServer, ObservedState, ActionKind, str]] = [
    (
        "killed while wanted",
        server(),
        observed_server(running=False),
        ActionKind.START,
        "not running",
    ),
    (
        "disabled while running",
        server(enabled=False),
        observed_server(),
        ActionKind.STOP,
        "disabled",
    ),
    (
        "disabled and stopped",
        server(enabled=False),
        observed_server(running=False, spec_hash=spec_hash(server(enabled=False))),
        ActionKind.UNCHANGED,
        "stopped",
    ),
    (
        "disabled, stopped, spec changed",
        server(enabled=False),
        observed_server(running=False),
        ActionKind.UPDATE,
        "stays stopped",
    ),
    (
        "autoStart false, no workflow",
        server(autoStart=False),
        observed_server(),
        ActionKind.STOP,
        "autoStart",
    ),
    (
        "stalled, same spec",
        server(),
        observed_server(running=False, stalled=True, consecutive_failures=5),
        ActionKind.UNCHANGED,
        "Stalled after 5 failures",
    ),
    (
        "stalled, spec changed",
        server(restart={"maxFailures": 10}),
        observed_server(running=False, stalled=True, consecutive_failures=5),
        ActionKind.START,
        "Stalled",
    ),
    (
        "stalled, runtime changed",
        server(args=["--local-timezone", "Asia/Tokyo"]),
        observed_server(running=False, stalled=True),
        ActionKind.START,
        "Stalled",
    ),
    (
        "not observed, disabled",
        server(enabled=False),
        ObservedState(),
        ActionKind.CREATE,
        "disabled",
    ),
]


@pytest.mark.parametrize(
    ("label", "desired", "observed", "expected", "reason"),
    SERVER_CASES,
    ids=[c[0] for c in SERVER_CASES],
)
def test_server_decisions(
    label: str, desired: MCPServer, observed: ObservedState, expected: ActionKind, reason: str
) -> None:
    state = DesiredState.of([desired])
    action = single(state, observed)
    assert action.kind is expected, label
    assert reason in action.reason
    again = plan(state, observed_after(observed, plan(state, observed)))
    assert again.is_noop, f"{label}: second plan is {again.changes}"


def test_disabled_server_is_created_but_not_run() -> None:
    action = single(DesiredState.of([server(enabled=False)]), ObservedState())
    assert action.kind is ActionKind.CREATE
    assert not action.run


def test_auto_start_false_server_runs_while_an_active_workflow_needs_it() -> None:
    lazy = server(autoStart=False)
    suite = res("MCPSuite", "dev", {"servers": [{"name": "time"}]})
    active = DesiredState.of([lazy, suite, res("Workflow", "notes", {"suites": ["dev"]})])
    stopped = observed_server(running=False, spec_hash=spec_hash(lazy))
    assert single(active, stopped).kind is ActionKind.START
    inactive = DesiredState.of(
        [lazy, suite, res("Workflow", "notes", {"suites": ["dev"], "active": False})]
    )
    assert single(inactive, observed_after(stopped, plan(active, stopped))).kind is ActionKind.STOP


def test_workflow_needs_servers_selected_by_label() -> None:
    lazy = server(autoStart=False, labels={"team": "a"})
    suite = res("MCPSuite", "dev", {"selector": {"matchLabels": {"team": "a"}}})
    state = DesiredState.of([lazy, suite, res("Workflow", "notes", {"suites": ["dev"]})])
    assert single(state, ObservedState()).run


def test_relabelling_a_server_updates_the_suite_it_joins_without_restart() -> None:
    suite = res("MCPSuite", "dev", {"selector": {"matchLabels": {"team": "a"}}})
    before = DesiredState.of([server(), suite])
    after = DesiredState.of([server(labels={"team": "a"}), suite])
    result = plan(after, converged(before))
    kinds = {a.key.kind: a.kind for a in result.changes}
    assert kinds == {"MCPServer": ActionKind.UPDATE, "MCPSuite": ActionKind.UPDATE}
    suite_action = result.for_key(key("dev", "MCPSuite"))
    assert suite_action is not None
    assert suite_action.reason == "members changed"
    assert plan(after, observed_after(converged(before), result)).is_noop


def test_permission_change_is_an_update_with_field_paths() -> None:
    observed = converged(full_state())
    changed = full_state()
    spec = _permission() | {"rules": [{"action": "allow", "tools": ["time.get_*"]}]}
    changed.resources[key("ci", "ToolPermission")] = res("ToolPermission", "ci", spec)
    action = plan(changed, observed).for_key(key("ci", "ToolPermission"))
    assert action is not None
    assert action.kind is ActionKind.UPDATE
    assert action.changed == ("spec.rules.0.tools.0",)


def test_plan_helpers_group_and_count() -> None:
    observed = converged(DesiredState.of([server("a"), server("b")]))
    desired = DesiredState.of([server("a", args=["x"]), server("c")])
    result = plan(desired, observed)
    assert result.counts() == {"restart": 1, "create": 1, "delete": 1}
    assert [a.key.name for a in result.changes] == ["a", "c", "b"]
    assert not result.is_noop
    assert str(result.changes[0]) == "restart MCPServer/a: runtime spec changed"


@pytest.mark.parametrize(
    ("observed_count", "kept", "expected"),
    [(0, 0, False), (1, 0, True), (4, 0, True), (4, 1, True), (4, 2, False), (4, 4, False)],
)
def test_mass_prune_guard(observed_count: int, kept: int, expected: bool) -> None:
    observed = converged(DesiredState.of([server(f"s{i}") for i in range(observed_count)]))
    desired = DesiredState.of([server(f"s{i}") for i in range(kept)])
    assert mass_prune(plan(desired, observed), observed) is expected


def test_plan_of_nothing_is_a_noop() -> None:
    assert plan(DesiredState(), ObservedState()) == Plan((), None)
    assert plan(DesiredState(), ObservedState()).is_noop


def test_observed_state_is_easy_to_build_from_rows() -> None:
    rows = [("time", "rh", "sh", 1, "Ready", 0, 0)]
    observed = ObservedState(
        servers={
            key(name): ObservedServer(rh, sh, bool(running), phase, failures, bool(stalled))
            for name, rh, sh, running, phase, failures, stalled in rows
        }
    )
    action = single(DesiredState.of([server()]), observed)
    assert action.kind is ActionKind.RESTART


def test_suite_members_are_the_same_one_suite_at_a_time_and_all_at_once() -> None:
    """Named members first, then selector matches by name, whatever the file order."""
    labelled = {"labels": {"team": "x"}}
    suite = res(
        "MCPSuite",
        "dev",
        {"servers": [{"name": "m", "priority": 3}], "selector": {"matchLabels": {"team": "x"}}},
    )
    desired = DesiredState.of(
        [server("zeta", **labelled), server("m"), server("alpha", **labelled), suite]
    )
    one = [(m.server, m.priority) for m in desired.suite_members(suite)]  # type: ignore[arg-type]
    assert one == [("m", 3), ("alpha", 0), ("zeta", 0)]
    assert list(resolved_members(desired)[suite.key].items()) == one
