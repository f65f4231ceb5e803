"""The gateway's configuration: a pure value computed from a DesiredState and discovered tools.

`build_gateway_config` decides, for every suite, which tools are exposed under which
names, who may authenticate (token hashes only), what each subject may call and how fast.
The running gateway receives the result through `Gateway.update` and never looks at
resources itself, so the same gateway serves the standalone controller and the operator.

An active Workflow with steps is one more tool of each of its suites, named by the suite's
policy as if `workflow` were a server (`workflow_<name>` under prefix naming, `<name>` under
priority naming) and addressed in rules as `workflow.<name>`; a server tool already holding
the name keeps it (docs/workflows.md).

A server's tools pass its ToolLock and the poisoning scan first (`reconciler.toollock`):
a withheld tool gets no route, only an entry in `SuiteConfig.withheld` saying why, so it is
absent from tools/list and a call to it is refused with that reason (docs/toollock.md).

Suites and servers are named here as everywhere namespaces meet: by name in the default
namespace, `namespace/name` elsewhere (`qualified_name`). A suite is served at
`/suites/<that name>/mcp` and its member servers are looked up by that name, so a suite
only ever reaches servers of its own namespace. Rules, rate limits and tool prefixes use
the server's own name: they are written inside the namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..core.access import RuleSet, oidc_rules, rules_for
from ..core.desired import DesiredState
from ..core.errors import Problem, ReconcilerError, Severity
from ..core.models import (
    MCPServer,
    MCPSuite,
    RateLimit,
    Resource,
    SessionLimits,
    ToolPermission,
    Workflow,
    qualified_name,
)
from ..core.models.globs import glob_match
from ..core.models.workflow import WORKFLOW_SERVER
from ..secrets import SecretResolver
from ..toollock import ServerVerdict, judge_state, one_line, scan_text
from ..workflows import Chain, ChainError
from .auth import OidcGrant, TokenTable, token_hash
from .naming import POLICIES, Candidate

ANONYMOUS = "anonymous"
"""The subject of every caller of a suite that has no ToolPermission (no token needed)."""


ToolDict = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolRoute:
    """An exposed tool: the name clients use, and where a call goes."""

    exposed: str
    server: str
    """Where a call goes: the server's qualified name (`namespace/name` outside the default
    namespace)."""
    tool: str
    """The server's own name for the tool (sent upstream, and used by rules)."""
    definition: ToolDict
    """The tool as clients see it: the server's dict with name and description replaced."""
    chain: Chain | None = None
    """Set for a workflow's tool (`server` is then `workflow`, `tool` the workflow's name):
    a call runs these steps instead of being forwarded."""


@dataclass(frozen=True, slots=True)
class WithheldTool:
    """A tool the suite would expose that its server's ToolLock or the scan withholds."""

    exposed: str
    server: str
    tool: str
    reason: str
    """Why, in words: the drift (hashes, what changed) or the scan finding."""

    def message(self) -> str:
        return f"tool {self.exposed} ({self.server}.{self.tool}) is withheld: {self.reason}"


@dataclass(frozen=True, slots=True)
class Member:
    """A server of a suite."""

    server: str
    """The server's qualified name (`namespace/name` outside the default namespace)."""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    """The token-bucket limits of one subject on one suite."""

    requests_per_minute: int
    burst: int
    per_tool: tuple[tuple[str, int], ...] = ()
    """(`server.tool` pattern, calls per minute)."""

    def tool_limit(self, server: str, tool: str) -> int | None:
        """Calls per minute allowed for this tool, the strictest matching pattern's."""
        name = f"{server_name(server)}.{tool}"
        matching = [rpm for pattern, rpm in self.per_tool if glob_match(pattern, name)]
        return min(matching) if matching else None

    @classmethod
    def strictest(cls, limits: Iterable[RateLimit]) -> Limits | None:
        """When several permissions limit one subject, the strictest of each limit applies."""
        found = list(limits)
        if not found:
            return None
        per_tool: dict[str, int] = {}
        for limit in found:
            for pattern, rpm in limit.per_tool.items():
                per_tool[pattern] = min(rpm, per_tool.get(pattern, rpm))
        return cls(
            requests_per_minute=min(limit.requests_per_minute for limit in found),
            burst=min(limit.burst or limit.requests_per_minute for limit in found),
            per_tool=tuple(sorted(per_tool.items())),
        )


@dataclass(frozen=True, slots=True)
class Access:
    """What one subject may do on one suite."""

    subject: str
    rules: RuleSet | None = None
    """None: everything is allowed (a suite with no ToolPermission)."""
    limits: Limits | None = None
    _decided: dict[tuple[str, str], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Decisions made so far: the rules are matched once per tool and configuration."""

    def allows(self, server: str, tool: str) -> bool:
        """`server`: qualified or not; rules name the servers of their own namespace."""
        if self.rules is None:
            return True
        key = (server, tool)
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decided[key] = self.rules.allows(server_name(server), tool)
        return decided


@dataclass(frozen=True)
class SuiteConfig:
    """Everything the gateway needs to serve one suite."""

    name: str
    """How clients address the suite (`/suites/<name>/mcp`): its qualified name, so
    `namespace/name` outside the default namespace."""
    namespace: str = "default"
    description: str | None = None
    conflict_resolution: str = "prefix"
    members: tuple[Member, ...] = ()
    tools: Mapping[str, ToolRoute] = field(default_factory=dict)
    """Exposed name -> route, in listing order."""
    secured: bool = False
    """True when any ToolPermission is attached: every request needs a valid token."""
    tokens: TokenTable = field(default_factory=TokenTable)
    oidc: tuple[OidcGrant, ...] = ()
    """The OIDC subjects of the suite's permissions, in declaration order."""
    access: Mapping[str, Access] = field(default_factory=dict)
    """Subject name -> access; on an unsecured suite, only ANONYMOUS."""
    discovery: str = "all"
    """`search`: clients list `find_tools` and `call_tool` (see `discovery_tools.py`)."""
    max_results: int = 5
    """Most tools one `find_tools` returns."""
    embeddings: tuple[str, str] | None = None
    """(LLMProvider, model) whose embeddings are fused into the ranking of `find_tools`."""
    withheld: Mapping[str, WithheldTool] = field(default_factory=dict)
    """Exposed name -> a tool withheld by its server's ToolLock or the scan."""
    sessions: SessionLimits = field(default_factory=SessionLimits)
    """Limits on the suite's client sessions (`spec.sessions`)."""

    @property
    def servers(self) -> tuple[str, ...]:
        return tuple(member.server for member in self.members)

    def access_for(self, subject: str) -> Access:
        """The subject's access; an unknown subject may call nothing."""
        return self.access.get(subject) or Access(subject, RuleSet(), None)


@dataclass(frozen=True)
class GatewayConfig:
    """The configuration of every suite, from one revision."""

    suites: Mapping[str, SuiteConfig] = field(default_factory=dict)
    """By qualified name (`SuiteConfig.name`)."""
    revision: str | None = None
    problems: tuple[Problem, ...] = ()
    """What could not be applied: errors (a token that cannot be read: that subject cannot
    authenticate) and warnings (a tool hidden by a name clash)."""
    locks: Mapping[tuple[str, str], ServerVerdict] = field(default_factory=dict)
    """(namespace, server) -> the ToolLock and scan verdict on its tools."""

    @property
    def servers(self) -> frozenset[str]:
        """Every server (qualified name) that is a member of some suite."""
        return frozenset(s for suite in self.suites.values() for s in suite.servers)


def build_gateway_config(
    desired: DesiredState,
    tools: Mapping[str, list[dict[str, Any]]],
    *,
    resolver: SecretResolver,
    descriptions: Mapping[str, Mapping[str, str]] | None = None,
    upstream: Mapping[str, list[dict[str, Any]]] | None = None,
    locks: Mapping[tuple[str, str], ServerVerdict] | None = None,
) -> GatewayConfig:
    """Compute the gateway's configuration.

    `tools` holds each server's discovered tools as the raw dicts of its `tools/list`;
    `descriptions` the enhanced descriptions by server and tool; `upstream` the tools as
    the servers sent them when `tools` already carries enhanced text (the lock and the scan
    judge upstream definitions; default: `tools`). All three are keyed by the server's
    qualified name. Token values are read through `resolver` and kept only as hashes; a
    token that cannot be read is reported in `problems` and authenticates nobody.
    `locks` is the ToolLock and scan verdict when the caller has judged those tools
    already (`judge_state`); without it, it is judged here.
    """
    if locks is None:
        locks = judge_state(desired, upstream if upstream is not None else tools)
    builder = _Builder(desired, tools, resolver, descriptions or {}, locks, upstream)
    configs = (builder.suite(suite) for suite in sorted(desired.suites, key=_by_name))
    suites = {config.name: config for config in configs}
    return GatewayConfig(
        MappingProxyType(suites),
        revision=desired.revision,
        problems=tuple(dict.fromkeys(builder.problems)),
        locks=MappingProxyType(locks),
    )


def _by_name(suite: MCPSuite) -> tuple[str, str]:
    return (suite.metadata.ns, suite.name)


def server_name(server: str) -> str:
    """A server's own name, from its qualified name (`namespace/name` or `name`)."""
    return server.rpartition("/")[2]


def _workflow_tool(exposed: str, workflow: Workflow) -> dict[str, Any]:
    """A workflow as clients see it: its inputs as the input schema."""
    steps = [step.tool for step in workflow.spec.steps]
    schema = dict(workflow.spec.inputs or {})
    schema.setdefault("type", "object")
    return {
        "name": exposed,
        "description": workflow.spec.description
        or f"Workflow {workflow.name}: calls {', then '.join(steps)}.",
        "inputSchema": schema,
        "_meta": {"dev.mcp-reconciler/workflow": {"name": workflow.name, "steps": steps}},
    }


class _Builder:
    """Holds the inputs and the problems found while building one configuration."""

    def __init__(
        self,
        desired: DesiredState,
        tools: Mapping[str, list[dict[str, Any]]],
        resolver: SecretResolver,
        descriptions: Mapping[str, Mapping[str, str]],
        locks: Mapping[tuple[str, str], ServerVerdict],
        upstream: Mapping[str, list[dict[str, Any]]] | None,
    ) -> None:
        self.desired = desired
        self.tools = tools
        self.resolver = resolver
        self.descriptions = descriptions
        self.locks = locks
        self.upstream = upstream
        self.withheld: dict[str, WithheldTool] = {}
        self.problems: list[Problem] = []
        self._hashes: dict[tuple[str, str, int], bytes | None] = {}
        self._credentials: dict[str, dict[bytes, list[tuple[ToolPermission, int]]]] = {}

    def problem(
        self,
        resource: Resource,
        field: str,
        message: str,
        *,
        severity: Severity = "warning",
    ) -> None:
        origin = self.desired.origins.get(resource.key)
        self.problems.append(
            Problem(
                message,
                file=origin.file if origin else None,
                line=origin.line_of(field) if origin else None,
                resource=f"{resource.kind_name}/{resource.name}",
                field=field,
                severity=severity,
            )
        )

    def suite(self, suite: MCPSuite) -> SuiteConfig:
        ns = suite.metadata.ns
        members = tuple(
            Member(qualified_name(ns, m.server), m.priority)
            for m in self.desired.suite_members(suite)
            if self.desired.get(MCPServer, m.server, ns) is not None
        )
        self.withheld = {}
        routes = self.routes(suite, members)
        self.workflows(suite, members, routes)
        permissions = self.desired.permissions_for(suite)
        tokens, access = self.access(suite, permissions) if permissions else ((), {})
        grants = self.oidc_grants(suite, permissions, access)
        if not permissions:
            access = {ANONYMOUS: Access(ANONYMOUS)}
        return SuiteConfig(
            name=qualified_name(ns, suite.name),
            namespace=ns,
            description=suite.spec.description,
            conflict_resolution=suite.spec.conflict_resolution,
            members=members,
            tools=MappingProxyType(routes),
            secured=bool(permissions),
            tokens=TokenTable.of(tokens),
            oidc=grants,
            access=MappingProxyType(access),
            discovery=suite.spec.discovery.mode,
            max_results=suite.spec.discovery.max_results,
            embeddings=(
                (
                    suite.spec.discovery.embeddings.provider_ref,
                    suite.spec.discovery.embeddings.model,
                )
                if suite.spec.discovery.embeddings is not None
                else None
            ),
            withheld=MappingProxyType(self.withheld),
            sessions=suite.spec.sessions,
        )

    def routes(self, suite: MCPSuite, members: tuple[Member, ...]) -> dict[str, ToolRoute]:
        ns = suite.metadata.ns
        candidates: list[Candidate] = []
        raw: dict[tuple[str, str], dict[str, Any]] = {}
        for member in members:
            server = self.desired.get(MCPServer, server_name(member.server), ns)
            assert server is not None
            spec = server.spec.tools
            for tool in self.tools.get(member.server, []):
                name = tool.get("name")
                if not isinstance(name, str) or not name:
                    continue
                if not spec.exposes(name):
                    continue
                override = spec.overrides.get(name)
                exposed_name = override.name if override and override.name else name
                candidates.append(Candidate(server.name, name, exposed_name, member.priority))
                raw[(server.name, name)] = tool
        naming = POLICIES[suite.spec.conflict_resolution].assign(candidates)
        for clash in naming.clashes:
            self.problem(suite, "spec.conflictResolution", clash.describe())
        routes: dict[str, ToolRoute] = {}
        for exposed, candidate in naming.exposed.items():
            verdict = self.locks.get((ns, candidate.server))
            judged = verdict.verdict(candidate.original) if verdict else None
            if judged is not None and judged.withheld:
                self.withheld[exposed] = WithheldTool(
                    exposed, candidate.server, candidate.original, judged.reason()
                )
                continue
            definition = self.served(
                ns, candidate.server, raw[(candidate.server, candidate.original)]
            )
            definition["name"] = exposed
            description = self.description(ns, candidate.server, candidate.original)
            if description is not None:
                definition["description"] = description
            routes[exposed] = ToolRoute(
                exposed,
                qualified_name(ns, candidate.server),
                candidate.original,
                MappingProxyType(definition),
            )
        return routes

    def workflows(
        self, suite: MCPSuite, members: tuple[Member, ...], routes: dict[str, ToolRoute]
    ) -> None:
        """Add the tool of each active workflow with steps that lists the suite."""
        ns = suite.metadata.ns
        servers = {server_name(member.server) for member in members}
        chains: dict[str, tuple[Workflow, Chain]] = {}
        for workflow in sorted(self.desired.of_kind(Workflow, ns), key=lambda w: w.name):
            spec = workflow.spec
            if spec.active and spec.steps and suite.name in spec.suites:
                chain = self.chain(workflow, suite, servers)
                if chain is not None:
                    chains[workflow.name] = (workflow, chain)
        if chains and WORKFLOW_SERVER in servers:
            self.problem(
                suite,
                "spec.servers",
                f"server {WORKFLOW_SERVER!r} shares its rule prefix with the suite's workflows "
                f"(rules address both as {WORKFLOW_SERVER}.<name>): rename the server",
            )
        naming = POLICIES[suite.spec.conflict_resolution].assign(
            Candidate(WORKFLOW_SERVER, name, name) for name in chains
        )
        for exposed, candidate in naming.exposed.items():
            workflow, chain = chains[candidate.original]
            taken = routes.get(exposed)
            if taken is not None:
                self.problem(
                    workflow,
                    "metadata.name",
                    f"workflow {workflow.name} is not exposed in suite {suite.name}: {exposed!r} "
                    f"is taken by {taken.server}.{taken.tool}; rename the workflow",
                )
                continue
            routes[exposed] = ToolRoute(
                exposed,
                WORKFLOW_SERVER,
                workflow.name,
                MappingProxyType(_workflow_tool(exposed, workflow)),
                chain,
            )

    def chain(self, workflow: Workflow, suite: MCPSuite, servers: set[str]) -> Chain | None:
        """The workflow's checked steps, or None (and a problem) when it cannot be served."""
        ns = suite.metadata.ns
        for i, step in enumerate(workflow.spec.steps):
            step_server, tool = step.tool.split(".", 1)
            server = self.desired.get(MCPServer, step_server, ns)
            if server is None or step_server not in servers:
                reason = f"server {step_server} is not a member of suite {suite.name}"
            elif not server.spec.tools.exposes(tool):
                reason = f"the tools.include/exclude of server {step_server} hide {tool}"
            else:
                continue
            message = f"workflow {workflow.name} is not served in suite {suite.name}: {reason}"
            self.problem(workflow, f"spec.steps.{i}.tool", message)
            return None
        try:
            return Chain.build(workflow.name, workflow.spec.steps)
        except ChainError as exc:
            message = f"{exc.message}; the workflow is not served until this is fixed"
            self.problem(workflow, exc.field, message, severity="error")
            return None

    def description(self, ns: str, name: str, tool: str) -> str | None:
        """The spec override wins over the enhanced text; None keeps the server's own.

        Enhanced text is scanned like upstream text: with a high finding it is not served.
        """
        server = self.desired.get(MCPServer, name, ns)
        override = server.spec.tools.overrides.get(tool) if server else None
        if override is not None and override.description is not None:
            return override.description
        enhanced = self.descriptions.get(qualified_name(ns, name), {}).get(tool)
        if enhanced is not None and not self.safe_enhancement(server, tool, enhanced):
            return None
        return enhanced

    def served(self, ns: str, name: str, tool: dict[str, Any]) -> dict[str, Any]:
        """The definition to serve: the enhanced one, unless its text has a high finding
        (a model can be talked into writing an injection); then the server's own."""
        definition = dict(tool)
        if self.upstream is None:
            return definition
        tool_name = str(tool.get("name"))
        original = next(
            (
                t
                for t in self.upstream.get(qualified_name(ns, name), [])
                if t.get("name") == tool_name
            ),
            None,
        )
        text = definition.get("description")
        if original is None or not isinstance(text, str) or text == original.get("description"):
            return definition
        server = self.desired.get(MCPServer, name, ns)
        return definition if self.safe_enhancement(server, tool_name, text) else dict(original)

    def safe_enhancement(self, server: MCPServer | None, tool: str, text: str) -> bool:
        found = [
            f for f in scan_text(server.name if server else "", tool, "description", text) if f.high
        ]
        if found and server is not None:
            self.problem(
                server,
                "spec.enhancement",
                f"the enhanced description of {server.name}.{tool} is not served: the scan "
                f"found {found[0].kind} ({one_line(found[0].excerpt, limit=80)}); "
                "the server's own description is served instead",
            )
        return not found

    def access(
        self, suite: MCPSuite, permissions: list[ToolPermission]
    ) -> tuple[list[tuple[bytes, str]], dict[str, Access]]:
        """Token hashes and access of every credential that logs in on the suite.

        A credential (one `tokenFrom`) grants what the ToolPermission declaring it grants,
        plus what permissions naming one of that subject entry's `roles` grant, and nothing
        else: a subject of the same name with another token in another permission is
        another credential. A credential granting nothing on this suite does not log in
        here. Callers are keyed by subject name; when one name holds credentials with
        different grants on a suite, each grant is its own key, `name@permission,...`.
        """
        applying = {p.name: p for p in permissions}
        grants: dict[bytes, tuple[str, tuple[ToolPermission, ...], frozenset[str]]] = {}
        for digest, sources in self.credentials(suite.metadata.ns).items():
            name = sources[0][0].spec.subjects[sources[0][1]].name
            roles = frozenset(role for p, i in sources for role in p.spec.subjects[i].roles)
            by_name = {p.name: p for p, _ in sources if p.name in applying}
            for permission in permissions:
                if any(s.role is not None and s.role in roles for s in permission.spec.subjects):
                    by_name.setdefault(permission.name, permission)
            if by_name:
                grants[digest] = (name, tuple(by_name[n] for n in sorted(by_name)), roles)
        keys_of: dict[str, set[tuple[str, ...]]] = {}
        for name, granting, _ in grants.values():
            keys_of.setdefault(name, set()).add(tuple(p.name for p in granting))
        tokens: list[tuple[bytes, str]] = []
        access: dict[str, Access] = {}
        for digest, (name, granting, roles) in sorted(grants.items(), key=lambda g: g[1][0]):
            names = tuple(p.name for p in granting)
            key = name if len(keys_of[name]) == 1 else f"{name}@{','.join(names)}"
            tokens.append((digest, key))
            if key not in access:
                access[key] = Access(
                    key,
                    rules_for(granting, suite=suite.name, subject=name, roles=roles),
                    Limits.strictest(p.spec.rate_limit for p in granting if p.spec.rate_limit),
                )
        return tokens, access

    def oidc_grants(
        self, suite: MCPSuite, permissions: list[ToolPermission], access: dict[str, Access]
    ) -> tuple[OidcGrant, ...]:
        """The OIDC subjects on the suite; each gets the access of its own permission (and
        of the roles it holds), never that of a same-named subject elsewhere. Its access
        key is its name, or `<name>@<permission>` when the name is taken on the suite."""
        declared = [
            (permission, subject)
            for permission in permissions
            for subject in permission.spec.subjects
            if subject.oidc is not None
        ]
        names = [s.name for p in permissions for s in p.spec.subjects]
        grants: list[OidcGrant] = []
        for permission, subject in declared:
            assert subject.oidc is not None
            key = subject.name
            if key in access or names.count(key) > 1:
                key = f"{subject.name}@{permission.name}"
            roles = set(subject.roles)
            rules = oidc_rules(permission, permissions, suite=suite.name, roles=roles)
            applying = [permission] + [
                p
                for p in permissions
                if p is not permission and any(s.role in roles for s in p.spec.subjects)
            ]
            access[key] = Access(
                key,
                rules,
                Limits.strictest(p.spec.rate_limit for p in applying if p.spec.rate_limit),
            )
            grants.append(
                OidcGrant(
                    key=key,
                    subject=subject.name,
                    issuer=subject.oidc.issuer,
                    audience=subject.oidc.audience,
                    claims=tuple(sorted(subject.oidc.claims.items())),
                )
            )
        return tuple(grants)

    def credentials(self, ns: str) -> dict[bytes, list[tuple[ToolPermission, int]]]:
        """Every readable token of the namespace -> the subject entries declaring it.

        The same token declared for two different subject names authenticates only the
        first (by permission name); the other declarations are reported.
        """
        cached = self._credentials.get(ns)
        if cached is not None:
            return cached
        found: dict[bytes, list[tuple[ToolPermission, int]]] = {}
        self._credentials[ns] = found
        for permission in sorted(self.desired.of_kind(ToolPermission, ns), key=lambda p: p.name):
            for index, subject in enumerate(permission.spec.subjects):
                if subject.token_from is None:
                    continue
                digest = self.token_of(permission, index)
                if digest is None:
                    continue
                sources = found.setdefault(digest, [])
                owner = sources[0][0].spec.subjects[sources[0][1]].name if sources else None
                if owner is not None and owner != subject.name:
                    self.problem(
                        permission,
                        f"spec.subjects.{index}.tokenFrom",
                        f"subject {subject.name} has the same token as subject {owner}; "
                        f"the token authenticates only {owner}",
                    )
                    continue
                sources.append((permission, index))
        return found

    def token_of(self, permission: ToolPermission, index: int) -> bytes | None:
        """The hash of a subject's token, resolved once per build; None when unreadable."""
        key = (permission.metadata.ns, permission.name, index)
        if key not in self._hashes:
            source = permission.spec.subjects[index].token_from
            assert source is not None
            field = f"spec.subjects.{index}.tokenFrom"
            self._hashes[key] = None
            try:
                token = self.resolver.resolve(source)
            except ReconcilerError as exc:
                self.problem(permission, field, exc.message, severity="error")
            else:
                if token.strip():
                    self._hashes[key] = token_hash(token)
                else:
                    message = f"{source.describe()} is empty: set a token"
                    self.problem(permission, field, message, severity="error")
        return self._hashes[key]
