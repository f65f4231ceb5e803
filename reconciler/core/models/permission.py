"""ToolPermission: which caller may call which tools of which suites."""

from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from .base import (
    Name,
    Resource,
    ResourceStatus,
    Strict,
    ValueSource,
    empty_dict,
    empty_list,
    is_loopback_host,
    reject_inline_secret,
)
from .globs import QualifiedGlob


def check_issuer_url(value: str) -> str:
    """An issuer is an https URL without query or fragment; plain http only on loopback."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"issuer {value!r} is not an https:// URL")
    if parts.query or parts.fragment:
        raise ValueError(f"issuer {value!r} must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"issuer {value!r} uses plain http on a non-loopback host; use https:// "
            "(http:// is accepted only for 127.0.0.1, ::1 and localhost)"
        )
    return value


ClaimValue = Annotated[str, Field(min_length=1)]


class OidcIdentity(Strict):
    """Callers holding a JWT from an OpenID Connect provider, matched by its claims."""

    issuer: str = Field(min_length=1)
    """The issuer URL, exactly as in the token's `iss`; its discovery document is read from
    `<issuer>/.well-known/openid-configuration`. https, or http on a loopback address."""
    audience: str | None = Field(default=None, min_length=1)
    """The `aud` the token must carry; default: the suite's public URL
    (`<public-url>/suites/<suite>/mcp`), the resource indicator MCP clients ask for."""
    claims: dict[str, ClaimValue] = Field(default_factory=empty_dict)
    """Claims every token must have: equal to the value, or (list claim such as `groups`)
    containing it. A dotted name reads a nested claim (`realm_access.roles`)."""

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        return check_issuer_url(value)

    @field_validator("claims")
    @classmethod
    def _claim_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name or any(not part for part in name.split(".")):
                raise ValueError(f"claim name {name!r} is empty or has an empty dotted part")
        return value


class Subject(Strict):
    """A caller: authenticated by a bearer token or an OIDC token, or named by a role."""

    name: Name
    """Name of the caller (shown in audit logs and diffs)."""
    token_from: ValueSource | None = None
    """Where the caller's bearer token is kept; the token itself is never written here."""
    oidc: OidcIdentity | None = None
    """Callers presenting a JWT of this OpenID Connect issuer whose claims match."""
    role: str | None = Field(default=None, min_length=1)
    """A role shared by several callers; callers get it from `roles` of a subject with a token."""
    roles: list[str] = Field(default_factory=empty_list)
    """Roles this caller holds; rules of permissions naming the role apply to it too."""

    @field_validator("token_from", mode="before")
    @classmethod
    def _no_inline_token(cls, value: Any) -> Any:
        return reject_inline_secret(value)

    @model_validator(mode="after")
    def _identity(self) -> Self:
        given = [self.token_from is not None, self.oidc is not None, self.role is not None]
        if not any(given):
            raise ValueError("a subject needs tokenFrom, oidc or role")
        if sum(given) > 1:
            raise ValueError("a subject has one of tokenFrom, oidc or role, not several")
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
    per_tool: dict[QualifiedGlob, int] = Field(default_factory=empty_dict)
    """Calls per minute per subject for tools matching each `server.tool` pattern."""


class ToolPermissionSpec(Strict):
    """Desired state of a permission."""

    suites: list[Name] = Field(min_length=1)
    """Suites the permission applies to."""
    subjects: list[Subject] = Field(min_length=1)
    """Callers it grants to."""
    rules: list[Rule] = Field(default_factory=empty_list)
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
