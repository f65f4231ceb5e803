"""MCPSuite: a group of servers served by the gateway as one MCP endpoint."""

from typing import ClassVar, Literal

from pydantic import Field

from .base import Name, Resource, ResourceStatus, Strict, empty_dict, empty_list

ConflictResolution = Literal["prefix", "priority"]
DiscoveryMode = Literal["all", "search"]


class SuiteMember(Strict):
    """A server of the suite."""

    name: Name
    """Name of an MCPServer in the same namespace."""
    priority: int = Field(default=0, ge=-1000000, le=1000000)
    """With `conflictResolution: priority`, the higher priority wins a tool-name clash."""


class LabelSelector(Strict):
    """Select servers by their labels."""

    match_labels: dict[str, str] = Field(default_factory=empty_dict)
    """Every label here must be present with this value."""

    def matches(self, labels: dict[str, str]) -> bool:
        return bool(self.match_labels) and all(
            labels.get(key) == value for key, value in self.match_labels.items()
        )


class DiscoveryEmbeddings(Strict):
    """Embeddings fused with the lexical ranking of `find_tools`."""

    provider_ref: Name
    """An LLMProvider that serves embeddings: openai, azure-openai, openai-compatible or
    ollama, in the same namespace."""
    model: str = Field(min_length=1, max_length=200)
    """The embedding model (deployment name for azure-openai), e.g. text-embedding-3-small."""


class Discovery(Strict):
    """How clients find the suite's tools."""

    mode: DiscoveryMode = "all"
    """`all`: `tools/list` holds every permitted tool; `search`: it holds `find_tools` and
    `call_tool`, and the tools `find_tools` returns join the session's list."""
    max_results: int = Field(default=5, ge=1, le=50)
    """Most tools one `find_tools` call returns (a caller may ask for fewer)."""
    embeddings: DiscoveryEmbeddings | None = None
    """Rank by meaning too: tool and query embeddings, cached by content hash, fused with
    the lexical ranking. Without it, ranking is lexical only (no network)."""


class SessionLimits(Strict):
    """How many client sessions the gateway keeps for a suite, and how fast they may open.

    A caller is the subject a bearer token authenticates, or, on a suite without
    ToolPermissions, the client's address. Under pressure the caller's (or the busiest
    caller's) least recently active session that has no open stream and no call in
    flight is ended to make room; when none can be, `initialize` is answered 503.
    """

    max_sessions: int = Field(default=2000, ge=1, le=1000000)
    """Sessions open at once on the suite, over every caller."""
    max_sessions_per_caller: int = Field(default=64, ge=1, le=1000000)
    """Sessions open at once on the suite for one caller."""
    initialize_per_minute: int = Field(default=120, ge=1, le=1000000)
    """`initialize` requests (new sessions) one caller may send per minute, with bursts
    of the same number; past it the answer is 429 with `Retry-After`."""
    idle_seconds: int = Field(default=3600, ge=10, le=604800)
    """A session with no request, no open stream and no call in flight for this long ends."""


class MCPSuiteSpec(Strict):
    """Desired state of a suite."""

    description: str | None = None
    """What the suite is for; shown to clients as the endpoint's instructions."""
    servers: list[SuiteMember] = Field(default_factory=empty_list)
    """Servers named explicitly."""
    selector: LabelSelector | None = None
    """Servers selected by label, in addition to `servers` (priority 0)."""
    conflict_resolution: ConflictResolution = "prefix"
    """`prefix`: tools as `<server>_<tool>`; `priority`: bare names, higher priority wins."""
    discovery: Discovery = Field(default_factory=Discovery)
    """`search` serves a large suite through a search tool instead of every definition."""
    public: bool = False
    """The suite is meant to be served without a token when no ToolPermission applies to
    it. Without it, a revision that removes the last ToolPermission of a suite that had
    one (turning it open to anyone who can reach the gateway) is refused, unless the
    controller runs with `--allow-open-suites`."""
    sessions: SessionLimits = Field(default_factory=SessionLimits)
    """Limits on the suite's client sessions."""


class MCPSuiteStatus(ResourceStatus):
    """Observed state of a suite."""

    servers: list[str] = Field(default_factory=empty_list)
    """Member servers after selectors were applied."""
    tool_count: int | None = None
    """Tools served on the endpoint."""
    endpoint: str | None = None
    """Gateway URL of the suite."""


class MCPSuite(Resource):
    """A group of servers served as one MCP endpoint."""

    kind_name: ClassVar[str] = "MCPSuite"
    plural: ClassVar[str] = "mcpsuites"
    short_names: ClassVar[tuple[str, ...]] = ("mcpsuite",)

    kind: Literal["MCPSuite"] = "MCPSuite"
    """Always `MCPSuite`."""
    spec: MCPSuiteSpec
    """Desired state."""
    status: MCPSuiteStatus | None = None
    """Observed state (written by the controller)."""
