"""Which tools to enhance, from the desired state and what the servers reported.

A tool is enhanced when its server declares `spec.enhancement`, the server is enabled, the
tool passes `tools.include`/`exclude`, and its description is not replaced by a
`tools.overrides` entry (an override wins over enhanced text anyway, so asking would be
spent for nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.desired import DesiredState
from ..core.models.globs import glob_match
from .report import ToolToEnhance


def requests_from_desired(
    desired: DesiredState,
    tools: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    servers: Sequence[str] | None = None,
    tool_names: Sequence[str] | None = None,
    qualify: bool = True,
) -> list[ToolToEnhance]:
    """One request per tool to enhance; `tools` is each server's `tools/list` by qualified
    name (`namespace/name` outside the default namespace), and requests name servers so.

    `servers` and `tool_names` narrow the selection (tool names may be globs). With
    `qualify=False` servers are named by their own name, in `tools` and in the requests:
    for one namespace's resources served as if it were the default (the operator).
    """
    requests = []
    for server in sorted(desired.servers, key=lambda s: s.name):
        spec = server.spec
        if spec.enhancement is None or not spec.enabled:
            continue
        qualified = server.key.qualified_name if qualify else server.name
        if servers is not None and server.name not in servers and qualified not in servers:
            continue
        for tool in tools.get(qualified, ()):
            name = tool.get("name")
            if not isinstance(name, str) or not spec.tools.exposes(name):
                continue
            override = spec.tools.overrides.get(name)
            if override is not None and override.description is not None:
                continue
            if tool_names is not None and not any(glob_match(p, name) for p in tool_names):
                continue
            requests.append(
                ToolToEnhance(
                    server=qualified,
                    tool=tool,
                    provider_ref=spec.enhancement.provider_ref,
                    style=spec.enhancement.style,
                    remote=spec.is_remote,
                    allow_remote=spec.enhancement.allow_remote,
                )
            )
    return requests


def providers_of(desired: DesiredState) -> dict[str, Any]:
    """Every LLMProvider spec by name."""
    return {provider.name: provider.spec for provider in desired.providers}
