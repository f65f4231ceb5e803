"""Workflows in the gateway configuration: which suites serve them, under which name, to whom."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.gateway import Gateway, build_gateway_config
from reconciler.gateway.config import GatewayConfig
from reconciler.loading.loader import load_documents, load_paths
from reconciler.secrets import SecretResolver

TOOLS: dict[str, list[dict[str, Any]]] = {
    "time": [{"name": "get_current_time", "inputSchema": {"type": "object"}}],
    "everything": [
        {"name": "echo", "inputSchema": {"type": "object"}},
        {"name": "get-env", "inputSchema": {"type": "object"}},
        {"name": "release-notes", "inputSchema": {"type": "object"}},
    ],
}

BASE = """
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: time}
spec: {command: mcp-server-time}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPServer
metadata: {name: everything}
spec: {command: node, tools: {exclude: ["get-env"]}}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: dev}
spec: {servers: [{name: time}, {name: everything}]}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: bare}
spec: {servers: [{name: time}, {name: everything}], conflictResolution: priority}
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: MCPSuite
metadata: {name: time-only}
spec: {servers: [{name: time}]}
"""


def workflow(name: str, spec: str) -> str:
    return f"""
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: Workflow
metadata: {{name: {name}}}
spec:
{spec}
"""


RELEASE_NOTES = workflow(
    "release-notes",
    """
  active: true
  description: Stamp a message with the current time.
  suites: [dev]
  inputs: {type: object, properties: {tz: {type: string}}}
  steps:
    - {id: now, tool: time.get_current_time, arguments: {timezone: "{{ inputs.tz }}"}}
    - {id: say, tool: everything.echo, arguments: {message: "{{ steps.now.result }}"},
       dependsOn: [now], retry: {attempts: 3}, timeoutSeconds: 30, onError: abort}
""",
)


def build(yaml: str) -> GatewayConfig:
    loaded = load_documents([("w.yaml", BASE + yaml)])
    assert loaded.ok, [str(p) for p in loaded.problems]
    assert loaded.state is not None
    return build_gateway_config(loaded.state, TOOLS, resolver=SecretResolver(environ={}))


def messages(config: GatewayConfig) -> list[str]:
    return [str(problem) for problem in config.problems]


def test_an_active_workflow_is_one_prefixed_tool_of_its_suite() -> None:
    config = build(RELEASE_NOTES)
    route = config.suites["dev"].tools["workflow_release-notes"]
    assert (route.server, route.tool) == ("workflow", "release-notes")
    assert route.chain is not None
    assert [step.id for step in route.chain.steps] == ["now", "say"]
    assert dict(route.definition) == {
        "name": "workflow_release-notes",
        "description": "Stamp a message with the current time.",
        "inputSchema": {"type": "object", "properties": {"tz": {"type": "string"}}},
        "_meta": {
            "dev.mcp-reconciler/workflow": {
                "name": "release-notes",
                "steps": ["time.get_current_time", "everything.echo"],
            }
        },
    }
    assert list(config.suites["dev"].tools)[-1] == "workflow_release-notes"  # after servers'
    assert not any(r.chain for r in config.suites["bare"].tools.values())  # not in its suites
    assert messages(config) == []


def test_a_workflow_without_inputs_or_description_gets_defaults() -> None:
    config = build(
        workflow(
            "ping",
            "  suites: [dev]\n  steps: [{id: a, tool: everything.echo}]",
        )
    )
    definition = config.suites["dev"].tools["workflow_ping"].definition
    assert definition["inputSchema"] == {"type": "object"}
    assert definition["description"] == "Workflow ping: calls everything.echo."


def test_under_priority_naming_a_workflow_keeps_its_bare_name() -> None:
    config = build(
        workflow("stamp", "  suites: [bare]\n  steps: [{id: a, tool: time.get_current_time}]")
    )
    assert "stamp" in config.suites["bare"].tools
    assert config.suites["bare"].tools["stamp"].chain is not None


def test_a_server_tool_keeps_its_name_when_a_workflow_would_take_it() -> None:
    config = build(RELEASE_NOTES.replace("suites: [dev]", "suites: [dev, bare]"))
    taken = config.suites["bare"].tools["release-notes"]
    assert (taken.server, taken.tool, taken.chain) == ("everything", "release-notes", None)
    assert messages(config) == [
        "w.yaml:30: Workflow/release-notes: metadata.name: warning: workflow release-notes is "
        "not exposed in suite bare: 'release-notes' is taken by everything.release-notes; "
        "rename the workflow"
    ]


def test_inactive_workflows_and_workflows_without_steps_are_not_tools() -> None:
    config = build(
        RELEASE_NOTES.replace("active: true", "active: false")
        + workflow("context-only", "  suites: [dev]")
    )
    assert not any(route.chain for route in config.suites["dev"].tools.values())


def test_a_step_on_a_server_outside_the_suite_or_a_hidden_tool_keeps_it_unserved() -> None:
    config = build(
        RELEASE_NOTES.replace("suites: [dev]", "suites: [dev, time-only]")
        + workflow("leak", "  suites: [dev]\n  steps: [{id: a, tool: everything.get-env}]")
    )
    assert "workflow_release-notes" in config.suites["dev"].tools
    assert "workflow_release-notes" not in config.suites["time-only"].tools
    assert "workflow_leak" not in config.suites["dev"].tools
    found = messages(config)
    assert any(
        "spec.steps.1.tool: warning: workflow release-notes is not served in suite time-only: "
        "server everything is not a member of suite time-only" in m
        for m in found
    )
    assert any(
        "Workflow/leak: spec.steps.0.tool: warning: workflow leak is not served in suite dev: "
        "the tools.include/exclude of server everything hide get-env" in m
        for m in found
    )


def test_a_template_that_does_not_parse_is_a_validation_error_on_its_line() -> None:
    bad = workflow(
        "bad",
        """
  suites: [dev]
  steps:
    - id: a
      tool: everything.echo
      arguments: {message: "{{ __import__('os').getcwd() }}"}
""",
    )
    loaded = load_documents([("w.yaml", BASE + bad)])
    assert not loaded.ok
    (problem,) = loaded.errors
    assert problem.field == "spec.steps.0.arguments.message"
    assert problem.line == 37
    assert "unknown name '__import__'" in problem.message


def test_rules_address_a_workflow_as_workflow_dot_name() -> None:
    permissions = """
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: p}
spec:
  suites: [dev]
  subjects:
    - {name: agent, tokenFrom: {env: AGENT_TOKEN}}
    - {name: plain, tokenFrom: {env: PLAIN_TOKEN}}
  rules: []
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: agent}
spec:
  suites: [dev]
  subjects: [{name: agent, tokenFrom: {env: AGENT_TOKEN}}]
  rules: [{action: allow, tools: ["workflow.*", "time.*"]}]
---
apiVersion: mcp.reconciler.dev/v1alpha1
kind: ToolPermission
metadata: {name: plain}
spec:
  suites: [dev]
  subjects: [{name: plain, tokenFrom: {env: PLAIN_TOKEN}}]
  rules: [{action: allow, tools: ["*.*"]}, {action: deny, tools: ["workflow.release-notes"]}]
"""
    loaded = load_documents([("w.yaml", BASE + RELEASE_NOTES + permissions)])
    assert loaded.ok, [str(p) for p in loaded.problems]
    assert loaded.state is not None
    environ = {"AGENT_TOKEN": "a" * 32, "PLAIN_TOKEN": "p" * 32}
    config = build_gateway_config(loaded.state, TOOLS, resolver=SecretResolver(environ=environ))
    gateway = Gateway(_NoUpstreams())
    gateway.update(config)
    suite = config.suites["dev"]
    agent = {tool["name"] for tool in gateway.visible_tools(suite, "agent")[0]}
    plain = {tool["name"] for tool in gateway.visible_tools(suite, "plain")[0]}
    assert agent == {"time_get_current_time", "workflow_release-notes"}
    assert "workflow_release-notes" not in plain
    assert "everything_echo" in plain


def test_the_full_example_serves_its_workflow_in_its_suite() -> None:
    loaded = load_paths([Path(__file__).parents[1] / "examples" / "full"])
    assert loaded.ok
    assert loaded.state is not None
    config = build_gateway_config(loaded.state, {}, resolver=SecretResolver(environ={}))
    assert config.suites["dev"].tools["workflow_release-notes"].chain is not None
    assert not [p for p in config.problems if (p.resource or "").startswith("Workflow/")]


class _NoUpstreams:
    def get(self, server: str) -> None:
        return None
