"""Which tools of a server are withheld, and why: a pure function of (lock, definitions, findings).

    judge(server, lock, tools, findings) -> ServerVerdict

- No lock: every tool is served unless it has a high finding (withheld).
- A lock in `enforce` (the default): a tool whose definition hash differs from its entry
  (drifted) or that has no entry (unlocked), or that has a high finding the lock does not
  accept, is withheld. Its other tools are unaffected.
- A lock in `warn`: the same tools are reported, and served.

`judge_state` applies it to every server of a DesiredState with the discovered tools: the
one decision the gateway, the status, the events and the metric share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.desired import DesiredState
from ..core.models import LockedTool, MCPServer, ToolLock
from ..core.models.toollock import ToolLockSpec
from .changes import definition_changes
from .definitions import ToolDict, definition_hash, locked_entry
from .scanner import Finding, OtherTools, name_index, scan_tool

ToolState = Literal["locked", "drifted", "unlocked", "unpinned"]
"""`locked`: matches its entry; `drifted`: differs; `unlocked`: the lock has no entry;
`unpinned`: the server has no lock."""


@dataclass(frozen=True, slots=True)
class ToolVerdict:
    """The decision about one tool."""

    tool: str
    state: ToolState
    current_hash: str
    locked_hash: str | None = None
    changes: tuple[str, ...] = ()
    """What changed against the lock entry, in words."""
    findings: tuple[Finding, ...] = ()
    """High findings the lock does not accept."""
    withheld: bool = False
    scanned: tuple[Finding, ...] = field(default=(), compare=False)
    """Every scan finding of the tool, any severity, accepted ones included (for people
    reading the state; the decision uses `findings`)."""

    @property
    def drifted(self) -> bool:
        return self.state in ("drifted", "unlocked")

    def reason(self) -> str:
        """Why the tool is reported, in one line (empty when it is not)."""
        parts: list[str] = []
        if self.state == "drifted":
            parts.append(
                f"its definition drifted from the lock (sha256 {_short(self.locked_hash)} -> "
                f"{_short(self.current_hash)}): {'; '.join(self.changes) or 'definition changed'}"
            )
        elif self.state == "unlocked":
            parts.append(f"it is not in the lock (sha256 {_short(self.current_hash)})")
        if self.findings:
            kinds = ", ".join(sorted({f.kind for f in self.findings}))
            parts.append(f"the scan found {kinds}: {self.findings[0].excerpt}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class ServerVerdict:
    """The decision about every exposed tool of one server."""

    server: str
    mode: Literal["enforce", "warn"] | None
    """None: the server has no lock."""
    tools: tuple[ToolVerdict, ...] = ()
    missing: tuple[str, ...] = ()
    """Locked tools the server no longer offers."""

    @property
    def withheld(self) -> tuple[str, ...]:
        return tuple(v.tool for v in self.tools if v.withheld)

    @property
    def reported(self) -> tuple[ToolVerdict, ...]:
        """Tools that drifted or have an unaccepted high finding (withheld or not)."""
        return tuple(v for v in self.tools if v.drifted or v.findings)

    def verdict(self, tool: str) -> ToolVerdict | None:
        return next((v for v in self.tools if v.tool == tool), None)

    @property
    def condition(self) -> tuple[bool, str, str] | None:
        """(status, reason, message) of the ToolsLocked condition; None without lock or news."""
        reported = self.reported
        if not reported:
            if self.mode is None:
                return None
            return True, "Locked", f"{len(self.tools)} tools match the lock"
        drift = any(v.drifted for v in reported)
        reason = "ToolDrift" if drift else "ToolFindings"
        withheld = self.withheld
        if withheld:
            message = f"withheld: {', '.join(withheld)}"
        else:
            message = f"served under mode warn: {', '.join(v.tool for v in reported)}"
        return False, reason, f"{message}; {reported[0].tool}: {reported[0].reason()}"


def judge(
    server: str,
    lock: ToolLockSpec | None,
    tools: Sequence[ToolDict],
    findings: Sequence[Finding] = (),
) -> ServerVerdict:
    """The verdict on a server's tools from its lock, their definitions and scan findings."""
    enforce = lock is None or lock.mode == "enforce"
    by_tool: dict[str, list[Finding]] = {}
    scanned: dict[str, list[Finding]] = {}
    for finding in findings:
        scanned.setdefault(finding.tool, []).append(finding)
        if finding.high and not (lock is not None and lock.accepts(finding.tool, finding.kind)):
            by_tool.setdefault(finding.tool, []).append(finding)
    verdicts: list[ToolVerdict] = []
    offered: set[str] = set()
    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            continue
        offered.add(name)
        current = definition_hash(tool)
        entry = lock.tools.get(name) if lock is not None else None
        state: ToolState
        changes: tuple[str, ...] = ()
        if lock is None:
            state = "unpinned"
        elif entry is None:
            state = "unlocked"
        elif entry.sha256 == current:
            state = "locked"
        else:
            state = "drifted"
            changes = tuple(definition_changes(entry, locked_entry(tool))) or (
                "definition changed (output schema, annotations or parameter details)",
            )
        bad = tuple(by_tool.get(name, ()))
        drifted = state in ("drifted", "unlocked")
        verdicts.append(
            ToolVerdict(
                name,
                state,
                current,
                entry.sha256 if entry else None,
                changes,
                bad,
                withheld=enforce and (drifted or bool(bad)),
                scanned=tuple(scanned.get(name, ())),
            )
        )
    missing = tuple(sorted(set(lock.tools) - offered)) if lock is not None else ()
    return ServerVerdict(server, lock.mode if lock else None, tuple(verdicts), missing)


def judge_state(
    desired: DesiredState, tools: Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[tuple[str, str], ServerVerdict]:
    """Verdicts for every declared server with discovered tools, by (namespace, name).

    Only exposed tools (`tools.include`/`exclude`) are judged. Shadowing is looked for
    among the tools of the servers that share a suite with the server.
    """
    exposed: dict[tuple[str, str], list[ToolDict]] = {}
    for server in desired.servers:
        offered = tools.get(server.key.qualified_name)
        if offered:
            exposed[(server.metadata.ns, server.name)] = [
                t for t in offered if isinstance(t.get("name"), str) and _exposes(server, t)
            ]
    neighbours: dict[tuple[str, str], set[str]] = {}
    for suite in desired.suites:
        ns = suite.metadata.ns
        members = [m.server for m in desired.suite_members(suite) if (ns, m.server) in exposed]
        for member in members:
            neighbours.setdefault((ns, member), set()).update(members)
    indices = {
        ns: name_index(
            {
                n: [str(t["name"]) for t in found]
                for (space, n), found in exposed.items()
                if space == ns
            }
        )
        for ns in {ns for ns, _ in exposed}
    }
    verdicts: dict[tuple[str, str], ServerVerdict] = {}
    for (ns, name), offered in exposed.items():
        others = OtherTools(indices[ns], name, neighbours.get((ns, name), ()))
        findings = [f for t in offered for f in scan_tool(name, t, others=others)]
        lock = desired.get(ToolLock, name, ns)
        verdicts[(ns, name)] = judge(name, lock.spec if lock else None, offered, findings)
    return verdicts


def _exposes(server: MCPServer, tool: Mapping[str, Any]) -> bool:
    return server.spec.tools.exposes(str(tool["name"]))


def _short(value: str | None) -> str:
    return (value or "none")[:12]


def lock_of(tools: Sequence[ToolDict]) -> dict[str, LockedTool]:
    """Lock entries for a server's tools, by name, in name order."""
    entries = {str(t["name"]): locked_entry(t) for t in tools if isinstance(t.get("name"), str)}
    return dict(sorted(entries.items()))


__all__ = [
    "ServerVerdict",
    "ToolVerdict",
    "judge",
    "judge_state",
    "lock_of",
]
