"""Render every generated file, write them, or name those that are stale.

Paths are relative to the repository root; the output depends only on the models, so
running the generator twice gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from ..core.models import API_GROUP, KINDS
from .crds import crd_name, render_crd
from .editorschema import render_editor_schema
from .reference import EDITOR_SCHEMA_PATH, render_reference

CRD_DIR = "crds"
REFERENCE_PATH = "docs/reference.md"


def render_all() -> dict[str, str]:
    """Every generated file: relative path -> content."""
    files = {f"{CRD_DIR}/{crd_name(cls)}.yaml": render_crd(cls) for cls in KINDS.values()}
    files[EDITOR_SCHEMA_PATH] = render_editor_schema()
    files[REFERENCE_PATH] = render_reference()
    return files


def _leftover_crds(root: Path, expected: dict[str, str]) -> list[str]:
    """CRD files of this group that no kind generates any more (a kind was removed)."""
    found = sorted((root / CRD_DIR).glob(f"*.{API_GROUP}.yaml"))
    return [
        path.relative_to(root).as_posix()
        for path in found
        if path.relative_to(root).as_posix() not in expected
    ]


def stale_files(root: Path) -> list[str]:
    """Generated files under `root` that are missing, differ, or should not exist."""
    expected = render_all()
    stale = [
        relative
        for relative, content in expected.items()
        if not (root / relative).is_file()
        or (root / relative).read_bytes() != content.encode("utf-8")
    ]
    return sorted(stale + _leftover_crds(root, expected))


def write_all(root: Path) -> list[str]:
    """Write every generated file under `root`; return the paths that changed."""
    expected = render_all()
    changed = []
    for relative, content in expected.items():
        path = root / relative
        data = content.encode("utf-8")
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changed.append(relative)
    for relative in _leftover_crds(root, expected):
        (root / relative).unlink()
        changed.append(relative)
    return sorted(changed)
