"""Suites a revision would open to anyone: the guard beside the mass-prune guard.

A suite with no ToolPermission needs no token. A revision that removes a suite's last
ToolPermission therefore opens it at once; unless the suite says `spec.public: true`,
the standalone controller refuses such a revision (`run --allow-open-suites` overrides).
"""

from __future__ import annotations

from .desired import DesiredState
from .models import MCPSuite


def opened_suites(before: DesiredState, after: DesiredState) -> list[str]:
    """Suites that had a ToolPermission in `before`, have none in `after`, and do not say
    `spec.public: true`: applying `after` would open them to anyone without a token."""
    opened: list[str] = []
    for suite in after.suites:
        previous = before.get(MCPSuite, suite.name, suite.metadata.ns)
        if previous is None or suite.spec.public:
            continue
        if before.permissions_for(previous) and not after.permissions_for(suite):
            opened.append(suite.name)
    return sorted(opened)
