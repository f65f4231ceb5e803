"""ToolPermission: which caller may call which tools of which suites."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .base import Name, Resource, ResourceStatus, Strict, ValueSource, reject_inline_secret
from .globs import QualifiedGlob


class Subject(Strict):
    """A caller: authenticated by a bearer token, or named by a role."""

    name: Name
    """Name of the caller (shown in audit logs and diffs)."""
    token_from: ValueSource | None = None
    """Where the caller's bearer token is kept; the token itself is never written here."""
    role: str | None = Field(default=None, min_length=1)
    """A role shared by several callers; callers get it from `roles` of a subject with a token."""
    roles: list[str] = Field(default_factory=list)
    """Roles this caller holds; rules of permissions naming the role apply to it too."""

    @field_validator("token_from", mode="before")
    @classmethod
    def _no_inline_token(cls, value: Any) -> Any:
        return reject_inline_secret(value)

    @model_validator(mode="after")
    def _identity(self) -> Subject:
        if self.token_from is None and self.role is None:
            raise ValueError("a subject needs tokenFrom or role")
        if self.token_from is not None and self.role is not None:
            raise ValueError("a subject has either tokenFrom or role, not both")
        return self


class Rule(Strict):
    """Allow or deny tools, addressed as `<server>.<tool>` globs. Deny wins."""

    action: Literal["allow", "deny"]
    """`allow` or `deny`."""
    tools: list[QualifiedGlob] = Field(min_length=1)
    """Patterns such as `time.*` or `everything.echo`."""


class RateLimit(Strict):
    """Token-bucket limits per subject."""

    requests_per_minute: int = Field(ge=1, le=1000000)
    """Sustained calls per minute per subject."""
    burst: int | None = Field(default=None, ge=1, le=1000000)
    """Calls allowed at once; defaults to requestsPerMinute."""
    per_tool: dict[QualifiedGlob, int] = Field(default_factory=dict)
    """Calls per minute per subject for tools matching each `server.tool` pattern."""


class ToolPermissionSpec(Strict):
    """Desired state of a permission."""

    suites: list[Name] = Field(min_length=1)
    """Suites the permission applies to."""
    subjects: list[Subject] = Field(min_length=1)
    """Callers it grants to."""
    rules: list[Rule] = Field(default_factory=list)
    """Allow/deny rules; nothing is allowed unless a rule allows it."""
    rate_limit: RateLimit | None = None
    """Limits per subject."""


class ToolPermission(Resource):
    """Who may call which tools."""

    kind_name: ClassVar[str] = "ToolPermission"
    plural: ClassVar[str] = "toolpermissions"
    short_names: ClassVar[tuple[str, ...]] = ("mcptp",)

    kind: Literal["ToolPermission"] = "ToolPermission"
    """Always `ToolPermission`."""
    spec: ToolPermissionSpec
    """Desired state."""
    status: ResourceStatus | None = None
    """Observed state (written by the controller)."""
