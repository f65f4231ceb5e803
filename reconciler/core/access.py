"""Evaluating ToolPermission rules: which subject may call which `server.tool`.

Pure functions shared by the gateway (enforcement), the planner (rules matching no
discovered tool) and the differ (access widened or narrowed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .models import Rule, ToolPermission
from .models.globs import glob_match


def qualified(server: str, tool: str) -> str:
    """The name rules address a tool by: `<server>.<tool>`."""
    return f"{server}.{tool}"


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The allow and deny patterns that apply to one subject on one suite."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> RuleSet:
        allow: list[str] = []
        deny: list[str] = []
        for rule in rules:
            (allow if rule.action == "allow" else deny).extend(rule.tools)
        return cls(tuple(allow), tuple(deny))

    def merged(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.allow + other.allow, self.deny + other.deny)

    def allows(self, server: str, tool: str) -> bool:
        """Deny wins; nothing is allowed unless a pattern allows it."""
        name = qualified(server, tool)
        if any(glob_match(p, name) for p in self.deny):
            return False
        return any(glob_match(p, name) for p in self.allow)


def rules_for(
    permissions: Iterable[ToolPermission], *, suite: str, subject: str, roles: Iterable[str] = ()
) -> RuleSet:
    """Merge the rules of every permission on `suite` naming the subject or one of its roles.

    OIDC subjects are not named here: each has the rules of its own permission only
    (`oidc_rules`), whatever subject elsewhere shares its name."""
    wanted_roles = set(roles)
    merged = RuleSet()
    for permission in permissions:
        if suite not in permission.spec.suites:
            continue
        for candidate in permission.spec.subjects:
            if (candidate.name == subject and candidate.oidc is None) or (
                candidate.role is not None and candidate.role in wanted_roles
            ):
                merged = merged.merged(RuleSet.of(permission.spec.rules))
                break
    return merged


def oidc_rules(
    permission: ToolPermission,
    permissions: Iterable[ToolPermission],
    *,
    suite: str,
    roles: Iterable[str],
) -> RuleSet:
    """The rules of an OIDC subject of `permission`: that permission's, and those of the
    permissions on `suite` naming one of its roles."""
    return RuleSet.of(permission.spec.rules).merged(
        rules_for(permissions, suite=suite, subject="", roles=roles)
    )
