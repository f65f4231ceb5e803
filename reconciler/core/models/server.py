"""MCPServer: one MCP server, local (stdio), remote (HTTP) or, in Kubernetes, an image."""

import posixpath
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from .base import (
    Name,
    NamedValue,
    Resource,
    ResourceStatus,
    Strict,
    ValueSource,
    empty_dict,
    empty_list,
    is_loopback_host,
    reject_inline_secret,
)
from .globs import Glob, glob_match

Transport = Literal["stdio", "streamable-http", "sse"]
EnhancementStyle = Literal["concise", "detailed", "technical"]
SandboxNetwork = Literal["none", "host"]


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path (it must start with /)")
    if ".." in value.split("/"):
        raise ValueError(f"{value!r} contains '..'; write the path it means")
    normal = posixpath.normpath(value)
    if normal == "/":
        raise ValueError("'/' would grant the whole filesystem; name the directories needed")
    return normal


SandboxPath = Annotated[str, Field(min_length=1), AfterValidator(_absolute_path)]
"""An absolute path on the machine the server runs on (in Kubernetes: inside its pod)."""


class HealthCheck(Strict):
    """MCP-level health check: ping (and tools/list when needed)."""

    interval_seconds: float = Field(default=30, gt=0, le=86400)
    """Seconds between checks."""
    timeout_seconds: float = Field(default=10, gt=0, le=3600)
    """A check not answered within this many seconds fails."""
    failure_threshold: int = Field(default=3, ge=1, le=1000)
    """Consecutive failures after which the server is restarted."""


class Backoff(Strict):
    """Capped exponential backoff between restarts."""

    initial_seconds: float = Field(default=1, gt=0, le=3600)
    """Delay before the first restart."""
    max_seconds: float = Field(default=60, gt=0, le=86400)
    """Upper bound of the delay."""
    multiplier: float = Field(default=2, ge=1, le=10)
    """Factor applied to the delay after each consecutive failure."""


class RestartPolicy(Strict):
    """What happens when a server exits or fails its health checks."""

    max_failures: int = Field(default=5, ge=1, le=10000)
    """Consecutive failures after which the server is Stalled until its spec changes."""
    backoff: Backoff = Field(default_factory=Backoff)
    """Delay between restarts."""


class ToolOverride(Strict):
    """Replace a tool's exposed name or description."""

    name: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    """Name to expose instead of the server's own."""
    description: str | None = None
    """Description to expose; wins over enhanced and original text."""


class ToolFilter(Strict):
    """Which of the server's tools are exposed, and how."""

    include: list[Glob] = Field(default_factory=lambda: ["*"])
    """Globs of tool names to expose."""
    exclude: list[Glob] = Field(default_factory=empty_list)
    """Globs of tool names to hide; wins over include."""
    overrides: dict[str, ToolOverride] = Field(default_factory=empty_dict)
    """Per tool (by the server's name for it): exposed name and description."""

    def exposes(self, name: str) -> bool:
        """Whether the tool the server calls `name` is exposed: included, and not excluded."""
        return any(glob_match(p, name) for p in self.include) and not any(
            glob_match(p, name) for p in self.exclude
        )


class Enhancement(Strict):
    """LLM-written descriptions and metadata for this server's tools."""

    provider_ref: Name
    """Name of an LLMProvider."""
    style: EnhancementStyle = "concise"
    """`concise`, `detailed` or `technical`."""
    allow_remote: bool = False
    """Enhance tools of a remote server too (its owner controls its text; off by default)."""


class ResourceList(Strict):
    """Kubernetes resource quantities, e.g. `{cpu: 100m, memory: 128Mi}`."""

    cpu: str | None = None
    """CPU quantity."""
    memory: str | None = None
    """Memory quantity."""


class ResourceRequirements(Strict):
    """Kubernetes container resources."""

    requests: ResourceList | None = None
    """Guaranteed resources."""
    limits: ResourceList | None = None
    """Maximum resources."""


class ProcessLimits(Strict):
    """Operating-system limits for a local (stdio) server process."""

    memory_mb: int | None = Field(default=None, ge=16)
    """Address-space limit in MiB."""
    cpu_seconds: int | None = Field(default=None, ge=1)
    """CPU-time limit in seconds."""
    open_files: int | None = Field(default=None, ge=16)
    """Limit on open file descriptors."""


class SandboxFilesystem(Strict):
    """What a sandboxed server may see of the filesystem, besides system directories and
    its own installation (read-only), its working directory and a private `/tmp`."""

    read_only: list[SandboxPath] = Field(default_factory=empty_list)
    """Absolute paths the server may read."""
    read_write: list[SandboxPath] = Field(default_factory=empty_list)
    """Absolute paths the server may read and write."""


class Sandbox(Strict):
    """Isolation of a stdio server: it sees only what is declared here (bubblewrap on Linux;
    volumes, securityContext and a NetworkPolicy in Kubernetes)."""

    filesystem: SandboxFilesystem = Field(default_factory=SandboxFilesystem)
    """Paths the server may read, or read and write."""
    network: SandboxNetwork = "none"
    """`none`: its own network namespace with loopback only (Kubernetes: egress denied);
    `host`: the network of the machine."""

    @model_validator(mode="after")
    def _paths_once(self) -> Self:
        both = sorted(set(self.filesystem.read_only) & set(self.filesystem.read_write))
        if both:
            raise ValueError(f"{', '.join(both)} listed in both readOnly and readWrite")
        return self


class OAuth2ClientCredentials(Strict):
    """The OAuth 2.0 client-credentials grant: a token fetched from `tokenUrl`, cached, and
    refreshed before it expires; sent to the remote server as `Authorization: Bearer`."""

    token_url: str = Field(pattern=r"^https?://")
    """The authorization server's token endpoint (plain http only on loopback)."""
    client_id: str = Field(min_length=1)
    """The client's id at the authorization server."""
    client_secret: ValueSource
    """Where the client secret is kept; never written here."""
    scopes: list[str] = Field(default_factory=empty_list)
    """Scopes asked for (`scope`, space-separated)."""
    audience: str | None = Field(default=None, min_length=1)
    """Sent as `audience` and `resource` (RFC 8707) when set."""

    @field_validator("client_secret", mode="before")
    @classmethod
    def _no_inline_secret(cls, value: Any) -> Any:
        return reject_inline_secret(value)

    @field_validator("token_url")
    @classmethod
    def _loopback_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError(
                f"tokenUrl {value!r} uses plain http on a non-loopback host; use https://"
            )
        return value


class RemoteAuth(Strict):
    """How the gateway authenticates to a remote server."""

    oauth2: OAuth2ClientCredentials | None = None
    """An OAuth 2.0 client-credentials grant."""


class MCPServerSpec(Strict):
    """Desired state of one MCP server."""

    transport: Transport = "stdio"
    """`stdio` (spawned locally), `streamable-http` or `sse` (connected to `url`)."""
    description: str | None = None
    """What the server is for. Changing it restarts nothing."""
    command: str | None = Field(default=None, min_length=1)
    """Executable of a stdio server."""
    args: list[str] = Field(default_factory=empty_list)
    """Arguments of the command."""
    env: list[NamedValue] = Field(default_factory=empty_list)
    """Environment of the process: only these variables (plus PATH) are passed."""
    working_dir: str | None = None
    """Working directory of the process (relative: from the resource file's directory)."""
    url: str | None = Field(default=None, pattern=r"^https?://")
    """URL of a remote server."""
    headers: list[NamedValue] = Field(default_factory=empty_list)
    """HTTP headers sent to a remote server (secrets through valueFrom)."""
    auth: RemoteAuth | None = None
    """Authentication to a remote server beyond static headers (OAuth 2.0)."""
    image: str | None = Field(default=None, min_length=1)
    """Container image (Kubernetes)."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Port an HTTP server listens on in its container (Kubernetes)."""
    resources: ResourceRequirements | None = None
    """Container resources (Kubernetes)."""
    replicas: int | None = Field(default=None, ge=0, le=1000)
    """Replica count (Kubernetes); left alone when unset, so an autoscaler can own it."""
    limits: ProcessLimits | None = None
    """Process limits of a local server."""
    sandbox: Sandbox | None = None
    """Run a stdio server isolated: only system directories, its installation, the declared
    paths, its working directory and a private `/tmp`; network per `network`. Standalone it
    is never started unsandboxed: without bubblewrap it is Stalled (SandboxUnavailable)."""
    enabled: bool = True
    """False stops the server but keeps the declaration."""
    auto_start: bool = True
    """False: the server runs only while an active Workflow needs it."""
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    """MCP-level health check."""
    restart: RestartPolicy = Field(default_factory=RestartPolicy)
    """Restart with backoff, and when to give up."""
    tools: ToolFilter = Field(default_factory=ToolFilter)
    """Include/exclude globs and per-tool overrides."""
    enhancement: Enhancement | None = None
    """LLM enhancement of tool descriptions."""

    @model_validator(mode="after")
    def _transport_fields(self) -> Self:
        if self.transport == "stdio":
            if self.command is None and self.image is None:
                raise ValueError("transport stdio needs command (or image in Kubernetes)")
            if self.url is not None:
                raise ValueError("url is for streamable-http or sse servers, not stdio")
            if self.auth is not None:
                raise ValueError("auth is for streamable-http or sse servers, not stdio")
        elif self.sandbox is not None and self.image is None:
            raise ValueError(f"sandbox is for stdio servers (or images), not {self.transport}")
        if self.transport != "stdio":
            if self.url is None and self.image is None:
                raise ValueError(f"transport {self.transport} needs url (or image and port)")
            if self.command is not None:
                raise ValueError(f"command is for stdio servers, not {self.transport}")
            if self.image is not None and self.url is None and self.port is None:
                raise ValueError(f"transport {self.transport} with image needs port")
        return self

    @property
    def is_remote(self) -> bool:
        return self.transport != "stdio" and self.image is None


class DiscoveredTool(Strict):
    """A tool as the server reports it, with the hash of its schema."""

    name: str
    """The server's name for the tool."""
    description: str | None = None
    """The server's description."""
    schema_hash: str | None = None
    """SHA-256 over the input schema."""
    exposed: bool = True
    """False when excluded by `tools.include`/`exclude`."""


class MCPServerStatus(ResourceStatus):
    """Observed state of a server."""

    tool_count: int | None = None
    """Number of exposed tools."""
    tools: list[DiscoveredTool] = Field(default_factory=empty_list)
    """Discovered tools."""
    restarts: int | None = None
    """Restarts since the spec last changed."""
    url: str | None = None
    """Where the server is reached."""
    spec_hash: str | None = None
    """Hash of the runtime spec the running instance was started from."""


class MCPServer(Resource):
    """One MCP server."""

    kind_name: ClassVar[str] = "MCPServer"
    plural: ClassVar[str] = "mcpservers"
    short_names: ClassVar[tuple[str, ...]] = ("mcps", "mcpsrv")

    kind: Literal["MCPServer"] = "MCPServer"
    """Always `MCPServer`."""
    spec: MCPServerSpec
    """Desired state."""
    status: MCPServerStatus | None = None
    """Observed state (written by the controller)."""
