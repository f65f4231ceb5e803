"""What a server offers, and which of its tools are exposed.

`discover` is the one step with I/O: it lists what the server's capabilities announce over
a connection. The rest are pure functions over the results: a tool's schema hash, the
difference between two listings, and the include/exclude/override filter of
`MCPServer.spec.tools`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import InvalidInput
from ..core.hashing import canonical_json, schema_hash
from ..core.models import DiscoveredTool
from ..core.models.server import ToolFilter, ToolOverride
from .connection import UpstreamConnection


@dataclass(frozen=True, slots=True)
class ServerTool:
    """A tool as the server defines it; `raw` is its definition exactly as sent."""

    name: str
    description: str | None
    title: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any] | None
    meta: dict[str, Any] | None
    schema_hash: str
    raw: dict[str, Any]

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> ServerTool:
        input_schema = raw.get("inputSchema") or {}
        output_schema = raw.get("outputSchema")
        return cls(
            name=str(raw["name"]),
            description=_text(raw.get("description")),
            title=_text(raw.get("title")),
            input_schema=input_schema,
            output_schema=output_schema,
            annotations=raw.get("annotations"),
            meta=raw.get("_meta"),
            schema_hash=schema_hash(input_schema, output_schema),
            raw=raw,
        )

    def to_status(self, *, exposed: bool) -> DiscoveredTool:
        """The entry reported in `MCPServer.status.tools`."""
        return DiscoveredTool(
            name=self.name,
            description=self.description,
            schema_hash=self.schema_hash,
            exposed=exposed,
        )


@dataclass(frozen=True, slots=True)
class Discovery:
    """Everything a server offered when it was last listed."""

    protocol_version: str
    server_info: dict[str, Any]
    capabilities: dict[str, Any]
    instructions: str | None
    tools: tuple[ServerTool, ...]
    resources: tuple[dict[str, Any], ...] = ()
    resource_templates: tuple[dict[str, Any], ...] = ()
    prompts: tuple[dict[str, Any], ...] = ()

    def tool(self, name: str) -> ServerTool | None:
        return next((tool for tool in self.tools if tool.name == name), None)


async def discover(connection: UpstreamConnection, *, timeout: float | None = None) -> Discovery:
    """List what the server's capabilities announce (tools, resources, prompts), at once.

    `timeout` bounds each page's request (see `UpstreamConnection.list_tools`).
    """
    offered = connection.server_capabilities
    tools, resources, templates, prompts = await asyncio.gather(
        connection.list_tools(timeout=timeout) if "tools" in offered else _nothing(),
        connection.list_resources(timeout=timeout) if "resources" in offered else _nothing(),
        (
            connection.list_resource_templates(timeout=timeout)
            if "resources" in offered
            else _nothing()
        ),
        connection.list_prompts(timeout=timeout) if "prompts" in offered else _nothing(),
    )
    return Discovery(
        protocol_version=connection.protocol_version,
        server_info=connection.server_info,
        capabilities=offered,
        instructions=connection.instructions,
        tools=tuple(ServerTool.from_raw(raw) for raw in tools),
        resources=tuple(resources),
        resource_templates=tuple(templates),
        prompts=tuple(prompts),
    )


@dataclass(frozen=True, slots=True)
class ToolChanges:
    """How a server's tool list changed between two listings (names, sorted)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    """Tools whose definition a client sees changed: schemas, description, title,
    annotations, anything but `_meta`."""

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def diff_tools(old: Iterable[ServerTool], new: Iterable[ServerTool]) -> ToolChanges:
    """What changed from the `old` listing to the `new` one."""
    before = {tool.name: tool for tool in old}
    after = {tool.name: tool for tool in new}
    return ToolChanges(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(
            sorted(
                name
                for name in before.keys() & after.keys()
                if _visible(before[name]) != _visible(after[name])
            )
        ),
    )


@dataclass(frozen=True, slots=True)
class ExposedTool:
    """A tool the filter lets through, under the name and description it is exposed with."""

    name: str
    server_name: str
    """The server's own name for it: what a forwarded tools/call must use."""
    description: str | None
    description_overridden: bool
    """True when `tools.overrides` set the description (it then wins over enhancement)."""
    tool: ServerTool

    def definition(self) -> dict[str, Any]:
        """The server's definition with the exposed name and description."""
        raw = dict(self.tool.raw, name=self.name)
        if self.description is None:
            raw.pop("description", None)
        else:
            raw["description"] = self.description
        return raw


def apply_filter(
    tools: Iterable[ServerTool],
    include: Sequence[str],
    exclude: Sequence[str],
    overrides: Mapping[str, ToolOverride],
) -> list[ExposedTool]:
    """The tools exposed, in the server's order.

    A tool is exposed when its (server's) name matches an `include` glob and no `exclude`
    glob: exclude wins. `overrides`, keyed by the server's name, rename it or replace its
    description. Raises `InvalidInput` when a rename makes two exposed tools share a name.
    """
    exposed: list[ExposedTool] = []
    owners: dict[str, str] = {}
    tool_filter = ToolFilter(include=list(include), exclude=list(exclude))
    for tool in tools:
        if not tool_filter.exposes(tool.name):
            continue
        override = overrides.get(tool.name, _NO_OVERRIDE)
        name = override.name or tool.name
        overridden = override.description is not None
        clash = owners.get(name)
        if clash is not None:
            field = f"spec.tools.overrides.{tool.name if name != tool.name else clash}.name"
            raise InvalidInput(
                f"tools {clash!r} and {tool.name!r} would both be exposed as {name!r}; "
                f"rename one in {field}"
            )
        owners[name] = tool.name
        exposed.append(
            ExposedTool(
                name=name,
                server_name=tool.name,
                description=override.description if overridden else tool.description,
                description_overridden=overridden,
                tool=tool,
            )
        )
    return exposed


_NO_OVERRIDE = ToolOverride()


async def _nothing() -> list[dict[str, Any]]:
    return []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _visible(tool: ServerTool) -> str:
    return canonical_json({key: value for key, value in tool.raw.items() if key != "_meta"})
