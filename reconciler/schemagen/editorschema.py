"""The JSON schema editors use to complete and check resource files.

One schema covers every kind: `kind` picks the definition to apply (`if`/`then`). Draft-07,
which every yaml-language-server understands; put this line at the top of a file:

    # yaml-language-server: $schema=<path or URL of schema/mcp-reconciler.schema.json>
"""

from __future__ import annotations

import json
from typing import Any

from ..core.models import API_VERSION, KINDS
from .modelschema import DEFS_PREFIX, kind_schemas, resolve

DRAFT = "http://json-schema.org/draft-07/schema#"
DEFINITIONS_PREFIX = "#/definitions/"


def editor_schema() -> dict[str, Any]:
    """The schema of one YAML document holding a resource of any kind."""
    refs, defs = kind_schemas()
    for ref in refs.values():
        envelope = resolve(ref, defs)
        envelope["required"] = ["kind", *envelope.get("required", [])]
    kinds = list(KINDS)
    schema = {
        "$schema": DRAFT,
        "title": "mcp-reconciler resource",
        "description": (f"A resource of mcp-reconciler ({API_VERSION}): " + ", ".join(kinds) + "."),
        "type": "object",
        "required": ["kind"],
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": f"Always `{API_VERSION}`."},
            "kind": {"enum": kinds, "description": "The kind of resource."},
        },
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": refs[kind]},
            }
            for kind in kinds
        ],
        "definitions": defs,
    }
    converted: dict[str, Any] = _draft7(schema)
    return converted


def _draft7(node: Any) -> Any:
    """Draft-07 spelling: refs into `definitions`, and no keyword beside a `$ref`."""
    if isinstance(node, list):
        return [_draft7(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _draft7(value) for key, value in node.items()}
    ref = out.pop("$ref", None)
    if ref is None:
        return out
    if ref.startswith(DEFS_PREFIX):
        ref = DEFINITIONS_PREFIX + ref[len(DEFS_PREFIX) :]
    if not out:
        return {"$ref": ref}
    return {"allOf": [{"$ref": ref}], **out}


def render_editor_schema() -> str:
    """The editor schema as stable JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(editor_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
