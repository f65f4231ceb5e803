"""Suite members and servers wanted running, computed for a whole DesiredState at once.

The same members as `DesiredState.suite_members` (both merge by `desired.merged_members`),
found through a label index so that thousands of suites with selectors over thousands of
servers stay linear. Shared by the planner, the differ and the operator.
"""

from __future__ import annotations

from collections import defaultdict

from .desired import DesiredState, merged_members
from .models import MCPServer, MCPSuite, ResourceKey, Workflow

Members = dict[ResourceKey, dict[str, int]]
"""Suite key -> member server name -> priority."""


def resolved_members(desired: DesiredState) -> Members:
    """Members of every suite: named ones with their priority, then selector matches (0)."""
    by_label: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    suites: list[MCPSuite] = []
    for resource in desired.resources.values():
        if isinstance(resource, MCPServer):
            ns = resource.metadata.ns
            for name, value in resource.metadata.labels.items():
                by_label[(ns, name, value)].add(resource.name)
        elif isinstance(resource, MCPSuite):
            suites.append(resource)
    result: Members = {}
    for suite in suites:
        selector = suite.spec.selector
        matched: set[str] = set()
        if selector is not None and selector.match_labels:
            ns = suite.metadata.ns
            found = [by_label.get((ns, *label), set()) for label in selector.match_labels.items()]
            matched = set.intersection(*found)
        result[suite.key] = merged_members(suite, matched)
    return result


def wanted_running_servers(
    desired: DesiredState, *, members: Members | None = None
) -> set[ResourceKey]:
    """Keys of the servers that should run: enabled, and autoStart or needed by a Workflow.

    `members` is `resolved_members(desired)` when the caller has it already.
    """
    if members is None:
        members = resolved_members(desired)
    needed: set[ResourceKey] = set()
    servers: list[MCPServer] = []
    for resource in desired.resources.values():
        if isinstance(resource, MCPServer):
            servers.append(resource)
        elif isinstance(resource, Workflow) and resource.spec.active:
            ns = resource.metadata.ns
            for suite_name in resource.spec.suites:
                suite_key = ResourceKey(MCPSuite.kind_name, ns, suite_name)
                for server_name in members.get(suite_key, {}):
                    needed.add(ResourceKey(MCPServer.kind_name, ns, server_name))
    return {
        server.key
        for server in servers
        if server.spec.enabled and (server.spec.auto_start or server.key in needed)
    }
