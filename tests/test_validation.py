"""Cross-references: names that must exist, cycles, and declarations that do nothing."""

from __future__ import annotations

import pytest

from reconciler.core.desired import DesiredState
from reconciler.core.models import MCPServer, MCPSuite
from reconciler.loading.loader import load_documents
from reconciler.loading.validation import check_references

HEAD = "apiVersion: mcp.reconciler.dev/v1alpha1\n"
TIME = (
    HEAD + "kind: MCPServer\nmetadata: {name: time, labels: {team: platform}}\nspec: {command: t}\n"
)
ECHO = HEAD + "kind: MCPServer\nmetadata: {name: echo}\nspec: {command: e}\n"
WEB = HEAD + "kind: MCPServer\nmetadata: {name: web}\nspec: {transport: sse, url: 'http://h/sse'}\n"
DEV = HEAD + "kind: MCPSuite\nmetadata: {name: dev}\nspec: {servers: [{name: time}]}\n"
LOCAL = HEAD + "kind: LLMProvider\nmetadata: {name: local}\nspec: {type: builtin}\n"


def suite(spec: str, name: str = "dev") -> str:
    return HEAD + f"kind: MCPSuite\nmetadata: {{name: {name}}}\nspec:\n{spec}"


def provider(name: str, fallback: str) -> str:
    return (
        HEAD + f"kind: LLMProvider\nmetadata: {{name: {name}}}\n"
        f"spec: {{type: builtin, fallbackRef: {fallback}}}\n"
    )


def permission(spec: str) -> str:
    return HEAD + "kind: ToolPermission\nmetadata: {name: bot}\nspec:\n" + spec


def workflow(spec: str) -> str:
    return HEAD + "kind: Workflow\nmetadata: {name: flow}\nspec:\n" + spec


def printed(docs: list[str], *, severity: str = "error") -> tuple[str, list[str]]:
    """Load the documents as one file `r.yaml`; its text and the problems as printed."""
    text = "---\n".join(docs)
    result = load_documents([("r.yaml", text)])
    assert result.ok == (severity == "warning"), [str(p) for p in result.problems]
    return text, [str(p) for p in result.problems if p.severity == severity]


def line_with(text: str, marker: str) -> int:
    """1-based line of the last line containing marker."""
    return max(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


# Each case: the documents, a marker on the line the problem must point at, and the
# exact problem after `r.yaml:LINE: `.
BROKEN_REFERENCES = {
    "suite member that does not exist": (
        [TIME, suite("  servers:\n    - name: time\n    - name: tmie\n")],
        "tmie",
        "MCPSuite/dev: spec.servers.1.name: unknown MCPServer 'tmie'; did you mean 'time'?",
    ),
    "suite member listed twice": (
        [TIME, suite("  servers:\n    - name: time\n    - {name: time, priority: 5}\n")],
        "priority",
        "MCPSuite/dev: spec.servers.1.name: server 'time' listed twice (first at index 0)",
    ),
    "suite member in another namespace": (
        [
            TIME,
            HEAD + "kind: MCPSuite\nmetadata: {name: dev, namespace: team-a}\n"
            "spec:\n  servers: [{name: time}]\n",
        ],
        "servers:",
        "MCPSuite/team-a/dev: spec.servers.0.name: unknown MCPServer 'time' in namespace "
        "team-a; declare it or fix the name",
    ),
    "permission on a suite that does not exist": (
        [
            TIME,
            DEV,
            permission(
                "  suites:\n    - dev\n    - prod\n  subjects: [{name: ci, tokenFrom: {env: T}}]\n"
            ),
        ],
        "prod",
        "ToolPermission/bot: spec.suites.1: unknown MCPSuite 'prod'; declare it or fix the name",
    ),
    "enhancement by a provider that does not exist": (
        [
            LOCAL,
            HEAD + "kind: MCPServer\nmetadata: {name: time}\nspec:\n  command: t\n"
            "  enhancement:\n    providerRef: locl\n",
        ],
        "locl",
        "MCPServer/time: spec.enhancement.providerRef: unknown LLMProvider 'locl'; "
        "did you mean 'local'?",
    ),
    "fallback to a provider that does not exist": (
        [LOCAL, provider("main", "nowhere")],
        "nowhere",
        "LLMProvider/main: spec.fallbackRef: unknown LLMProvider 'nowhere'; "
        "declare it or fix the name",
    ),
    "fallback cycle": (
        [provider("a", "b"), provider("b", "c"), provider("c", "a")],
        "fallbackRef: b",
        "LLMProvider/a: spec.fallbackRef: fallback cycle: a -> b -> c -> a",
    ),
    "provider falling back to itself": (
        [provider("a", "a")],
        "fallbackRef: a",
        "LLMProvider/a: spec.fallbackRef: fallback cycle: a -> a",
    ),
    "workflow on a suite that does not exist": (
        [TIME, DEV, workflow("  suites: [dev, deev]\n")],
        "deev",
        "Workflow/flow: spec.suites.1: unknown MCPSuite 'deev'; did you mean 'dev'?",
    ),
    "step calling a server that does not exist": (
        [TIME, workflow("  steps:\n    - id: a\n      tool: tiem.now\n")],
        "tiem.now",
        "Workflow/flow: spec.steps.0.tool: unknown MCPServer 'tiem'; did you mean 'time'?",
    ),
    "step calling a server outside the workflow's suites": (
        [
            TIME,
            ECHO,
            DEV,
            workflow(
                "  suites: [dev]\n  steps:\n    - {id: a, tool: time.now}\n"
                "    - {id: b, tool: echo.say}\n"
            ),
        ],
        "echo.say",
        "Workflow/flow: spec.steps.1.tool: server 'echo' is in none of the workflow's suites "
        "(dev); add it to one of them",
    ),
    "step depending on a step that does not exist": (
        [
            TIME,
            workflow(
                "  steps:\n    - id: first\n      tool: time.now\n"
                "    - id: second\n      tool: time.now\n      dependsOn: [frist]\n"
            ),
        ],
        "frist",
        "Workflow/flow: spec.steps.1.dependsOn.0: unknown step 'frist'; did you mean 'first'?",
    ),
    "two steps with one id": (
        [
            TIME,
            workflow(
                "  steps:\n    - id: a\n      tool: time.now\n    - id: a\n      tool: time.later\n"
            ),
        ],
        "- id: a",
        "Workflow/flow: spec.steps.1.id: duplicate step id 'a' (first at line {first})",
    ),
    "template naming a step that does not exist": (
        [
            TIME,
            workflow(
                "  steps:\n    - id: a\n      tool: time.now\n"
                "      arguments:\n        text: '{{ steps.b.result }}'\n"
            ),
        ],
        "steps.b.result",
        "Workflow/flow: spec.steps.0.arguments.text: unknown step 'b'",
    ),
    "steps depending on each other": (
        [
            TIME,
            workflow(
                "  steps:\n    - {id: a, tool: time.now, dependsOn: [c]}\n"
                "    - {id: b, tool: time.now, dependsOn: [a]}\n"
                "    - {id: c, tool: time.now, dependsOn: [b]}\n"
            ),
        ],
        "id: b",
        "Workflow/flow: spec.steps.1.dependsOn.0: dependency cycle: a -> c -> b -> a",
    ),
}


@pytest.mark.parametrize(
    ("docs", "marker", "expected"), BROKEN_REFERENCES.values(), ids=BROKEN_REFERENCES.keys()
)
def test_broken_reference_is_reported_at_the_referring_field(
    docs: list[str], marker: str, expected: str
) -> None:
    text, problems = printed(docs)
    first = min(i for i, line in enumerate(text.splitlines(), 1) if marker in line)
    expected = expected.replace("{first}", str(first))
    assert problems == [f"r.yaml:{line_with(text, marker)}: {expected}"]


NO_OP_DECLARATIONS = {
    "rule pattern matching no server of the suites": (
        [
            TIME,
            DEV,
            permission(
                "  suites: [dev]\n  subjects: [{name: ci, tokenFrom: {env: T}}]\n"
                "  rules:\n    - action: allow\n      tools: [time.*, fetch.*]\n"
            ),
        ],
        "fetch.*",
        "ToolPermission/bot: spec.rules.0.tools.1: warning: pattern 'fetch.*' matches no "
        "server of suite(s) dev (servers: time)",
    ),
    "suite whose selector matches nothing": (
        [TIME, suite("  selector:\n    matchLabels: {team: data}\n")],
        "selector",
        "MCPSuite/dev: spec.selector: warning: suite has no servers: list some under servers "
        "or select them by label",
    ),
    "enhancement of a remote server": (
        [
            LOCAL,
            HEAD + "kind: MCPServer\nmetadata: {name: web}\nspec:\n  transport: sse\n"
            "  url: http://h/sse\n  enhancement: {providerRef: local}\n",
        ],
        "enhancement",
        "MCPServer/web: spec.enhancement: warning: enhancement is skipped for a remote "
        "server; set allowRemote: true to enhance its tools",
    ),
}


@pytest.mark.parametrize(
    ("docs", "marker", "expected"), NO_OP_DECLARATIONS.values(), ids=NO_OP_DECLARATIONS.keys()
)
def test_declaration_that_does_nothing_is_a_warning_not_an_error(
    docs: list[str], marker: str, expected: str
) -> None:
    text, problems = printed(docs, severity="warning")
    assert problems == [f"r.yaml:{line_with(text, marker)}: {expected}"]


def test_servers_selected_by_label_are_members_for_steps_and_rules() -> None:
    docs = [
        TIME,
        WEB,
        suite("  selector: {matchLabels: {team: platform}}\n"),
        workflow("  suites: [dev]\n  steps: [{id: a, tool: time.now}]\n"),
        permission(
            "  suites: [dev]\n  subjects: [{name: ci, role: dev}]\n"
            "  rules: [{action: allow, tools: ['t*.now']}]\n"
        ),
    ]
    result = load_documents([("r.yaml", "---\n".join(docs))])
    assert result.ok
    assert result.problems == []


def test_references_to_a_rejected_resource_are_not_reported_twice() -> None:
    broken_time = HEAD + "kind: MCPServer\nmetadata: {name: time}\nspec: {transport: sse}\n"
    result = load_documents([("r.yaml", "---\n".join([broken_time, DEV]))])
    assert [p.field for p in result.problems] == ["spec.url"]


def test_check_references_works_on_a_state_without_files() -> None:
    """The operator builds states from Kubernetes objects: no file, no line, same fields."""
    state = DesiredState.of(
        [
            MCPServer.model_validate({"metadata": {"name": "time"}, "spec": {"command": "t"}}),
            MCPSuite.model_validate(
                {"metadata": {"name": "dev"}, "spec": {"servers": [{"name": "nope"}]}}
            ),
        ]
    )
    [problem] = check_references(state)
    assert (problem.file, problem.line, problem.resource, problem.field) == (
        None,
        None,
        "MCPSuite/dev",
        "spec.servers.0.name",
    )
    assert str(problem) == "MCPSuite/dev: spec.servers.0.name: unknown MCPServer 'nope'; " + (
        "declare it or fix the name"
    )


IDENTITY_MISTAKES = {
    "plain http issuer off loopback": (
        permission(
            "  suites: [dev]\n  subjects:\n    - name: data\n"
            "      oidc: {issuer: 'http://idp.example.com/realms/x'}\n"
        ),
        "issuer:",
        "ToolPermission/bot: spec.subjects.0.oidc.issuer: issuer 'http://idp.example.com/realms/x'"
        " uses plain http on a non-loopback host; use https:// (http:// is accepted only for "
        "127.0.0.1, ::1 and localhost)",
    ),
    "issuer with a query": (
        permission(
            "  suites: [dev]\n  subjects:\n    - name: data\n"
            "      oidc: {issuer: 'https://idp.example.com/?tenant=1'}\n"
        ),
        "issuer:",
        "ToolPermission/bot: spec.subjects.0.oidc.issuer: issuer "
        "'https://idp.example.com/?tenant=1' must not have a query or fragment",
    ),
    "claim value that is a list": (
        permission(
            "  suites: [dev]\n  subjects:\n    - name: data\n"
            "      oidc:\n        issuer: https://idp.example.com\n"
            "        claims: {groups: [a, b]}\n"
        ),
        "claims:",
        "ToolPermission/bot: spec.subjects.0.oidc.claims.groups: expected a string "
        "(quote values such as 'yes', 'on' or numbers)",
    ),
    "token and oidc on one subject": (
        permission(
            "  suites: [dev]\n  subjects:\n    - name: data\n      tokenFrom: {env: T}\n"
            "      oidc: {issuer: 'https://idp.example.com'}\n"
        ),
        "- name: data",
        "ToolPermission/bot: spec.subjects.0: a subject has one of tokenFrom, oidc or role, "
        "not several",
    ),
    "inline oauth client secret": (
        HEAD + "kind: MCPServer\nmetadata: {name: vendor}\nspec:\n  transport: streamable-http\n"
        "  url: https://mcp.vendor.example/mcp\n  auth:\n    oauth2:\n"
        "      tokenUrl: https://vendor.example/token\n      clientId: me\n"
        "      clientSecret: hunter2\n",
        "clientSecret:",
        "MCPServer/vendor: spec.auth.oauth2.clientSecret: secret written inline; reference it "
        "instead with {secretKeyRef: {name, key}} or {env: VAR}",
    ),
}


@pytest.mark.parametrize(
    ("doc", "marker", "expected"), IDENTITY_MISTAKES.values(), ids=IDENTITY_MISTAKES.keys()
)
def test_identity_mistakes_name_file_line_and_field(doc: str, marker: str, expected: str) -> None:
    text, problems = printed([TIME, DEV, doc])
    assert problems == [f"r.yaml:{line_with(text, marker)}: {expected}"]
    assert "hunter2" not in "".join(problems)
