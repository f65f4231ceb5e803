"""A credential grants only what the ToolPermission declaring it grants, and `diff` shows
every credential that starts or stops logging in on a suite."""

from __future__ import annotations

from reconciler.core.desired import DesiredState
from reconciler.core.open_suites import opened_suites
from reconciler.diffing import diff_states
from reconciler.gateway import build_gateway_config
from reconciler.gateway.config import GatewayConfig
from reconciler.loading.loader import load_documents
from reconciler.render import render
from reconciler.secrets import SecretResolver

BASE = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: time}
spec: {command: mcp-server-time}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec: {servers: [{name: time}]}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: side}
spec: {servers: [{name: time}]}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: bot-dev}
spec:
  suites: [dev]
  subjects: [{name: bot, tokenFrom: {env: DEV_TOKEN}}]
  rules: [{action: allow, tools: ["time.*"]}]
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: alice-side}
spec:
  suites: [side]
  subjects: [{name: alice, tokenFrom: {env: ALICE_TOKEN}}]
  rules: [{action: allow, tools: ["time.*"]}]
"""
SIDE = """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: bot-side}
spec:
  suites: [side]
  subjects: [{name: bot, tokenFrom: {env: SIDE_TOKEN}}]
  rules: [{action: allow, tools: ["time.get_current_time"]}]
"""
ALSO_DEV = """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: bot-dev-narrow}
spec:
  suites: [dev]
  subjects: [{name: bot, tokenFrom: {env: NARROW_TOKEN}}]
  rules: [{action: allow, tools: ["time.convert_time"]}]
"""
TOOLS = {"time": [{"name": "get_current_time"}, {"name": "convert_time"}]}
ENV = {
    "ALICE_TOKEN": "alice-token",
    "DEV_TOKEN": "dev-token",
    "SIDE_TOKEN": "side-token",
    "NARROW_TOKEN": "narrow-token",
}


def state(yaml: str) -> DesiredState:
    loaded = load_documents([("access.yaml", yaml)])
    assert loaded.ok, [str(p) for p in loaded.problems]
    assert loaded.state is not None
    return loaded.state


def build(yaml: str) -> GatewayConfig:
    return build_gateway_config(state(yaml), TOOLS, resolver=SecretResolver(environ=ENV))


def test_a_token_for_another_suite_does_not_log_in_here() -> None:
    config = build(BASE + SIDE)
    assert config.suites["dev"].tokens.subject_for("side-token") is None
    assert config.suites["dev"].tokens.subject_for("dev-token") == "bot"
    assert config.suites["side"].tokens.subject_for("side-token") == "bot"
    assert config.suites["side"].tokens.subject_for("dev-token") is None


def test_two_tokens_of_one_name_on_one_suite_keep_their_own_grants() -> None:
    dev = build(BASE + ALSO_DEV).suites["dev"]
    wide = dev.tokens.subject_for("dev-token")
    narrow = dev.tokens.subject_for("narrow-token")
    assert wide == "bot@bot-dev"
    assert narrow == "bot@bot-dev-narrow"
    assert dev.access_for(wide).allows("time", "get_current_time")
    assert not dev.access_for(narrow).allows("time", "get_current_time")
    assert dev.access_for(narrow).allows("time", "convert_time")


def test_diff_shows_each_credential_per_suite() -> None:
    diff = diff_states(state(BASE), state(BASE + SIDE))
    text = render(diff, "text", color=False)
    assert "bot can log in to suite side with the token from env $SIDE_TOKEN" in text
    assert "suite dev with the token from env $SIDE_TOKEN" not in text
    kinds = {(c.kind, c.suite.name if c.suite else None) for c in diff.access}
    assert ("credential-added", "side") in kinds
    assert not any(kind.startswith("credential") and s == "dev" for kind, s in kinds)
    removed = diff_states(state(BASE + ALSO_DEV), state(BASE))
    assert "can no longer log in to suite dev with the token from env $NARROW_TOKEN" in render(
        removed, "text", color=False
    )


def test_removing_the_last_permission_of_a_suite_opens_it_unless_public() -> None:
    before = state(BASE)
    without = BASE.split("---\napiVersion: mcp.reconciler.dev/v1alpha1\nkind: ToolPermission")[0]
    assert opened_suites(before, state(without)) == ["dev", "side"]
    public = without.replace(
        "metadata: {name: dev}\nspec: {", "metadata: {name: dev}\nspec: {public: true, "
    )
    assert opened_suites(before, state(public)) == ["side"]
