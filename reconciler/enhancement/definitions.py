"""The tool definition the gateway serves: enhanced text, with the original kept.

`enhanced_definition` replaces the description, keeps the server's own under
`_meta["dev.mcp-reconciler/enhancement"].originalDescription` together with the metadata
(keywords, categories, use cases, hints) and who wrote it, and fills the MCP `annotations`
hints the server left unset. (Meta keys under `mcp.` or `modelcontextprotocol.` prefixes
are reserved by the protocol, hence the reverse-DNS `dev.mcp-reconciler/` prefix.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .report import ToolOutcome

META_KEY: Final = "dev.mcp-reconciler/enhancement"


def enhanced_definition(tool: Mapping[str, Any], outcome: ToolOutcome | None) -> dict[str, Any]:
    """`tool` as served: unchanged when the outcome has no text to serve."""
    definition = dict(tool)
    if outcome is None or not outcome.served or outcome.enhancement is None:
        return definition
    enhancement = outcome.enhancement
    definition["description"] = enhancement.description
    meta = dict(definition.get("_meta") or {})
    meta[META_KEY] = {
        "originalDescription": tool.get("description"),
        **enhancement.metadata(),
        "source": "pinned" if outcome.state == "pinned" else "generated",
        "provider": outcome.provider,
        "model": outcome.model,
    }
    definition["_meta"] = meta
    if enhancement.hints:
        annotations = dict(definition.get("annotations") or {})
        for name, value in enhancement.hints.items():
            annotations.setdefault(f"{name}Hint", value)
        definition["annotations"] = annotations
    return definition
