"""The resource models: the single source of truth for schemas, CRDs and docs.

Unlike the rest of the code base, these modules do not use `from __future__ import
annotations`: pydantic evaluates every field's annotation when it creates a model class,
and one written as a string must first be compiled (a fifth of the time taken to create
the classes, paid by every command at start-up). A name used before its class is
defined is written in quotes.
"""

from .base import (
    API_GROUP,
    API_VERSION,
    API_VERSION_NAME,
    DEFAULT_NAMESPACE,
    Condition,
    NamedValue,
    ObjectMeta,
    Resource,
    ResourceKey,
    ResourceStatus,
    SecretKeyRef,
    ValueSource,
    named,
    qualified_name,
    split_qualified,
)
from .permission import (
    OidcIdentity,
    RateLimit,
    Rule,
    Subject,
    ToolPermission,
    ToolPermissionSpec,
)
from .provider import LLMProvider, LLMProviderSpec
from .server import (
    DiscoveredTool,
    MCPServer,
    MCPServerSpec,
    MCPServerStatus,
    OAuth2ClientCredentials,
    RemoteAuth,
)
from .suite import MCPSuite, MCPSuiteSpec, SessionLimits, SuiteMember
from .toollock import AcceptedFinding, LockedParameter, LockedTool, ToolLock, ToolLockSpec
from .workflow import Step, Workflow, WorkflowSpec

KINDS: dict[str, type[Resource]] = {
    cls.kind_name: cls
    for cls in (
        MCPServer,
        MCPSuite,
        ToolPermission,
        LLMProvider,
        Workflow,
        ToolLock,
    )
}
"""Every kind, by its `kind` name."""

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "API_VERSION_NAME",
    "DEFAULT_NAMESPACE",
    "KINDS",
    "AcceptedFinding",
    "Condition",
    "DiscoveredTool",
    "LLMProvider",
    "LLMProviderSpec",
    "LockedParameter",
    "LockedTool",
    "MCPServer",
    "MCPServerSpec",
    "MCPServerStatus",
    "MCPSuite",
    "MCPSuiteSpec",
    "NamedValue",
    "OAuth2ClientCredentials",
    "ObjectMeta",
    "OidcIdentity",
    "RateLimit",
    "RemoteAuth",
    "Resource",
    "ResourceKey",
    "ResourceStatus",
    "Rule",
    "SecretKeyRef",
    "SessionLimits",
    "Step",
    "Subject",
    "SuiteMember",
    "ToolLock",
    "ToolLockSpec",
    "ToolPermission",
    "ToolPermissionSpec",
    "ValueSource",
    "Workflow",
    "WorkflowSpec",
    "named",
    "qualified_name",
    "split_qualified",
]
