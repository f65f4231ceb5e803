"""The resource models: the single source of truth for schemas, CRDs and docs."""

from __future__ import annotations

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
)
from .permission import RateLimit, Rule, Subject, ToolPermission, ToolPermissionSpec
from .provider import LLMProvider, LLMProviderSpec
from .server import DiscoveredTool, MCPServer, MCPServerSpec, MCPServerStatus
from .suite import MCPSuite, MCPSuiteSpec, SessionLimits, SuiteMember
from .workflow import Step, Workflow, WorkflowSpec

KINDS: dict[str, type[Resource]] = {
    cls.kind_name: cls for cls in (MCPServer, MCPSuite, ToolPermission, LLMProvider, Workflow)
}
"""Every kind, by its `kind` name."""

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "API_VERSION_NAME",
    "DEFAULT_NAMESPACE",
    "KINDS",
    "Condition",
    "DiscoveredTool",
    "LLMProvider",
    "LLMProviderSpec",
    "MCPServer",
    "MCPServerSpec",
    "MCPServerStatus",
    "MCPSuite",
    "MCPSuiteSpec",
    "NamedValue",
    "ObjectMeta",
    "RateLimit",
    "Resource",
    "ResourceKey",
    "ResourceStatus",
    "Rule",
    "SecretKeyRef",
    "SessionLimits",
    "Step",
    "Subject",
    "SuiteMember",
    "ToolPermission",
    "ToolPermissionSpec",
    "ValueSource",
    "Workflow",
    "WorkflowSpec",
]
