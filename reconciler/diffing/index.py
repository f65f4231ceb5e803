"""Lookups over one revision, built once per diff so that every per-suite question is cheap."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..core.desired import DesiredState
from ..core.membership import Members, resolved_members, wanted_running_servers
from ..core.models import ResourceKey, Subject, ToolPermission

Credential = tuple[str, str, str]
"""(subject, ToolPermission, token reference) of a subject that logs in with a token."""


@dataclass
class StateIndex:
    """One DesiredState with its suite members, running servers, permissions and callers."""

    state: DesiredState
    members: Members
    """Suite key -> member server -> priority (selectors applied)."""
    wanted: set[ResourceKey]
    """Servers that should run."""
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
        members = resolved_members(state)
        permissions: dict[tuple[str, str], list[ToolPermission]] = defaultdict(list)
        callers: dict[str, dict[str, set[str]]] = defaultdict(dict)
        credentials: dict[str, dict[str, list[Credential]]] = defaultdict(dict)
        for permission in state.permissions:
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
        wanted = wanted_running_servers(state, members=members)
        return cls(
            state,
            members,
            wanted,
            dict(permissions),
            dict(callers),
            dict(holders),
            dict(credentials),
        )

    def permissions_for(self, suite: ResourceKey) -> list[ToolPermission]:
        return self.permissions.get((suite.namespace, suite.name), [])


def credential(permission: ToolPermission, subject: Subject) -> Credential:
    """The credential of a subject with a token (`tokenFrom`), by reference, never value."""
    assert subject.token_from is not None
    return (subject.name, str(permission.key), subject.token_from.describe())
