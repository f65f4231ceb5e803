"""The one error hierarchy of mcp-reconciler.

    ReconcilerError                 base; `fatal` says whether retrying can help
    ├── InvalidInput (fatal)        the declared resources are wrong: fix the input (Stalled)
    │   └── ValidationFailed        carries every Problem found in one load
    ├── SourceError (transient)     a directory or git source could not be read or fetched
    ├── SecretNotFound (fatal)      a secretKeyRef or env reference does not resolve
    ├── ServerError (transient)     an MCP server failed to start, answer or stay up
    │   ├── SandboxUnavailable (fatal)  a sandboxed server cannot be confined on this machine
    │   └── UpstreamUnauthorized    a remote server refused a freshly issued OAuth token
    ├── ProviderError (transient)   an LLM provider call failed (see `retry_after`)
    ├── TokenRejected               a caller's JWT is not valid (answered with 401, never retried)
    ├── AuthorizationServerError    an OIDC issuer or OAuth token endpoint failed (transient)
    │                               or refused the client (fatal)
    └── StateError (fatal)          the state directory is unusable

Every error has a CamelCase `reason` used verbatim as the reason of the condition it
causes, and never carries a secret value in its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Severity = Literal["error", "warning"]

OAUTH_CLIENT_REJECTED: Final = "OAuthClientRejected"
"""The token endpoint refused the client (invalid_client, unauthorized_client): fatal."""
OAUTH_SCOPE_REJECTED: Final = "OAuthScopeRejected"
"""The token endpoint refused the scopes or audience asked for (invalid_scope): fatal."""
TOKEN_ENDPOINT_UNAVAILABLE: Final = "TokenEndpointUnavailable"
"""The token endpoint cannot be reached, timed out, or answered 5xx/429."""
TOKEN_ENDPOINT_FAILED: Final = "TokenEndpointFailed"
"""The token endpoint answered something that is not a Bearer token."""
UPSTREAM_UNAUTHORIZED: Final = "UpstreamUnauthorized"
"""The remote server answered 401 to a token issued for it a moment before."""
CREDENTIAL_REASONS: Final = frozenset(
    {
        OAUTH_CLIENT_REJECTED,
        OAUTH_SCOPE_REJECTED,
        TOKEN_ENDPOINT_UNAVAILABLE,
        TOKEN_ENDPOINT_FAILED,
        UPSTREAM_UNAUTHORIZED,
        "SecretNotFound",
    }
)
"""Reasons of a server's failure to authenticate to it: they name its BackOff and Stalled
conditions (and events) instead of the generic BackOff and RestartsExhausted."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about the input, printed as `FILE:LINE: Kind/name: field.path: message`."""

    message: str
    file: str | None = None
    line: int | None = None
    resource: str | None = None
    """`Kind/name` of the resource concerned, when known."""
    field: str | None = None
    """Dotted camelCase path inside the resource, e.g. `spec.healthCheck.intervalSeconds`."""
    severity: Severity = "error"

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(f"{self.file}:{self.line}" if self.line is not None else self.file)
        if self.resource:
            parts.append(self.resource)
        if self.field:
            parts.append(self.field)
        prefix = "warning: " if self.severity == "warning" else ""
        return ": ".join([*parts, prefix + self.message])

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "resource": self.resource,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }


class ReconcilerError(Exception):
    """Base of every error raised on purpose."""

    reason: str = "Failed"
    fatal: bool = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class InvalidInput(ReconcilerError):
    reason = "InvalidSpec"
    fatal = True


class ValidationFailed(InvalidInput):
    reason = "ValidationFailed"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = [p for p in problems if p.severity == "error"]
        first = str(self.problems[0]) if self.problems else "invalid input"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first + more)


class SourceError(ReconcilerError):
    reason = "SourceUnavailable"


class SecretNotFound(ReconcilerError):
    reason = "SecretNotFound"
    fatal = True


class ServerError(ReconcilerError):
    reason = "ServerFailed"

    def __init__(
        self, message: str, *, reason: str | None = None, fatal: bool | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        if fatal is not None:
            self.fatal = fatal

    @classmethod
    def caused_by(cls, message: str, cause: ReconcilerError | None) -> ServerError:
        """A ServerError saying `message`, with the reason and fatality of `cause` (a typed
        failure underneath, such as a refused OAuth client), when there is one."""
        if cause is None:
            return cls(message)
        return cls(message, reason=cause.reason, fatal=cause.fatal)


class SandboxUnavailable(ServerError):
    """The server declares `sandbox` but this machine cannot confine it: never run it bare."""

    reason = "SandboxUnavailable"
    fatal = True


class UpstreamUnauthorized(ServerError):
    """A remote server answered 401 to a token fetched for it a moment before: the token
    endpoint issues tokens the server does not accept (audience, scopes, issuer)."""

    reason = UPSTREAM_UNAUTHORIZED


class ProviderError(ReconcilerError):
    reason = "ProviderFailed"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class TokenRejected(ReconcilerError):
    """A caller's token failed verification; the message says why, never the token."""

    reason = "InvalidToken"


class AuthorizationServerError(ReconcilerError):
    """An OIDC issuer (discovery, JWKS) or an OAuth token endpoint could not be used.

    `fatal` when the server refused the client's credentials (fix the input), transient
    when it could not be reached or answered garbage."""

    reason = "AuthorizationServerUnavailable"

    def __init__(self, message: str, *, reason: str | None = None, fatal: bool = False) -> None:
        super().__init__(message, reason=reason)
        self.fatal = fatal


class StateError(ReconcilerError):
    reason = "StateUnavailable"
    fatal = True
