"""The semantic diff: each class of change, access widened and narrowed per subject."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.core.desired import DesiredState
from reconciler.core.models import KINDS, Resource, ResourceKey
from reconciler.diffing import AccessChange, Diff, ResourceChange, diff_states
from reconciler.render import render


def res(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> Resource:
    return KINDS[kind].model_validate(
        {"kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}
    )


def server(name: str = "time", labels: dict[str, str] | None = None, **spec: Any) -> Resource:
    body = {"command": "mcp-server-time", "args": ["--local-timezone", "UTC"], **spec}
    return res("MCPServer", name, body, labels=labels or {})


def suite(name: str = "dev", members: list[Any] | None = None, **spec: Any) -> Resource:
    servers = [m if isinstance(m, dict) else {"name": m} for m in members or []]
    return res("MCPSuite", name, {"servers": servers, **spec})


def permission(
    name: str = "ci",
    *,
    allow: list[str] | None = None,
    deny: list[str] | None = None,
    subjects: list[dict[str, Any]] | None = None,
    suites: list[str] | None = None,
    **spec: Any,
) -> Resource:
    rules = []
    if allow:
        rules.append({"action": "allow", "tools": allow})
    if deny:
        rules.append({"action": "deny", "tools": deny})
    return res(
        "ToolPermission",
        name,
        {
            "suites": suites or ["dev"],
            "subjects": subjects or [{"name": "ci-bot", "tokenFrom": {"env": "CI_BOT_TOKEN"}}],
            "rules": rules,
            **spec,
        },
    )


def state(*resources: Resource) -> DesiredState:
    return DesiredState.of(resources)


def diff(old: list[Resource], new: list[Resource], **kwargs: Any) -> Diff:
    return diff_states(state(*old), state(*new), **kwargs)


def change_of(result: Diff, name: str, kind: str = "MCPServer") -> ResourceChange:
    found = [c for c in result.resources if c.key == ResourceKey(kind, "default", name)]
    assert len(found) == 1, result.resources
    return found[0]


def access(result: Diff) -> list[tuple[str, str, str | None]]:
    return [(a.direction, a.kind, a.subject) for a in result.access]


def messages(result: Diff) -> list[str]:
    return [a.message for a in result.access]


def test_identical_states_have_no_changes() -> None:
    resources = [server(), suite(members=["time"]), permission(allow=["time.*"])]
    result = diff(resources, resources)
    assert not result.has_changes
    assert result.to_dict()["summary"]["added"] == 0


def test_server_added_starts_and_removed_stops() -> None:
    result = diff([server("old")], [server("new"), server("off", enabled=False)])
    assert [(c.key.name, c.change, c.lifecycle) for c in result.resources] == [
        ("new", "added", "start"),
        ("off", "added", None),
        ("old", "removed", "stop"),
    ]
    assert change_of(result, "off").notes == ("declared disabled: not started",)


@pytest.mark.parametrize(
    ("change", "restart"),
    [
        ({"args": ["--local-timezone", "Europe/Paris"]}, True),
        ({"env": [{"name": "TZ", "value": "UTC"}]}, True),
        ({"description": "tells the time"}, False),
        ({"tools": {"exclude": ["convert_*"]}}, False),
        ({"labels": {"team": "a"}}, False),
        ({"replicas": 2}, False),
    ],
)
def test_server_change_is_flagged_restart_or_not(change: dict[str, Any], restart: bool) -> None:
    result = diff([server()], [server(**change)])
    found = change_of(result, "time")
    assert found.change == "changed"
    assert found.restart is restart
    assert (found.lifecycle == "restart") is restart
    assert all(f.restart is restart for f in found.fields)


def test_field_changes_show_paths_and_values() -> None:
    result = diff([server()], [server(args=["--local-timezone", "Europe/Paris", "-v"])])
    fields = [(f.path, f.before, f.after) for f in change_of(result, "time").fields]
    assert fields == [
        ("spec.args.1", '"UTC"', '"Europe/Paris"'),
        ("spec.args.2", None, '"-v"'),
    ]
    assert change_of(result, "time").paths == ["spec.args"]


def test_secret_reference_prints_its_description_and_literals_print_as_is() -> None:
    old = server(
        env=[{"name": "TOKEN", "valueFrom": {"env": "HOST_TOKEN"}}, {"name": "A", "value": "x"}]
    )
    new = server(
        env=[
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "time", "key": "token"}}},
            {"name": "A", "value": "y"},
            {"name": "B", "valueFrom": {"env": "OTHER"}},
        ]
    )
    fields = {f.path: (f.before, f.after) for f in change_of(diff([old], [new]), "time").fields}
    assert fields == {
        "spec.env.0.valueFrom": ("env $HOST_TOKEN", "secret time/token"),
        "spec.env.1.value": ('"x"', '"y"'),
        "spec.env.2": (None, '{"name": "B", "valueFrom": "env $OTHER"}'),
    }


def test_enabled_false_stops_and_autostart_false_stops_without_workflow() -> None:
    result = diff(
        [server("a"), server("b")], [server("a", enabled=False), server("b", autoStart=False)]
    )
    assert [(c.key.name, c.lifecycle) for c in result.resources] == [("a", "stop"), ("b", "stop")]


def test_activating_a_workflow_starts_its_lazy_servers() -> None:
    lazy = server(autoStart=False)
    dev = suite(members=["time"])
    result = diff(
        [lazy, dev, res("Workflow", "notes", {"suites": ["dev"], "active": False})],
        [lazy, dev, res("Workflow", "notes", {"suites": ["dev"]})],
    )
    started = change_of(result, "time")
    assert (started.change, started.lifecycle, started.fields) == ("changed", "start", ())
    assert started.notes == ("now needed by an active Workflow",)
    assert change_of(result, "notes", "Workflow").notes == (
        "activated: servers of suites dev follow",
    )


def test_activating_a_workflow_leaves_running_and_disabled_servers_alone() -> None:
    running, disabled = server("a"), server("b", autoStart=False, enabled=False)
    lazy, dev = server("c", autoStart=False), suite(members=["a", "b", "c"])
    result = diff(
        [
            running,
            disabled,
            lazy,
            dev,
            res("Workflow", "notes", {"suites": ["dev"], "active": False}),
        ],
        [running, disabled, lazy, dev, res("Workflow", "notes", {"suites": ["dev"]})],
    )
    assert [(c.key.name, c.lifecycle) for c in result.resources] == [
        ("c", "start"),
        ("notes", None),
    ]


def test_suite_membership_named_and_by_selector() -> None:
    old = [server("a", labels={"team": "x"}), server("b"), server("c"), suite(members=["c"])]
    new = [
        server("a", labels={"team": "x"}),
        server("b", labels={"team": "x"}),
        server("c"),
        suite(members=[{"name": "c", "priority": 5}], selector={"matchLabels": {"team": "x"}}),
    ]
    result = diff(old, new)
    assert [m.message for m in result.memberships] == [
        "a joins suite dev (by selector)",
        "b joins suite dev (by selector)",
        "c priority in suite dev: 0 -> 5",
    ]
    left = diff(new, old)
    assert [m.change for m in left.memberships] == ["left", "left", "priority"]


def test_conflict_resolution_change_warns_that_tool_names_change() -> None:
    result = diff([suite()], [suite(conflictResolution="priority")])
    change = change_of(result, "dev", "MCPSuite")
    assert change.paths == ["spec.conflictResolution"]
    assert "bare names" in change.notes[0]


def test_provider_model_change_lists_servers_enhanced_again() -> None:
    def provider(model: str) -> Resource:
        return res(
            "LLMProvider", "openai", {"type": "openai", "model": model, "apiKey": {"env": "KEY"}}
        )

    user = server(enhancement={"providerRef": "openai"})
    result = diff([provider("gpt-4o-mini"), user], [provider("gpt-4o"), user])
    change = change_of(result, "openai", "LLMProvider")
    assert change.notes == (
        "provider openai/gpt-4o-mini -> openai/gpt-4o",
        "re-enhances tools of: time",
    )


def base(*extra: Resource) -> list[Resource]:
    return [server("time"), server("filesystem"), suite(members=["time", "filesystem"]), *extra]


ACCESS_CASES: list[
    tuple[str, list[Resource], list[Resource], list[tuple[str, str, str | None]], str]
] = [
    (
        "allow added",
        base(permission(allow=["time.*"])),
        base(permission(allow=["time.*", "filesystem.write_*"])),
        [("widened", "allow-added", "ci-bot")],
        "ci-bot may now call filesystem.write_* on suite dev",
    ),
    (
        "allow removed",
        base(permission(allow=["time.*", "filesystem.read_*"])),
        base(permission(allow=["time.*"])),
        [("narrowed", "allow-removed", "ci-bot")],
        "ci-bot may no longer call filesystem.read_* on suite dev",
    ),
    (
        "deny added",
        base(permission(allow=["*.*"])),
        base(permission(allow=["*.*"], deny=["filesystem.write_*"])),
        [("narrowed", "deny-added", "ci-bot")],
        "ci-bot is now denied filesystem.write_* on suite dev",
    ),
    (
        "deny removed",
        base(permission(allow=["*.*"], deny=["filesystem.write_*"])),
        base(permission(allow=["*.*"])),
        [("widened", "deny-removed", "ci-bot")],
        "ci-bot is no longer denied filesystem.write_* on suite dev",
    ),
    (
        "subject added",
        base(permission(allow=["time.*"])),
        base(
            permission(
                allow=["time.*"],
                subjects=[
                    {"name": "ci-bot", "tokenFrom": {"env": "CI_BOT_TOKEN"}},
                    {"name": "alice", "tokenFrom": {"secretKeyRef": {"name": "t", "key": "alice"}}},
                ],
            )
        ),
        [("widened", "subject-added", "alice"), ("widened", "credential-added", "alice")],
        "alice gains access to suite dev: may call time.*",
    ),
    (
        "subject removed",
        base(
            permission(allow=["time.*"]),
            permission(
                "other", allow=["*.*"], subjects=[{"name": "bob", "tokenFrom": {"env": "B"}}]
            ),
        ),
        base(permission(allow=["time.*"])),
        [("narrowed", "subject-removed", "bob"), ("narrowed", "credential-removed", "bob")],
        "bob loses access to suite dev (could call *.*)",
    ),
    (
        "last permission removed",
        base(permission(allow=["time.*"])),
        base(),
        [("widened", "suite-opened", None)],
        "suite dev lost its last ToolPermission: anyone can call every tool on it without a token",
    ),
    (
        "first permission added",
        base(),
        base(permission(allow=["time.*"])),
        [("narrowed", "suite-closed", None)],
        "suite dev now requires a token (it was open to anyone); callers: ci-bot",
    ),
    (
        "new open suite",
        [server("time")],
        [server("time"), suite(members=["time"])],
        [("widened", "suite-opened", None)],
        "new suite dev has no ToolPermission: anyone can call every tool on it without a token",
    ),
    (
        "role rules reach the callers holding the role",
        base(
            permission(
                subjects=[{"name": "alice", "tokenFrom": {"env": "A"}, "roles": ["ops"]}],
                allow=["time.*"],
            ),
            permission("ops", subjects=[{"name": "ops", "role": "ops"}], allow=["time.*"]),
        ),
        base(
            permission(
                subjects=[{"name": "alice", "tokenFrom": {"env": "A"}, "roles": ["ops"]}],
                allow=["time.*"],
            ),
            permission(
                "ops", subjects=[{"name": "ops", "role": "ops"}], allow=["time.*", "filesystem.*"]
            ),
        ),
        [("widened", "allow-added", "alice")],
        "alice may now call filesystem.* on suite dev",
    ),
    (
        "rate limit lowered",
        base(permission(allow=["time.*"], rateLimit={"requestsPerMinute": 120})),
        base(permission(allow=["time.*"], rateLimit={"requestsPerMinute": 60})),
        [("narrowed", "rate-limit", "ci-bot")],
        "rate limit of ci-bot on suite dev: 120 requests/minute -> 60 requests/minute",
    ),
    (
        "rate limit removed",
        base(permission(allow=["time.*"], rateLimit={"requestsPerMinute": 120})),
        base(permission(allow=["time.*"])),
        [("widened", "rate-limit", "ci-bot")],
        "rate limit of ci-bot on suite dev: no longer limited (was 120 requests/minute)",
    ),
]


@pytest.mark.parametrize(
    ("label", "old", "new", "expected", "message"), ACCESS_CASES, ids=[c[0] for c in ACCESS_CASES]
)
def test_access_changes(
    label: str,
    old: list[Resource],
    new: list[Resource],
    expected: list[tuple[str, str, str | None]],
    message: str,
) -> None:
    result = diff(old, new)
    assert access(result) == expected, label
    assert messages(result)[0] == message


def test_a_suite_opened_to_anyone_is_critical_and_loud_in_every_format() -> None:
    result = diff(base(permission(allow=["time.*"])), base())
    assert [a.critical for a in result.access] == [True]
    assert "WIDENED!" in render(result, "text")
    assert "> ⚠️ **suite dev lost its last ToolPermission" in render(result, "markdown")
    assert json.loads(render(result, "json"))["summary"]["critical"] == 1


def test_removed_suite_reports_its_callers_losing_access() -> None:
    result = diff(base(permission(allow=["time.*"])), [server("time"), server("filesystem")])
    assert access(result) == [("narrowed", "subject-removed", None)]


TOOLS = {
    "time": ["get_current_time", "convert_time"],
    "filesystem": ["read_file", "write_file"],
    "fetch": ["fetch"],
}


def test_discovered_tools_list_what_becomes_callable_per_subject() -> None:
    old = base(permission(allow=["time.*", "filesystem.*"], deny=["filesystem.write_*"]))
    new = base(permission(allow=["time.get_*", "filesystem.*"]))
    result = diff(old, new, tools=TOOLS)
    tools = {a.kind: a.tools for a in result.access if a.tools}
    assert tools == {
        "tools-callable": ("filesystem.write_file",),
        "tools-not-callable": ("time.convert_time",),
    }


def test_a_server_joining_a_suite_makes_its_tools_callable_under_wildcards() -> None:
    old = base(server("fetch"), permission(allow=["*.*"]))
    new = [
        server("time"),
        server("filesystem"),
        server("fetch"),
        suite(members=["time", "filesystem", "fetch"]),
        permission(allow=["*.*"]),
    ]
    result = diff(old, new, tools=TOOLS)
    assert [(a.kind, a.subject, a.tools) for a in result.access] == [
        ("tools-callable", "ci-bot", ("fetch.fetch",))
    ]
    assert messages(result) == ["ci-bot can now call fetch.fetch on suite dev"]


def test_tool_filter_change_lists_exposed_and_hidden_tools() -> None:
    result = diff([server()], [server(tools={"exclude": ["convert_*"]})], tools=TOOLS)
    change = change_of(result, "time")
    assert (change.tools_added, change.tools_removed) == ((), ("convert_time",))


def test_a_role_gained_elsewhere_reaches_a_suite_declared_by_the_same_objects() -> None:
    # A load reuses the model of every unchanged document: suite dev and the permission
    # naming it are the very same objects on both sides, yet alice now holds role ops
    # (granted by a permission of another suite), so she gains access to dev.
    dev = suite(members=["time"])
    ops = permission("ops", subjects=[{"name": "ops", "role": "ops"}], allow=["time.*"])
    prod = suite("prod", members=["time"])
    time = server("time")

    def alice(*roles: str) -> Resource:
        subject = {"name": "alice", "tokenFrom": {"env": "A"}, "roles": list(roles)}
        return permission("alice", subjects=[subject], suites=["prod"], allow=["time.*"])

    result = diff([time, dev, prod, ops, alice()], [time, dev, prod, ops, alice("ops")])
    assert ("widened", "subject-added", "alice") in access(result)
    assert "alice gains access to suite dev: may call time.*" in messages(result)


def test_a_server_that_is_the_only_change_still_changes_what_its_suite_serves() -> None:
    # Suite and permission are the same objects on both sides; the member's tool filter is not.
    dev, ci = suite(members=["time"]), permission(allow=["*.*"])
    old = [server("time"), dev, ci]
    new = [server("time", tools={"exclude": ["convert_*"]}), dev, ci]
    result = diff(old, new, tools=TOOLS)
    assert messages(result) == ["ci-bot can no longer call time.convert_time on suite dev"]


def test_to_dict_is_json_with_camel_case_keys() -> None:
    result = diff(base(permission(allow=["time.*"])), base(permission(allow=["*.*"])))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["hasChanges"] is True
    assert data["access"][0]["direction"] == "widened"
    assert set(data["resources"][0]) >= {"resource", "change", "fields", "toolsAdded", "lifecycle"}


def test_access_change_is_plain_data() -> None:
    change = AccessChange("widened", "allow-added", "m")
    assert change.to_dict()["suite"] is None


IDP = "https://idp.example.com/realms/main"


def oidc(name: str = "data-team", **identity: Any) -> dict[str, Any]:
    return {"name": name, "oidc": {"issuer": IDP, **identity}}


IDENTITY_CASES: list[tuple[str, list[Resource], list[Resource], list[tuple[str, str, str]]]] = [
    (
        "oidc subject added",
        base(permission(allow=["time.*"])),
        base(
            permission(
                allow=["time.*"],
                subjects=[
                    {"name": "ci-bot", "tokenFrom": {"env": "CI_BOT_TOKEN"}},
                    oidc(claims={"groups": "data"}),
                ],
            )
        ),
        [
            ("widened", "subject-added", "data-team gains access to suite dev: may call time.*"),
            (
                "widened",
                "identity-added",
                f"data-team now admits tokens of {IDP} with groups=data (ToolPermission ci)",
            ),
        ],
    ),
    (
        "claim dropped",
        base(permission(allow=["time.*"], subjects=[oidc(claims={"groups": "data", "tier": "1"})])),
        base(permission(allow=["time.*"], subjects=[oidc(claims={"groups": "data"})])),
        [
            (
                "widened",
                "identity-changed",
                "data-team no longer requires tier=1: more tokens are admitted (ToolPermission ci)",
            )
        ],
    ),
    (
        "claim added",
        base(permission(allow=["time.*"], subjects=[oidc()])),
        base(permission(allow=["time.*"], subjects=[oidc(claims={"groups": "data"})])),
        [
            (
                "narrowed",
                "identity-changed",
                "data-team now also requires groups=data: fewer tokens are admitted "
                "(ToolPermission ci)",
            )
        ],
    ),
    (
        "audience changed",
        base(permission(allow=["time.*"], subjects=[oidc()])),
        base(permission(allow=["time.*"], subjects=[oidc(audience="https://mcp.example.com")])),
        [
            (
                "changed",
                "identity-changed",
                "data-team: audience (the suite URL) -> https://mcp.example.com "
                "(ToolPermission ci)",
            )
        ],
    ),
    (
        "oidc subject removed",
        base(permission(allow=["time.*"], subjects=[oidc(), {"name": "x", "role": "r"}])),
        base(permission(allow=["time.*"], subjects=[{"name": "x", "role": "r"}])),
        [
            (
                "narrowed",
                "subject-removed",
                "data-team loses access to suite dev (could call time.*)",
            ),
            (
                "narrowed",
                "identity-removed",
                f"data-team no longer admits tokens of {IDP} (ToolPermission ci)",
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("label", "old", "new", "expected"), IDENTITY_CASES, ids=[c[0] for c in IDENTITY_CASES]
)
def test_identity_changes_are_access_changes(
    label: str, old: list[Resource], new: list[Resource], expected: list[tuple[str, str, str]]
) -> None:
    result = diff(old, new)
    assert [(a.direction, a.kind, a.message) for a in result.access] == expected, label
    assert result.has_changes


def test_an_oidc_subject_never_gets_a_same_named_token_subjects_rules() -> None:
    tokens = permission(
        "tokens", allow=["filesystem.*"], subjects=[{"name": "ops", "tokenFrom": {"env": "OPS"}}]
    )
    federated = permission("federated", allow=["time.*"], subjects=[oidc("ops")])
    result = diff(base(tokens), base(tokens, federated))
    assert [a.message for a in result.access] == [
        "ops@federated gains access to suite dev: may call time.*",
        f"ops now admits tokens of {IDP} (ToolPermission federated)",
    ]
