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
from ..core.models.base import qualified_name
from ..core.models.globs import glob_match
from ..core.models.provider import LLMProviderSpec
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

    `servers` and `tool_names` narrow the selection (tool names may be globs). A request's
    `provider_ref` is qualified the same way, for `providers_of`: a server's providerRef names
    a provider of its own namespace. With `qualify=False` servers and providers are named by
    their own name: for one namespace's resources served as if it were the default (the
    operator).
    """
    requests = []
    for server in sorted(desired.servers, key=lambda s: s.name):
        spec = server.spec
        if spec.enhancement is None or not spec.enabled:
            continue
        qualified = server.key.qualified_name if qualify else server.name
        provider_ref = spec.enhancement.provider_ref
        if qualify:
            provider_ref = qualified_name(server.metadata.ns, provider_ref)
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
                    provider_ref=provider_ref,
                    style=spec.enhancement.style,
                    remote=spec.is_remote,
                    allow_remote=spec.enhancement.allow_remote,
                )
            )
    return requests


def providers_of(desired: DesiredState, *, qualify: bool = True) -> dict[str, LLMProviderSpec]:
    """Every LLMProvider spec by qualified name (`namespace/name` outside the default
    namespace), as `requests_from_desired` names them: providers of one name in two
    namespaces stay apart. With `qualify=False`, by their own name (one namespace's)."""
    return {
        provider.key.qualified_name if qualify else provider.name: provider.spec
        for provider in desired.providers
    }
