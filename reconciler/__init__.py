"""mcp-reconciler: GitOps for MCP servers."""

from __future__ import annotations

__version__ = "0.1.0"
