"""Lookups over one revision, built once per diff so that every per-suite question is cheap."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..core.desired import DesiredState
from ..core.membership import Members, members_of, needed_servers, runs
from ..core.models import (
    MCPServer,
    MCPSuite,
    Resource,
    ResourceKey,
    Subject,
    ToolPermission,
    Workflow,
)

Credential = tuple[str, str, str]
"""(subject, ToolPermission, token reference) of a subject that logs in with a token."""


@dataclass
class StateIndex:
    """One DesiredState with its suite members, running servers, permissions and callers."""

    state: DesiredState
    members: Members
    """Suite key -> member server -> priority (selectors applied)."""
    needed: set[ResourceKey]
    """Servers an active Workflow needs (see `wants`)."""
    declared_permissions: list[ToolPermission] = field(default_factory=list)
    """Every ToolPermission, in declaration order."""
    permissions: dict[tuple[str, str], list[ToolPermission]] = field(default_factory=dict)
    """(namespace, suite name) -> permissions naming the suite."""
    callers: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """Namespace -> caller (subject with a token) -> roles it holds."""
    holders: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """Namespace -> role -> callers holding it."""
    credentials: dict[str, dict[str, list[Credential]]] = field(default_factory=dict)
    """Namespace -> role -> credential of every subject with a token holding the role."""

    @classmethod
    def of(cls, state: DesiredState) -> StateIndex:
        servers: list[tuple[ResourceKey, MCPServer]] = []
        suites: list[tuple[ResourceKey, MCPSuite]] = []
        workflows: list[tuple[ResourceKey, Workflow]] = []
        declared: list[ToolPermission] = []
        for key, resource in state.resources.items():  # one pass for every kind
            if isinstance(resource, MCPServer):
                servers.append((key, resource))
            elif isinstance(resource, MCPSuite):
                suites.append((key, resource))
            elif isinstance(resource, ToolPermission):
                declared.append(resource)
            elif isinstance(resource, Workflow):
                workflows.append((key, resource))
        members = members_of(suites, servers)
        permissions: dict[tuple[str, str], list[ToolPermission]] = defaultdict(list)
        callers: dict[str, dict[str, set[str]]] = defaultdict(dict)
        credentials: dict[str, dict[str, list[Credential]]] = defaultdict(dict)
        for permission in declared:
            ns = permission.metadata.ns
            for suite in dict.fromkeys(permission.spec.suites):
                permissions[(ns, suite)].append(permission)
            for subject in permission.spec.subjects:
                if subject.token_from is not None:
                    callers[ns].setdefault(subject.name, set()).update(subject.roles)
                    for role in subject.roles:
                        by_role = credentials[ns].setdefault(role, [])
                        by_role.append(credential(permission, subject))
        holders: dict[str, dict[str, set[str]]] = defaultdict(dict)
        for ns, by_caller in callers.items():
            for caller, roles in by_caller.items():
                for role in roles:
                    holders[ns].setdefault(role, set()).add(caller)
        return cls(
            state,
            members,
            needed_servers(workflows, members),
            declared,
            dict(permissions),
            dict(callers),
            dict(holders),
            dict(credentials),
        )

    def wants(self, key: ResourceKey, resource: Resource | None) -> bool:
        """Whether the resource is a server that should run (`core.membership.runs`)."""
        return isinstance(resource, MCPServer) and runs(resource, needed=key in self.needed)

    def permissions_for(self, suite: ResourceKey) -> list[ToolPermission]:
        return self.permissions.get((suite.namespace, suite.name), [])


def credential(permission: ToolPermission, subject: Subject) -> Credential:
    """The credential of a subject with a token (`tokenFrom`), by reference, never value."""
    assert subject.token_from is not None
    return (subject.name, str(permission.key), subject.token_from.describe())
