"""Content hashes: one definition of canonical JSON and of a tool's schema hash.

Used by the planner (spec hashes), discovery and the store (tool schema hashes) and the
enhancement cache, so the same tool hashes the same everywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: object) -> str:
    """SHA-256 (hex) of a JSON-able value, independent of key order."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def schema_hash(input_schema: Any, output_schema: Any) -> str:
    """SHA-256 (hex) over `[inputSchema, outputSchema]`: what identifies a tool's schema."""
    return digest([input_schema, output_schema])


def tool_schema_hash(tool: Mapping[str, Any]) -> str:
    """`schema_hash` of a tool definition as `tools/list` gives it."""
    return schema_hash(tool.get("inputSchema"), tool.get("outputSchema"))
