"""Suite members and servers wanted running, computed for a whole DesiredState at once.

The same members as `DesiredState.suite_members` (both merge by `desired.merged_members`),
found through a label index so that thousands of suites with selectors over thousands of
servers stay linear. Shared by the planner, the differ and the operator.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from .desired import DesiredState, merged_members
from .models import MCPServer, MCPSuite, ResourceKey, Workflow

Members = dict[ResourceKey, dict[str, int]]
"""Suite key -> member server name -> priority."""


def resolved_members(desired: DesiredState) -> Members:
    """Members of every suite: named ones with their priority, then selector matches (0)."""
    servers: list[tuple[ResourceKey, MCPServer]] = []
    suites: list[tuple[ResourceKey, MCPSuite]] = []
    for key, resource in desired.resources.items():
        if isinstance(resource, MCPServer):
            servers.append((key, resource))
        elif isinstance(resource, MCPSuite):
            suites.append((key, resource))
    return members_of(suites, servers)


def members_of(
    suites: Iterable[tuple[ResourceKey, MCPSuite]], servers: Sequence[tuple[ResourceKey, MCPServer]]
) -> Members:
    """`resolved_members` of a state whose suites and servers are already picked out."""
    by_label: dict[tuple[str, str, str], set[str]] | None = None
    result: Members = {}
    for key, suite in suites:
        selector = suite.spec.selector
        matched: set[str] = set()
        if selector is not None and selector.match_labels:
            if by_label is None:  # built once, and only when some suite selects by label
                by_label = _label_index(servers)
            ns = key[1]
            found = [by_label.get((ns, *label), set()) for label in selector.match_labels.items()]
            matched = set.intersection(*found)
        result[key] = merged_members(suite, matched)
    return result


def _label_index(
    servers: Sequence[tuple[ResourceKey, MCPServer]],
) -> dict[tuple[str, str, str], set[str]]:
    """(namespace, label, value) -> names of the servers carrying that label."""
    by_label: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for (_, ns, name), server in servers:
        for label, value in server.metadata.labels.items():
            by_label[(ns, label, value)].add(name)
    return by_label


def wanted_running_servers(
    desired: DesiredState, *, members: Members | None = None
) -> set[ResourceKey]:
    """Keys of the servers that should run: enabled, and autoStart or needed by a Workflow.

    `members` is `resolved_members(desired)` when the caller has it already.
    """
    if members is None:
        members = resolved_members(desired)
    servers: list[tuple[ResourceKey, MCPServer]] = []
    workflows: list[tuple[ResourceKey, Workflow]] = []
    for key, resource in desired.resources.items():
        if isinstance(resource, MCPServer):
            servers.append((key, resource))
        elif isinstance(resource, Workflow):
            workflows.append((key, resource))
    needed = needed_servers(workflows, members)
    return {key for key, server in servers if runs(server, needed=key in needed)}


def needed_servers(
    workflows: Iterable[tuple[ResourceKey, Workflow]], members: Members
) -> set[ResourceKey]:
    """Keys of the servers an active Workflow needs: the members of its suites."""
    needed: set[ResourceKey] = set()
    for (_, ns, _), workflow in workflows:
        if not workflow.spec.active:
            continue
        for suite_name in workflow.spec.suites:
            suite_key = ResourceKey(MCPSuite.kind_name, ns, suite_name)
            for server_name in members.get(suite_key, {}):
                needed.add(ResourceKey(MCPServer.kind_name, ns, server_name))
    return needed


def runs(server: MCPServer, *, needed: bool) -> bool:
    """Whether the server should run: enabled, and autoStart or `needed` by a Workflow."""
    return server.spec.enabled and (server.spec.auto_start or needed)
