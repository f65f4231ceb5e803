"""DesiredState: the validated resources of one revision, indexed, with where each came from.

Pure values: built by the loader (files) or the operator (Kubernetes objects) and consumed
by the planner, the differ, the gateway configuration and the enhancement step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from .models import (
    DEFAULT_NAMESPACE,
    LLMProvider,
    MCPServer,
    MCPSuite,
    Resource,
    ResourceKey,
    ToolPermission,
    Workflow,
)

R = TypeVar("R", bound=Resource)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a resource was declared: file, line of its document, line of each field."""

    file: str
    line: int
    field_lines: dict[str, int] = field(default_factory=dict)
    """Dotted camelCase field path (`spec.args.0`) -> line."""

    def line_of(self, path: str) -> int:
        """Line of the field, or of its closest declared parent."""
        while path:
            if path in self.field_lines:
                return self.field_lines[path]
            path = path.rpartition(".")[0]
        return self.line


@dataclass(frozen=True, slots=True)
class SuiteMembership:
    """A server of a suite after explicit names and selectors are merged."""

    server: str
    priority: int


@dataclass
class DesiredState:
    """Every resource of one revision, by key."""

    resources: dict[ResourceKey, Resource] = field(default_factory=dict)
    origins: dict[ResourceKey, Origin] = field(default_factory=dict)
    revision: str | None = None
    """Source revision: `branch@sha1:<sha>` for git, `sha256:<hash>` for a directory."""

    @classmethod
    def of(cls, resources: Iterable[Resource], *, revision: str | None = None) -> DesiredState:
        return cls(resources={r.key: r for r in resources}, revision=revision)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources.values())

    def __len__(self) -> int:
        return len(self.resources)

    def of_kind(self, cls: type[R], namespace: str | None = None) -> list[R]:
        return [
            r
            for r in self.resources.values()
            if isinstance(r, cls) and (namespace is None or r.metadata.ns == namespace)
        ]

    def get(self, cls: type[R], name: str, namespace: str = DEFAULT_NAMESPACE) -> R | None:
        found = self.resources.get(ResourceKey(cls.kind_name, namespace, name))
        return found if isinstance(found, cls) else None

    @property
    def servers(self) -> list[MCPServer]:
        return self.of_kind(MCPServer)

    @property
    def suites(self) -> list[MCPSuite]:
        return self.of_kind(MCPSuite)

    @property
    def permissions(self) -> list[ToolPermission]:
        return self.of_kind(ToolPermission)

    @property
    def providers(self) -> list[LLMProvider]:
        return self.of_kind(LLMProvider)

    @property
    def workflows(self) -> list[Workflow]:
        return self.of_kind(Workflow)

    def suite_members(self, suite: MCPSuite) -> list[SuiteMembership]:
        """Explicit members first (their priority), then selector matches (priority 0)."""
        ns = suite.metadata.ns
        members = {m.name: m.priority for m in suite.spec.servers}
        if suite.spec.selector is not None:
            for server in self.of_kind(MCPServer, ns):
                if server.name not in members and suite.spec.selector.matches(
                    server.metadata.labels
                ):
                    members[server.name] = 0
        return [SuiteMembership(name, prio) for name, prio in members.items()]

    def permissions_for(self, suite: MCPSuite) -> list[ToolPermission]:
        return [
            p
            for p in self.of_kind(ToolPermission, suite.metadata.ns)
            if suite.name in p.spec.suites
        ]

    def wanted_running(self, server: MCPServer) -> bool:
        """Whether the server should run: enabled, and auto-started or needed by a workflow."""
        if not server.spec.enabled:
            return False
        if server.spec.auto_start:
            return True
        ns = server.metadata.ns
        for workflow in self.of_kind(Workflow, ns):
            if not workflow.spec.active:
                continue
            for suite_name in workflow.spec.suites:
                suite = self.get(MCPSuite, suite_name, ns)
                if suite and any(m.server == server.name for m in self.suite_members(suite)):
                    return True
        return False
