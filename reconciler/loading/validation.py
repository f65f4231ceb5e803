"""Cross-reference checks over a whole DesiredState: names that must exist, cycles, and
declarations that do nothing.

A pure function of the state, run by the loader once every document passed its schema,
and usable by the operator on a state built from Kubernetes objects. References resolve
within one namespace. Errors make a revision invalid; warnings (severity "warning") are
shown but never block it. Each problem carries the line of the exact field, e.g.
`spec.servers.1.name`, taken from the resource's Origin.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from dataclasses import dataclass, field
from typing import TypeVar, cast

from ..core.desired import DesiredState
from ..core.errors import Problem, Severity
from ..core.models import (
    DEFAULT_NAMESPACE,
    LLMProvider,
    MCPServer,
    MCPSuite,
    Resource,
    ResourceKey,
    ToolLock,
    ToolPermission,
    Workflow,
)
from ..core.models.globs import glob_match
from ..core.models.provider import EMBEDDING_TYPES
from ..core.models.workflow import WORKFLOW_SERVER
from ..core.redaction import credential_kind
from .inline_secrets import inline_credentials, inline_message

_GLOB_CHARS = frozenset("*?[")

R = TypeVar("R", bound=Resource)


def check_references(
    state: DesiredState, *, invalid: Set[ResourceKey] = frozenset()
) -> list[Problem]:
    """Every broken reference, cycle and no-op declaration of the state, kind by kind.

    `invalid` holds keys of resources that were declared but rejected by an earlier
    check: references to them are not reported a second time.
    """
    return _Checker(state, invalid).run()


@dataclass
class _Checker:
    state: DesiredState
    invalid: Set[ResourceKey]
    problems: list[Problem] = field(default_factory=list)
    names: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(kind, namespace) -> names, for "did you mean" hints."""
    declared: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """(kind, namespace) -> names declared, valid or not: what a reference may name."""
    by_class: dict[type[Resource], list[Resource]] = field(default_factory=dict)
    """Resources by kind, in declaration order (one pass over the state for every kind)."""
    labelled: dict[tuple[str, str, str], set[str]] | None = None
    """(namespace, label, value) -> names of servers carrying that label (built when a
    suite first selects by label)."""
    members: dict[ResourceKey, set[str]] = field(default_factory=dict)
    """Suite -> names of existing member servers (listed or selected)."""
    selected: dict[tuple[str, frozenset[tuple[str, str]]], set[str]] = field(default_factory=dict)
    """(namespace, matchLabels) -> servers selected."""
    chained: dict[str, set[str]] | None = None
    """Namespace -> suites serving a workflow with steps (found on first use)."""

    def run(self) -> list[Problem]:
        for key in sorted(self.invalid):
            self.names.setdefault((key.kind, key.namespace), []).append(key.name)
        names, by_class = self.names, self.by_class
        for (kind, namespace, name), resource in self.state.resources.items():
            names.setdefault((kind, namespace), []).append(name)
            by_class.setdefault(type(resource), []).append(resource)
        self.declared = {where: set(names) for where, names in self.names.items()}
        for suite in self._all(MCPSuite):
            self.members[suite.key] = self._members_of(suite)
        for server in self._all(MCPServer):
            self._server(server)
        for suite in self._all(MCPSuite):
            self._suite(suite)
        for permission in self._all(ToolPermission):
            self._permission(permission)
        for provider in self._all(LLMProvider):
            self._provider(provider)
        self._fallback_cycles()
        for workflow in self._all(Workflow):
            self._workflow(workflow)
        for lock in self._all(ToolLock):
            self._lock(lock)
        return self.problems

    def _all(self, cls: type[R]) -> list[R]:
        """`state.of_kind(cls)`, from the one pass (the kinds have no subclasses)."""
        return cast(list[R], self.by_class.get(cls, []))

    # -- reporting -------------------------------------------------------------------

    def _report(
        self, resource: Resource, path: str, message: str, severity: Severity = "error"
    ) -> None:
        origin = self.state.origins.get(resource.key)
        self.problems.append(
            Problem(
                message,
                file=origin.file if origin else None,
                line=origin.line_of(path) if origin else None,
                resource=str(resource.key),
                field=path,
                severity=severity,
            )
        )

    def _warn(self, resource: Resource, path: str, message: str) -> None:
        self._report(resource, path, message, "warning")

    def _exists(self, kind: str, namespace: str, name: str) -> bool:
        return name in self.declared.get((kind, namespace), ())

    def _missing(self, kind: str, namespace: str, name: str) -> str:
        """`unknown MCPServer 'x'; did you mean 'y'?`, naming the namespace when not default."""
        import difflib  # only for a wrong name

        where = "" if namespace == DEFAULT_NAMESPACE else f" in namespace {namespace}"
        message = f"unknown {kind} '{name}'{where}"
        close = difflib.get_close_matches(name, self.names.get((kind, namespace), []), n=1)
        if close:
            return f"{message}; did you mean '{close[0]}'?"
        return f"{message}; declare it or fix the name"

    def _members_of(self, suite: MCPSuite) -> set[str]:
        namespace = suite.metadata.ns
        members = {
            m.name
            for m in suite.spec.servers
            if self._exists(MCPServer.kind_name, namespace, m.name)
        }
        selector = suite.spec.selector
        if selector is None or not selector.match_labels:
            return members
        selected = self._selected(namespace, frozenset(selector.match_labels.items()))
        return members | selected if members else selected  # shared, never modified

    def _selected(self, namespace: str, labels: frozenset[tuple[str, str]]) -> set[str]:
        """Servers of the namespace carrying every label; suites often share a selector."""
        key = (namespace, labels)
        if key not in self.selected:
            if self.labelled is None:
                self.labelled = self._labels()
            found = [self.labelled.get((namespace, k, v), set()) for k, v in labels]
            self.selected[key] = set.intersection(*sorted(found, key=len))
        return self.selected[key]

    def _labels(self) -> dict[tuple[str, str, str], set[str]]:
        labelled: dict[tuple[str, str, str], set[str]] = {}
        for server in self._all(MCPServer):
            namespace, name = server.metadata.ns, server.name
            for label, value in server.metadata.labels.items():
                labelled.setdefault((namespace, label, value), set()).add(name)
        return labelled

    # -- one kind at a time --------------------------------------------------------

    def _server(self, server: MCPServer) -> None:
        for path, message in inline_credentials(server):
            self._report(server, path, message)
        enhancement = server.spec.enhancement
        if enhancement is None:
            return
        namespace = server.metadata.ns
        if not self._exists(LLMProvider.kind_name, namespace, enhancement.provider_ref):
            message = self._missing(LLMProvider.kind_name, namespace, enhancement.provider_ref)
            self._report(server, "spec.enhancement.providerRef", message)
        if server.spec.is_remote and not enhancement.allow_remote:
            self._warn(
                server,
                "spec.enhancement",
                "enhancement is skipped for a remote server; "
                "set allowRemote: true to enhance its tools",
            )

    def _lock(self, lock: ToolLock) -> None:
        """A lock belongs to the server of the same name; what it accepts must be locked."""
        namespace = lock.metadata.ns
        if not self._exists(MCPServer.kind_name, namespace, lock.name):
            message = self._missing(MCPServer.kind_name, namespace, lock.name)
            message = f"a ToolLock is named after its server: {message}"
            self._report(lock, "metadata.name", message)
        seen: set[tuple[str, str]] = set()
        for i, accepted in enumerate(lock.spec.accepted):
            if accepted.tool not in lock.spec.tools:
                self._warn(
                    lock,
                    f"spec.accepted.{i}.tool",
                    f"tool '{accepted.tool}' is not locked (not in spec.tools): "
                    "accepting its finding has no effect",
                )
            if (accepted.tool, accepted.finding) in seen:
                self._warn(lock, f"spec.accepted.{i}", "accepted twice")
            seen.add((accepted.tool, accepted.finding))

    def _suite(self, suite: MCPSuite) -> None:
        namespace = suite.metadata.ns
        first: dict[str, int] = {}
        for i, member in enumerate(suite.spec.servers):
            path = f"spec.servers.{i}.name"
            if member.name in first:
                self._report(
                    suite,
                    path,
                    f"server '{member.name}' listed twice (first at index {first[member.name]})",
                )
                continue
            first[member.name] = i
            if not self._exists(MCPServer.kind_name, namespace, member.name):
                self._report(
                    suite, path, self._missing(MCPServer.kind_name, namespace, member.name)
                )
        self._embeddings(suite)
        if not suite.spec.servers and not self.members[suite.key]:
            path = "spec.selector" if suite.spec.selector is not None else "spec"
            self._warn(
                suite,
                path,
                "suite has no servers: list some under servers or select them by label",
            )

    def _embeddings(self, suite: MCPSuite) -> None:
        """A suite's embedding provider exists and serves embeddings."""
        discovery = suite.spec.discovery
        if discovery.embeddings is None:
            return
        path = "spec.discovery.embeddings.providerRef"
        name = discovery.embeddings.provider_ref
        provider = self.state.get(LLMProvider, name, suite.metadata.ns)
        if provider is None:
            if not self._exists(LLMProvider.kind_name, suite.metadata.ns, name):
                self._report(
                    suite, path, self._missing(LLMProvider.kind_name, suite.metadata.ns, name)
                )
        elif provider.spec.type not in EMBEDDING_TYPES:
            self._report(
                suite,
                path,
                f"LLMProvider '{name}' is of type {provider.spec.type}, which serves no "
                f"embeddings; use one of type {', '.join(sorted(EMBEDDING_TYPES))}",
            )
        if discovery.mode != "search":
            self._warn(
                suite, "spec.discovery.embeddings", "embeddings are used only with mode: search"
            )

    def _suites_of(self, resource: Resource, suites: list[str]) -> list[ResourceKey]:
        """The keys of the listed suites that exist; an error for each that does not."""
        namespace = resource.metadata.ns
        found = []
        for i, name in enumerate(suites):
            key = ResourceKey(MCPSuite.kind_name, namespace, name)
            if key in self.state.resources:
                found.append(key)
            elif key not in self.invalid:
                message = self._missing(MCPSuite.kind_name, namespace, name)
                self._report(resource, f"spec.suites.{i}", message)
        return found

    def _members_of_all(self, suites: list[ResourceKey]) -> set[str]:
        if len(suites) == 1:
            return self.members[suites[0]]  # shared, never modified
        return set().union(*(self.members[key] for key in suites))

    def _permission(self, permission: ToolPermission) -> None:
        suites = self._suites_of(permission, permission.spec.suites)
        members = self._members_of_all(suites)
        if not members:
            return
        names = ", ".join(key.name for key in suites)
        suite_names = {key.name for key in suites}
        if suite_names & self._chained_suites(permission.metadata.ns):
            members = members | {WORKFLOW_SERVER}  # its tools are `workflow.<name>`
        for i, rule in enumerate(permission.spec.rules):
            for j, pattern in enumerate(rule.tools):
                server_part = pattern.split(".", 1)[0]
                if _matches_any(server_part, members):
                    continue
                shown = ", ".join(sorted(members)[:5]) + (", ..." if len(members) > 5 else "")
                self._warn(
                    permission,
                    f"spec.rules.{i}.tools.{j}",
                    f"pattern '{pattern}' matches no server of suite(s) {names} (servers: {shown})",
                )

    def _chained_suites(self, namespace: str) -> set[str]:
        """The suites of the namespace serving a workflow with steps (a tool chain)."""
        if self.chained is None:
            self.chained = {}
            for workflow in self._all(Workflow):
                if workflow.spec.steps:
                    chained = self.chained.setdefault(workflow.metadata.ns, set())
                    chained.update(workflow.spec.suites)
        return self.chained.get(namespace, set())

    def _provider(self, provider: LLMProvider) -> None:
        endpoint = provider.spec.endpoint
        if endpoint is not None and credential_kind(endpoint) is not None:
            self._report(provider, "spec.endpoint", inline_message(credential_kind(endpoint)))
        fallback = provider.spec.fallback_ref
        namespace = provider.metadata.ns
        if fallback is not None and not self._exists(LLMProvider.kind_name, namespace, fallback):
            message = self._missing(LLMProvider.kind_name, namespace, fallback)
            self._report(provider, "spec.fallbackRef", message)

    def _fallback_cycles(self) -> None:
        """Each provider falls back to at most one other: follow the chains once."""
        following: dict[ResourceKey, ResourceKey] = {}
        for provider in self._all(LLMProvider):
            if provider.spec.fallback_ref is not None:
                target = ResourceKey(
                    LLMProvider.kind_name, provider.metadata.ns, provider.spec.fallback_ref
                )
                if target in self.state.resources:
                    following[provider.key] = target
        state: dict[ResourceKey, int] = {}  # 1: on the current chain, 2: done
        for start in sorted(following):
            chain: list[ResourceKey] = []
            current: ResourceKey | None = start
            while current is not None and current not in state:
                state[current] = 1
                chain.append(current)
                current = following.get(current)
            if current is not None and state[current] == 1:
                cycle = chain[chain.index(current) :]
                names = " -> ".join(key.name for key in [*cycle, current])
                closing = self.state.resources[current]
                self._report(closing, "spec.fallbackRef", f"fallback cycle: {names}")
            for key in chain:
                state[key] = 2

    def _workflow(self, workflow: Workflow) -> None:
        # Imported here: the template language is needed only when there are workflows.
        from ..workflows.templating import TemplateError, step_references, strings_of

        namespace = workflow.metadata.ns
        suites = self._suites_of(workflow, workflow.spec.suites)
        members = self._members_of_all(suites)
        steps = workflow.spec.steps
        index: dict[str, int] = {}
        for i, step in enumerate(steps):
            if step.id in index:
                line = self._line(workflow, f"spec.steps.{index[step.id]}.id")
                self._report(
                    workflow,
                    f"spec.steps.{i}.id",
                    f"duplicate step id '{step.id}' (first at line {line})",
                )
            else:
                index[step.id] = i
        for i, step in enumerate(steps):
            server = step.tool.split(".", 1)[0]
            if not self._exists(MCPServer.kind_name, namespace, server):
                message = self._missing(MCPServer.kind_name, namespace, server)
                self._report(workflow, f"spec.steps.{i}.tool", message)
            elif suites and server not in members:
                listed = ", ".join(key.name for key in suites)
                self._report(
                    workflow,
                    f"spec.steps.{i}.tool",
                    f"server '{server}' is in none of the workflow's suites ({listed}); "
                    "add it to one of them",
                )
            for j, dependency in enumerate(step.depends_on):
                if dependency not in index:
                    self._report(
                        workflow,
                        f"spec.steps.{i}.dependsOn.{j}",
                        _unknown_step(dependency, list(index)),
                    )
            templated = sorted(strings_of(step.arguments, f"spec.steps.{i}.arguments"))
            if step.when is not None:
                templated = [*templated, (f"spec.steps.{i}.when", step.when)]
            for path, text in templated:
                try:
                    referenced_steps = step_references(text)
                except TemplateError as error:
                    self._report(workflow, path, error.message)
                    continue
                for referenced in sorted(referenced_steps):
                    if referenced not in index:
                        self._report(workflow, path, _unknown_step(referenced, list(index)))
        self._step_cycles(workflow, index)

    def _step_cycles(self, workflow: Workflow, index: dict[str, int]) -> None:
        """Depth-first over dependsOn; each edge back into the current path closes a cycle."""
        steps = workflow.spec.steps
        edges = {
            step_id: [(dep, j) for j, dep in enumerate(steps[i].depends_on) if dep in index]
            for step_id, i in index.items()
        }
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for start in index:
            if start in state:
                continue
            state[start] = 1
            path = [start]
            stack: list[Iterator[tuple[str, int]]] = [iter(edges[start])]
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    state[path.pop()] = 2
                    continue
                dependency, j = step
                if dependency not in state:
                    state[dependency] = 1
                    path.append(dependency)
                    stack.append(iter(edges[dependency]))
                elif state[dependency] == 1:
                    cycle = [*path[path.index(dependency) :], dependency]
                    self._report(
                        workflow,
                        f"spec.steps.{index[path[-1]]}.dependsOn.{j}",
                        f"dependency cycle: {' -> '.join(cycle)}",
                    )

    def _line(self, resource: Resource, path: str) -> int | None:
        origin = self.state.origins.get(resource.key)
        return origin.line_of(path) if origin else None


def _matches_any(pattern: str, names: set[str]) -> bool:
    if not _GLOB_CHARS.intersection(pattern):
        return pattern in names
    return any(glob_match(pattern, name) for name in names)


def _unknown_step(name: str, known: list[str]) -> str:
    import difflib  # only for a wrong name

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown step '{name}'{hint}"
