"""Files generated from the resource models: CRDs, the editors' JSON schema, the reference.

The models in `reconciler.core.models` are the one source of truth; `python -m
reconciler.schemagen` rewrites `crds/`, `schema/mcp-reconciler.schema.json` and
`docs/reference.md`, and `--check` fails when a committed copy is stale.
"""

from __future__ import annotations

from .crds import crd, open_api_schema, render_crd
from .editorschema import editor_schema, render_editor_schema
from .generate import render_all, stale_files, write_all
from .reference import render_reference

__all__ = [
    "crd",
    "editor_schema",
    "open_api_schema",
    "render_all",
    "render_crd",
    "render_editor_schema",
    "render_reference",
    "stale_files",
    "write_all",
]
