"""The gateway configuration computed from resources and discovered tools (pure, no I/O)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from reconciler.core.desired import DesiredState
from reconciler.gateway import ANONYMOUS, POLICIES, Candidate, build_gateway_config
from reconciler.gateway.config import GatewayConfig, Limits
from reconciler.loading.loader import load_documents
from reconciler.secrets import SecretResolver

TOOLS: dict[str, list[dict[str, Any]]] = {
    "time": [
        {"name": "get_current_time", "description": "now", "inputSchema": {"type": "object"}},
        {"name": "convert_time", "description": "convert", "inputSchema": {"type": "object"}},
    ],
    "everything": [
        {"name": "echo", "description": "echoes", "inputSchema": {"type": "object"}, "x-vendor": 1},
        {"name": "get-env", "description": "env", "inputSchema": {"type": "object"}},
        {"name": "get_current_time", "description": "also now", "inputSchema": {"type": "object"}},
    ],
}

SERVERS = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: time, labels: {team: platform}}
spec: {command: mcp-server-time}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: everything}
spec:
  command: node
  tools:
    exclude: ["get-env"]
    overrides:
      echo: {name: say, description: "Repeats what you say."}
"""


def state(yaml: str) -> DesiredState:
    loaded = load_documents([("suite.yaml", SERVERS + "---\n" + yaml)])
    assert loaded.ok, [str(p) for p in loaded.problems]
    return loaded.state


def build(yaml: str, **environ: str) -> GatewayConfig:
    return build_gateway_config(state(yaml), TOOLS, resolver=SecretResolver(environ=environ))


def test_prefix_suite_exposes_server_underscore_tool_with_overrides_and_filters() -> None:
    config = build(
        """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec: {servers: [{name: everything}], selector: {matchLabels: {team: platform}}}
"""
    )
    suite = config.suites["dev"]
    assert list(suite.tools) == [
        "everything_get_current_time",
        "everything_say",
        "time_convert_time",
        "time_get_current_time",
    ]
    say = suite.tools["everything_say"]
    assert (say.server, say.tool) == ("everything", "echo")
    assert say.definition["description"] == "Repeats what you say."
    assert say.definition["x-vendor"] == 1, "unknown fields of a tool are kept"
    assert not suite.secured
    assert suite.access_for(ANONYMOUS).allows("everything", "echo")


def test_priority_suite_exposes_bare_names_and_the_higher_priority_wins_a_clash() -> None:
    config = build(
        """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec:
  conflictResolution: priority
  servers: [{name: time, priority: 10}, {name: everything, priority: 50}]
"""
    )
    tools = config.suites["dev"].tools
    assert tools["get_current_time"].server == "everything"
    assert set(tools) == {"get_current_time", "convert_time", "say"}
    [problem] = config.problems
    assert problem.resource == "MCPSuite/dev"
    assert "time.get_current_time is not exposed" in problem.message
    assert problem.file == "suite.yaml"


def test_enhanced_description_applies_unless_the_spec_overrides_it() -> None:
    desired = state(
        """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec: {servers: [{name: time}, {name: everything}]}
"""
    )
    config = build_gateway_config(
        desired,
        TOOLS,
        resolver=SecretResolver(environ={}),
        descriptions={"time": {"convert_time": "Better text."}, "everything": {"echo": "LLM"}},
    )
    tools = config.suites["dev"].tools
    assert tools["time_convert_time"].definition["description"] == "Better text."
    assert tools["everything_say"].definition["description"] == "Repeats what you say."
    assert tools["time_get_current_time"].definition["description"] == "now"


PERMISSIONS = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec: {servers: [{name: time}, {name: everything}]}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: open}
spec: {servers: [{name: time}]}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: ci}
spec:
  suites: [dev]
  subjects:
    - {name: ci-bot, tokenFrom: {env: CI_TOKEN}, roles: [readers]}
    - {name: missing, tokenFrom: {env: NOT_SET}}
  rules:
    - {action: allow, tools: ["time.*", "everything.*"]}
    - {action: deny, tools: ["everything.get-env"]}
  rateLimit: {requestsPerMinute: 120, perTool: {"time.*": 10}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: readers}
spec:
  suites: [dev]
  subjects: [{name: readers, role: readers}]
  rules: [{action: allow, tools: ["time.get_current_time"]}]
  rateLimit: {requestsPerMinute: 60, burst: 5}
"""


def test_tokens_are_kept_only_as_hashes_and_rules_are_deny_by_default() -> None:
    config = build(PERMISSIONS, CI_TOKEN="s3cret")
    dev = config.suites["dev"]
    assert dev.secured
    assert dev.tokens.entries == ((hashlib.sha256(b"s3cret").digest(), "ci-bot"),)
    assert "s3cret" not in repr(config)
    assert dev.tokens.subject_for("s3cret") == "ci-bot"
    assert dev.tokens.subject_for("wrong") is None
    ci = dev.access_for("ci-bot")
    assert ci.allows("time", "convert_time")
    assert ci.allows("everything", "echo")
    assert not ci.allows("everything", "get-env"), "deny wins"
    assert not dev.access_for("someone-else").allows("time", "convert_time")
    assert not config.suites["open"].secured


def test_a_token_that_cannot_be_read_is_a_problem_naming_the_field_not_the_value() -> None:
    config = build(PERMISSIONS, CI_TOKEN="s3cret")
    [problem] = [p for p in config.problems if "NOT_SET" in p.message]
    assert problem.resource == "ToolPermission/ci"
    assert problem.field == "spec.subjects.1.tokenFrom"
    assert problem.severity == "error"
    assert problem.line is not None


def test_the_strictest_rate_limit_of_the_subject_and_its_roles_applies() -> None:
    config = build(PERMISSIONS, CI_TOKEN="s3cret")
    limits = config.suites["dev"].access_for("ci-bot").limits
    assert limits == Limits(requests_per_minute=60, burst=5, per_tool=(("time.*", 10),))
    assert limits.tool_limit("time", "convert_time") == 10
    assert limits.tool_limit("everything", "echo") is None


def test_a_token_shared_by_two_subjects_authenticates_only_the_first() -> None:
    config = build(
        PERMISSIONS
        + """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: twin}
spec:
  suites: [dev]
  subjects: [{name: twin, tokenFrom: {env: TWIN_TOKEN}}]
""",
        CI_TOKEN="same",
        TWIN_TOKEN="same",
    )
    assert config.suites["dev"].tokens.subject_for("same") == "ci-bot"
    assert any("same token" in p.message for p in config.problems)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("prefix", {"a_x": "a", "b_x": "b"}),
        ("priority", {"x": "b"}),
    ],
)
def test_naming_policies_resolve_clashes(policy: str, expected: dict[str, str]) -> None:
    naming = POLICIES[policy].assign(
        [Candidate("a", "x", "x", priority=1), Candidate("b", "x", "x", priority=2)]
    )
    assert {name: c.server for name, c in naming.exposed.items()} == expected
    assert len(naming.clashes) == (1 if policy == "priority" else 0)


def test_ties_in_priority_go_to_the_server_name_sorting_first() -> None:
    naming = POLICIES["priority"].assign(
        [Candidate("zeta", "x", "x"), Candidate("alpha", "x", "x")]
    )
    assert naming.exposed["x"].server == "alpha"


def test_each_oidc_subject_has_the_access_of_its_own_permission_only() -> None:
    idp = "https://idp.example.com"
    config = build(
        f"""
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {{name: dev}}
spec: {{servers: [{{name: time}}]}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {{name: narrow}}
spec:
  suites: [dev]
  subjects:
    - {{name: ops, oidc: {{issuer: "{idp}", claims: {{groups: ops}}}}}}
  rules: [{{action: allow, tools: ["time.get_current_time"]}}]
  rateLimit: {{requestsPerMinute: 10}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {{name: wide}}
spec:
  suites: [dev]
  subjects: [{{name: ops, tokenFrom: {{env: OPS_TOKEN}}}}]
  rules: [{{action: allow, tools: ["time.*"]}}]
""",
        OPS_TOKEN="ops-static",
    )
    suite = config.suites["dev"]
    assert [(g.key, g.issuer, g.claims) for g in suite.oidc] == [
        ("ops@narrow", idp, (("groups", "ops"),))
    ]
    federated, static = suite.access_for("ops@narrow"), suite.access_for("ops")
    assert federated.allows("time", "get_current_time")
    assert not federated.allows("time", "convert_time")
    assert federated.limits is not None
    assert federated.limits.requests_per_minute == 10
    assert static.allows("time", "convert_time")
    assert static.limits is None


@pytest.mark.parametrize(
    ("claims", "wanted", "matches"),
    [
        ({"groups": ["staff", "data"]}, {"groups": "data"}, True),
        ({"groups": ["staff"]}, {"groups": "data"}, False),
        ({"groups": "data"}, {"groups": "data"}, True),
        ({"realm_access": {"roles": ["mcp-user"]}}, {"realm_access.roles": "mcp-user"}, True),
        ({"email_verified": True}, {"email_verified": "true"}, True),
        ({"tier": 2}, {"tier": "2"}, True),
        ({"groups": [{"name": "data"}]}, {"groups": "data"}, False),
        ({}, {"groups": "data"}, False),
        (
            {"groups": ["data"], "hd": "evil.example"},
            {"groups": "data", "hd": "example.com"},
            False,
        ),
    ],
)
def test_claims_match_by_equality_or_list_membership(
    claims: dict[str, Any], wanted: dict[str, str], matches: bool
) -> None:
    from reconciler.gateway.auth import OidcGrant

    grant = OidcGrant("k", "k", "https://idp", None, tuple(sorted(wanted.items())))
    assert grant.matches(claims) is matches


def test_namespaced_suites_are_named_apart_and_route_to_their_own_servers() -> None:
    teams = "\n---\n".join(
        f"""
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {{name: time, namespace: {ns}}}
spec: {{command: mcp-server-time}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {{name: dev, namespace: {ns}}}
spec: {{servers: [{{name: time}}]}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {{name: p, namespace: {ns}}}
spec:
  suites: [dev]
  subjects: [{{name: bot, tokenFrom: {{env: TOKEN_{ns.upper().replace("-", "_")}}}}}]
  rules: [{{action: allow, tools: ["time.get_*"]}}]
  rateLimit: {{requestsPerMinute: 60, perTool: {{"time.get_*": 5}}}}
"""
        for ns in ("team-a", "team-b")
    )
    only_a = {"team-a/time": TOOLS["time"]}  # team-b's time has not answered yet
    config = build_gateway_config(
        state(teams),
        only_a,
        resolver=SecretResolver(environ={"TOKEN_TEAM_A": "a" * 32, "TOKEN_TEAM_B": "b" * 32}),
    )
    assert set(config.suites) == {"team-a/dev", "team-b/dev"}
    assert config.servers == {"team-a/time", "team-b/time"}
    team_a = config.suites["team-a/dev"]
    route = team_a.tools["time_get_current_time"]
    assert route.server == "team-a/time"
    assert not config.suites["team-b/dev"].tools, "team-a's tools are never listed for team-b"
    access = team_a.access_for("bot")
    assert access.allows(route.server, "get_current_time")
    assert not access.allows(route.server, "convert_time")
    assert access.limits is not None
    assert access.limits.tool_limit(route.server, "get_current_time") == 5
