"""ToolLock: one server's tool surface pinned in git, reviewed like code.

Written by `mcp-reconciler lock`, one per server (`metadata.name` is the server's name, in
the same namespace). A tool whose upstream definition no longer hashes to its entry, or
that has no entry, is drifted: withheld by the gateway under `enforce`, served with a
warning under `warn`. See docs/toollock.md.
"""

from typing import ClassVar, Literal

from pydantic import Field

from .base import Resource, ResourceStatus, Strict, empty_dict, empty_list

LockMode = Literal["enforce", "warn"]

FindingKind = Literal[
    "hidden-characters",
    "instructions-to-model",
    "sensitive-paths",
    "exfiltration",
    "shadowing",
    "oversized",
]
"""The classes of finding `mcp-reconciler scan` reports."""


class LockedParameter(Strict):
    """One parameter of a locked tool, for review and for `diff`; the hash decides."""

    type: str | None = None
    """JSON Schema type (`string`, `integer|null`, ...)."""
    required: bool = False
    """Listed under the input schema's `required`."""


class LockedTool(Strict):
    """The reviewed definition of one tool."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the canonical JSON of the upstream definition (name, title, description,
    inputSchema, outputSchema, annotations); never of enhanced text. The hash decides."""
    title: str | None = None
    """The upstream title, for review."""
    description: str | None = None
    """The upstream description, for review (invisible characters escaped as `\\u200b`);
    ignored when checking."""
    parameters: dict[str, LockedParameter] = Field(default_factory=empty_dict)
    """The input schema's top-level properties, for review and `diff`."""


class AcceptedFinding(Strict):
    """A scan finding a reviewer accepted: the tool is served despite it."""

    tool: str = Field(min_length=1)
    """The server's name for the tool."""
    finding: FindingKind
    """The class of finding accepted."""


class ToolLockSpec(Strict):
    """The locked tools of one server."""

    mode: LockMode = "enforce"
    """`enforce`: drifted and unlocked tools are withheld; `warn`: served, with warnings."""
    tools: dict[str, LockedTool] = Field(default_factory=empty_dict)
    """The server's tools by their upstream name."""
    accepted: list[AcceptedFinding] = Field(default_factory=empty_list)
    """Scan findings a reviewer accepted for this server's tools."""

    def accepts(self, tool: str, finding: str) -> bool:
        return any(a.tool == tool and a.finding == finding for a in self.accepted)


class ToolLock(Resource):
    """The pinned tool definitions of one MCPServer."""

    kind_name: ClassVar[str] = "ToolLock"
    plural: ClassVar[str] = "toollocks"
    short_names: ClassVar[tuple[str, ...]] = ("mcplock",)

    kind: Literal["ToolLock"] = "ToolLock"
    """Always `ToolLock`."""
    spec: ToolLockSpec
    """The reviewed tool definitions."""
    status: ResourceStatus | None = None
    """Observed state (written by the controller)."""
