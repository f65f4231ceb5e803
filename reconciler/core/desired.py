"""DesiredState: the validated resources of one revision, indexed, with where each came from.

Pure values: built by the loader (files) or the operator (Kubernetes objects) and consumed
by the planner, the differ, the gateway configuration and the enhancement step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

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


class FieldLineSource(Protocol):
    """Computes the field lines of the documents of one file when first asked."""

    def field_lines(self, document: int) -> dict[str, int]:
        """Dotted field path -> line, for the document at this position of the file."""
        ...


class Origin:
    """Where a resource was declared: file, line of its document, line of each field.

    The field lines are given, or computed on first use from a `source` (a load that
    finds no problem never needs them, and they cost more to find than the data).
    """

    __slots__ = ("_document", "_field_lines", "_source", "file", "line")

    file: str
    """Name of the file as loaded (a path, or a name such as `git:main/servers.yaml`)."""
    line: int
    """1-based line where the resource's document starts."""

    def __init__(
        self,
        file: str,
        line: int,
        field_lines: dict[str, int] | None = None,
        *,
        source: FieldLineSource | None = None,
        document: int = 0,
    ) -> None:
        """`document` is the position of the resource's document in its file, for `source`."""
        self.file = file
        self.line = line
        if field_lines is None and source is None:
            field_lines = {}
        self._field_lines = field_lines
        self._source = source
        self._document = document

    @property
    def field_lines(self) -> dict[str, int]:
        """Dotted camelCase field path (`spec.args.0`) -> line."""
        if self._field_lines is None:
            assert self._source is not None
            self._field_lines = self._source.field_lines(self._document)
        return self._field_lines

    def line_of(self, path: str) -> int:
        """Line of the field, or of its closest declared parent."""
        lines = self.field_lines
        while path:
            if path in lines:
                return lines[path]
            path = path.rpartition(".")[0]
        return self.line

    def __repr__(self) -> str:
        return f"Origin(file={self.file!r}, line={self.line})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Origin):
            return NotImplemented
        return (self.file, self.line, self.field_lines) == (
            other.file,
            other.line,
            other.field_lines,
        )

    def __hash__(self) -> int:
        return hash((self.file, self.line))


@dataclass(frozen=True, slots=True)
class SuiteMembership:
    """A server of a suite after explicit names and selectors are merged."""

    server: str
    priority: int


@dataclass
class DesiredState:
    """Every resource of one revision, by key."""

    resources: dict[ResourceKey, Resource] = field(default_factory=dict)
    """Every resource under its own `key`."""
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
        if namespace is None:
            return [r for r in self.resources.values() if isinstance(r, cls)]
        return [
            r for (_, ns, _), r in self.resources.items() if ns == namespace and isinstance(r, cls)
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
        """Named members first (their priority), then selector matches by name (priority 0).

        For every suite at once, `core.membership.resolved_members` gives the same answer
        through a label index."""
        selector = suite.spec.selector
        matched = (
            server.name
            for server in self.of_kind(MCPServer, suite.metadata.ns)
            if selector is not None and selector.matches(server.metadata.labels)
        )
        members = merged_members(suite, matched)
        return [SuiteMembership(name, prio) for name, prio in members.items()]

    def permissions_for(self, suite: MCPSuite) -> list[ToolPermission]:
        return [
            p
            for p in self.of_kind(ToolPermission, suite.metadata.ns)
            if suite.name in p.spec.suites
        ]


def merged_members(suite: MCPSuite, matched: Iterable[str]) -> dict[str, int]:
    """A suite's members, server name -> priority: the servers it names (with their
    priority), then those its selector `matched`, by name (priority 0). The one rule
    behind `DesiredState.suite_members` and `core.membership.resolved_members`."""
    members = {m.name: m.priority for m in suite.spec.servers}
    for name in sorted(matched):
        members.setdefault(name, 0)
    return members
