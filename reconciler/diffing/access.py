"""Access widened or narrowed, per subject and suite, between two revisions.

For every suite and every subject of its permissions, the merged RuleSet
(`reconciler.core.access.rules_for`) is computed before and after. An allow pattern added or a
deny pattern removed widens access; an allow removed or a deny added narrows it. A suite
with no ToolPermission is open to anyone without a token: a suite that loses its last
permission is reported as a critical widening, one that gains its first as now requiring a
token. Rate-limit changes are reported per permission.

Subjects are callers (subjects with `tokenFrom`), whose rules include those of the roles
they hold; a role no caller holds is reported as `role:<name>`. An OIDC subject is a caller
with the rules of its own permission (labelled `<name>@<permission>` when its name is taken
on the suite, as the gateway keys it). Who an OIDC subject admits is an access change too
(`identity_changes`): a subject added or removed, its issuer or audience changed, a claim
dropped (more tokens match: widened) or added (fewer match: narrowed).

Every credential that logs in on a suite (a `tokenFrom` of a permission applying to the
suite, or of a subject holding a role such a permission names) is compared too, by its
reference (never a value): a token added to or removed from a suite is one line each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..core.access import RuleSet, oidc_rules, qualified, rules_for
from ..core.desired import DesiredState
from ..core.models import (
    MCPServer,
    MCPSuite,
    OidcIdentity,
    RateLimit,
    ResourceKey,
    ToolPermission,
)
from ..core.models.globs import glob_match
from .index import Credential, StateIndex, credential
from .model import AccessChange, AccessKind, Direction, suite_label

ROLE_PREFIX = "role:"


@dataclass
class _SuiteAccess:
    """Who may call what on one suite in one revision."""

    declared: bool
    permissions: list[ToolPermission] = field(default_factory=list)
    rules: dict[str, RuleSet] = field(default_factory=dict)
    """Subject label -> merged rules, for every subject the permissions name."""
    tools: frozenset[str] = frozenset()
    """`server.tool` the suite serves (when discovered tools are known)."""
    credentials: frozenset[Credential] = frozenset()
    """(subject, ToolPermission, token reference) of every credential logging in here."""

    @property
    def open(self) -> bool:
        return self.declared and not self.permissions

    def callable(self, label: str | None) -> frozenset[str]:
        """Served tools the subject (None: anyone, on an open suite) may call."""
        if self.open:
            return self.tools
        rules = self.rules.get(label or "")
        if rules is None:
            return frozenset()
        return frozenset(t for t in self.tools if rules.allows(*t.split(".", 1)))


def _suite_access(
    index: StateIndex, key: ResourceKey, tools: Mapping[str, Sequence[str]] | None
) -> _SuiteAccess:
    suite = index.state.get(MCPSuite, key.name, key.namespace)
    if suite is None:
        return _SuiteAccess(declared=False)
    permissions = index.permissions_for(key)
    callers = index.callers.get(key.namespace, {})
    holders = index.holders.get(key.namespace, {})
    labels: dict[str, None] = {}
    oidc = _oidc_labels(permissions)
    for permission in permissions:
        for subject in permission.spec.subjects:
            if subject.oidc is not None:
                continue
            if subject.role is None:
                labels[subject.name] = None
            elif subject.role in holders:
                labels.update((caller, None) for caller in sorted(holders[subject.role]))
            else:
                labels[ROLE_PREFIX + subject.role] = None
    rules: dict[str, RuleSet] = {}
    for label in labels:
        if label.startswith(ROLE_PREFIX):
            rules[label] = _role_rules(permissions, suite.name, label[len(ROLE_PREFIX) :])
        else:
            roles = callers.get(label, set())
            rules[label] = rules_for(permissions, suite=suite.name, subject=label, roles=roles)
    for label, (permission, subject_roles) in oidc.items():
        rules[label] = oidc_rules(permission, permissions, suite=suite.name, roles=subject_roles)
    served: frozenset[str] = frozenset()
    if tools is not None:
        served = frozenset(_served(index, key, tools))
    return _SuiteAccess(True, permissions, rules, served, _credentials(index, key, permissions))


def _credentials(
    index: StateIndex, key: ResourceKey, permissions: list[ToolPermission]
) -> frozenset[Credential]:
    """The credentials that log in on the suite (the gateway's rule, `gateway/config.py`):
    those of the permissions naming it, and those holding a role these permissions name."""
    found = {
        credential(permission, subject)
        for permission in permissions
        for subject in permission.spec.subjects
        if subject.token_from is not None
    }
    by_role = index.credentials.get(key.namespace, {})
    for role in {s.role for p in permissions for s in p.spec.subjects if s.role is not None}:
        found.update(by_role.get(role, ()))
    return frozenset(found)


def _oidc_labels(
    permissions: list[ToolPermission],
) -> dict[str, tuple[ToolPermission, list[str]]]:
    """OIDC subjects on a suite by label: the name, or `<name>@<permission>` when the name
    is declared more than once (as the gateway keys their access)."""
    names = [s.name for p in permissions for s in p.spec.subjects]
    labels: dict[str, tuple[ToolPermission, list[str]]] = {}
    for permission in permissions:
        for subject in permission.spec.subjects:
            if subject.oidc is not None:
                label = subject.name
                if names.count(label) > 1:
                    label = f"{subject.name}@{permission.name}"
                labels[label] = (permission, subject.roles)
    return labels


def _role_rules(permissions: Iterable[ToolPermission], suite: str, role: str) -> RuleSet:
    merged = RuleSet()
    for permission in permissions:
        if suite in permission.spec.suites and any(
            s.role == role for s in permission.spec.subjects
        ):
            merged = merged.merged(RuleSet.of(permission.spec.rules))
    return merged


def _served(
    index: StateIndex, key: ResourceKey, tools: Mapping[str, Sequence[str]]
) -> Iterable[str]:
    for name in index.members.get(key, {}):
        server = index.state.get(MCPServer, name, key.namespace)
        if server is None:
            continue
        spec = server.spec.tools
        for tool in tools.get(server.key.qualified_name, ()):
            if any(glob_match(p, tool) for p in spec.include) and not any(
                glob_match(p, tool) for p in spec.exclude
            ):
                yield qualified(name, tool)


def access_changes(
    old: DesiredState,
    new: DesiredState,
    *,
    tools: Mapping[str, Sequence[str]] | None = None,
) -> list[AccessChange]:
    """Every widening and narrowing of access between two revisions, suite by suite."""
    return index_access_changes(StateIndex.of(old), StateIndex.of(new), tools=tools)


def index_access_changes(
    old: StateIndex, new: StateIndex, *, tools: Mapping[str, Sequence[str]] | None = None
) -> list[AccessChange]:
    """access_changes over prebuilt indexes."""
    changes: list[AccessChange] = []
    same_namespace: dict[str, bool] = {}
    for key in sorted(set(old.members) | set(new.members)):
        namespace = key[1]
        if namespace not in same_namespace:
            same_namespace[namespace] = _same_roles(old, new, namespace)
        if same_namespace[namespace] and _same_suite_access(old, new, key, tools):
            continue
        before = _suite_access(old, key, tools)
        after = _suite_access(new, key, tools)
        changes.extend(_suite_changes(key, before, after))
    changes.extend(_rate_limit_changes(old.state, new.state))
    changes.extend(_identity_changes(old.declared_permissions, new.declared_permissions))
    return changes


def _same_roles(old: StateIndex, new: StateIndex, namespace: str) -> bool:
    """Whether the namespace's callers hold the same roles with the same credentials."""
    return (
        old.callers.get(namespace) == new.callers.get(namespace)
        and old.holders.get(namespace) == new.holders.get(namespace)
        and old.credentials.get(namespace) == new.credentials.get(namespace)
    )


def _same_suite_access(
    old: StateIndex, new: StateIndex, key: ResourceKey, tools: Mapping[str, Sequence[str]] | None
) -> bool:
    """Whether everything `_suite_access` reads of a suite is the same on both sides (the
    namespace's roles aside, see `_same_roles`): then nothing about it changes.

    The suite is declared on both sides, with the same permissions (most often the very
    same objects) and, when tools are known, the same members declared the same way.
    """
    members = new.members.get(key)
    if members is None or key not in old.members:
        return False
    if old.permissions_for(key) != new.permissions_for(key):
        return False
    if tools is None:
        return True
    if old.members[key] != members:
        return False
    before, after = old.state.resources, new.state.resources
    for name in members:
        server = ResourceKey(MCPServer.kind_name, key[1], name)
        if before.get(server) != after.get(server):
            return False
    return True


def _oidc_subjects(
    permissions: Iterable[ToolPermission],
) -> dict[tuple[ResourceKey, str], OidcIdentity]:
    return {
        (permission.key, subject.name): subject.oidc
        for permission in permissions
        for subject in permission.spec.subjects
        if subject.oidc is not None
    }


def _admits(identity: OidcIdentity) -> str:
    who = f"tokens of {identity.issuer}"
    if identity.audience:
        who += f" for audience {identity.audience}"
    if identity.claims:
        who += " with " + ", ".join(f"{k}={v}" for k, v in sorted(identity.claims.items()))
    return who


def identity_changes(old: DesiredState, new: DesiredState) -> list[AccessChange]:
    """Which tokens each OIDC subject admits, before and after, per permission."""
    return _identity_changes(old.permissions, new.permissions)


def _identity_changes(
    old: Iterable[ToolPermission], new: Iterable[ToolPermission]
) -> list[AccessChange]:
    before, after = _oidc_subjects(old), _oidc_subjects(new)
    changes: list[AccessChange] = []
    for key in sorted(set(before) | set(after)):
        permission, name = key
        where = f"(ToolPermission {permission.name})"
        for direction, kind, text in _identity_moves(name, before.get(key), after.get(key)):
            changes.append(
                AccessChange(
                    direction, kind, f"{text} {where}", subject=name, permission=permission
                )
            )
    return changes


def _identity_moves(
    name: str, was: OidcIdentity | None, now: OidcIdentity | None
) -> list[tuple[Direction, AccessKind, str]]:
    if was is None and now is not None:
        return [("widened", "identity-added", f"{name} now admits {_admits(now)}")]
    if now is None and was is not None:
        return [("narrowed", "identity-removed", f"{name} no longer admits {_admits(was)}")]
    if was is None or now is None or was == now:
        return []
    moves: list[tuple[Direction, AccessKind, str]] = []
    if was.issuer != now.issuer:
        moves.append(
            ("changed", "identity-changed", f"{name}: issuer {was.issuer} -> {now.issuer}")
        )
    if was.audience != now.audience:
        old_aud, new_aud = was.audience or "(the suite URL)", now.audience or "(the suite URL)"
        moves.append(("changed", "identity-changed", f"{name}: audience {old_aud} -> {new_aud}"))
    dropped = {k: v for k, v in was.claims.items() if k not in now.claims}
    added = {k: v for k, v in now.claims.items() if k not in was.claims}
    if dropped:
        text = ", ".join(f"{k}={v}" for k, v in sorted(dropped.items()))
        moves.append(
            (
                "widened",
                "identity-changed",
                f"{name} no longer requires {text}: more tokens are admitted",
            )
        )
    if added:
        text = ", ".join(f"{k}={v}" for k, v in sorted(added.items()))
        moves.append(
            (
                "narrowed",
                "identity-changed",
                f"{name} now also requires {text}: fewer tokens are admitted",
            )
        )
    for claim in sorted(was.claims.keys() & now.claims.keys()):
        if was.claims[claim] != now.claims[claim]:
            moves.append(
                (
                    "changed",
                    "identity-changed",
                    f"{name}: claim {claim} {was.claims[claim]} -> {now.claims[claim]}: "
                    "other tokens are admitted",
                )
            )
    return moves


def _suite_changes(
    key: ResourceKey, before: _SuiteAccess, after: _SuiteAccess
) -> list[AccessChange]:
    changes = _rule_changes(key, before, after)
    if before.declared and after.declared and not before.open and not after.open:
        changes.extend(_credential_changes(key, before, after))
    return changes


def _rule_changes(
    key: ResourceKey, before: _SuiteAccess, after: _SuiteAccess
) -> list[AccessChange]:
    suite = suite_label(key)
    if after.open and not before.open:
        cause = (
            f"new suite {suite} has no ToolPermission"
            if not before.declared
            else f"suite {suite} lost its last ToolPermission"
        )
        return [
            AccessChange(
                "widened",
                "suite-opened",
                f"{cause}: anyone can call every tool on it without a token",
                suite=key,
                tools=tuple(sorted(after.tools)),
                critical=True,
            )
        ]
    if before.open and not after.open:
        if not after.declared:
            message = f"suite {suite} is removed (it was open to anyone)"
        else:
            subjects = ", ".join(sorted(after.rules)) or "nobody"
            message = (
                f"suite {suite} now requires a token (it was open to anyone); callers: {subjects}"
            )
        gone = before.tools - after.callable(None) if after.declared else before.tools
        return [
            AccessChange("narrowed", "suite-closed", message, suite=key, tools=tuple(sorted(gone)))
        ]
    if before.open and after.open:
        return _tool_changes(key, None, before.tools, after.tools)
    if before.declared and not after.declared:
        if not before.rules:
            return []
        subjects = ", ".join(sorted(before.rules))
        message = f"suite {suite} is removed: {subjects} lose access to it"
        return [AccessChange("narrowed", "subject-removed", message, suite=key)]
    changes: list[AccessChange] = []
    for label in sorted(set(before.rules) | set(after.rules)):
        changes.extend(_subject_changes(key, label, before, after))
    return changes


def _credential_changes(
    key: ResourceKey, before: _SuiteAccess, after: _SuiteAccess
) -> list[AccessChange]:
    suite = suite_label(key)
    changes: list[AccessChange] = []
    for subject, permission, source in sorted(after.credentials - before.credentials):
        message = (
            f"{subject} can log in to suite {suite} with the token from {source} ({permission})"
        )
        changes.append(
            AccessChange("widened", "credential-added", message, suite=key, subject=subject)
        )
    for subject, permission, source in sorted(before.credentials - after.credentials):
        message = (
            f"{subject} can no longer log in to suite {suite} with the token from {source} "
            f"({permission})"
        )
        changes.append(
            AccessChange("narrowed", "credential-removed", message, suite=key, subject=subject)
        )
    return changes


def _subject_changes(
    key: ResourceKey, label: str, before: _SuiteAccess, after: _SuiteAccess
) -> list[AccessChange]:
    suite = suite_label(key)
    old, new = before.rules.get(label), after.rules.get(label)
    changes: list[AccessChange] = []

    def add(direction: Direction, kind: AccessKind, message: str, patterns: Sequence[str]) -> None:
        changes.append(
            AccessChange(
                direction, kind, message, suite=key, subject=label, patterns=tuple(patterns)
            )
        )

    if old is None and new is not None:
        grant = f"may call {_list(new.allow)}" if new.allow else "may call nothing yet"
        if new.deny:
            grant += f" except {_list(new.deny)}"
        add(
            "widened", "subject-added", f"{label} gains access to suite {suite}: {grant}", new.allow
        )
    elif new is None and old is not None:
        had = f" (could call {_list(old.allow)})" if old.allow else ""
        add("narrowed", "subject-removed", f"{label} loses access to suite {suite}{had}", old.allow)
    elif old is not None and new is not None:
        moves: list[tuple[Direction, AccessKind, list[str], str]] = [
            ("widened", "allow-added", _minus(new.allow, old.allow), "may now call"),
            ("narrowed", "allow-removed", _minus(old.allow, new.allow), "may no longer call"),
            ("narrowed", "deny-added", _minus(new.deny, old.deny), "is now denied"),
            ("widened", "deny-removed", _minus(old.deny, new.deny), "is no longer denied"),
        ]
        for direction, kind, patterns, verb in moves:
            if patterns:
                add(direction, kind, f"{label} {verb} {_list(patterns)} on suite {suite}", patterns)
    if before.tools or after.tools:
        changes.extend(_tool_changes(key, label, before.callable(label), after.callable(label)))
    return changes


def _tool_changes(
    key: ResourceKey, label: str | None, before: frozenset[str], after: frozenset[str]
) -> list[AccessChange]:
    who = label or "anyone"
    suite = suite_label(key)
    changes: list[AccessChange] = []
    if gained := sorted(after - before):
        message = f"{who} can now call {_list(gained)} on suite {suite}"
        changes.append(
            AccessChange(
                "widened", "tools-callable", message, suite=key, subject=label, tools=tuple(gained)
            )
        )
    if lost := sorted(before - after):
        message = f"{who} can no longer call {_list(lost)} on suite {suite}"
        changes.append(
            AccessChange(
                "narrowed",
                "tools-not-callable",
                message,
                suite=key,
                subject=label,
                tools=tuple(lost),
            )
        )
    return changes


def _rate_limit_changes(old: DesiredState, new: DesiredState) -> list[AccessChange]:
    changed: list[tuple[ResourceKey, ToolPermission, ToolPermission]] = []
    for key, permission in new.resources.items():
        if isinstance(permission, ToolPermission):
            previous = old.resources.get(key)
            if previous is permission or not isinstance(previous, ToolPermission):
                continue
            if previous.spec.rate_limit != permission.spec.rate_limit:
                changed.append((key, previous, permission))
    changed.sort(key=lambda item: item[0])
    changes: list[AccessChange] = []
    for _, previous, permission in changed:
        before, after = previous.spec.rate_limit, permission.spec.rate_limit
        direction, text = _rate_limit_text(before, after)
        subjects = ", ".join(s.name for s in permission.spec.subjects)
        suites = ", ".join(permission.spec.suites)
        changes.append(
            AccessChange(
                direction,
                "rate-limit",
                f"rate limit of {subjects} on suite {suites}: {text}",
                permission=permission.key,
                subject=subjects,
            )
        )
    return changes


def _rate_limit_text(before: RateLimit | None, after: RateLimit | None) -> tuple[Direction, str]:
    if before is None:
        assert after is not None
        return "narrowed", f"now limited to {_rate(after)}"
    if after is None:
        return "widened", f"no longer limited (was {_rate(before)})"
    text = f"{_rate(before)} -> {_rate(after)}"
    old = (before.requests_per_minute, before.burst or before.requests_per_minute)
    new = (after.requests_per_minute, after.burst or after.requests_per_minute)
    if before.per_tool == after.per_tool:
        if new[0] >= old[0] and new[1] >= old[1]:
            return "widened", text
        if new[0] <= old[0] and new[1] <= old[1]:
            return "narrowed", text
    return "changed", text


def _rate(limit: RateLimit) -> str:
    text = f"{limit.requests_per_minute} requests/minute"
    if limit.burst is not None:
        text += f" (burst {limit.burst})"
    if limit.per_tool:
        text += ", per tool " + ", ".join(
            f"{p}: {n}/min" for p, n in sorted(limit.per_tool.items())
        )
    return text


def _minus(items: Sequence[str], other: Sequence[str]) -> list[str]:
    seen = set(other)
    return [item for item in dict.fromkeys(items) if item not in seen]


def _list(items: Iterable[str]) -> str:
    return ", ".join(items)
