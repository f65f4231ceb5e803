"""Whether a live object still matches its manifest, and the patch that makes it match.

Pure functions over JSON. A live object matches when every field the manifest sets has the
same value there: fields the API server adds (defaults, `status`, `clusterIP`) or other
controllers add (`kubectl rollout restart`'s `restartedAt` annotation, a replica count the
manifest leaves out for an autoscaler) are not drift. Lists compare item by item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

OWNED_MAPS: Final = {("ConfigMap", "data")}
"""(kind, top-level field) of maps the operator owns whole: keys no longer in the manifest
are removed from the live object."""


def drifted_paths(desired: Any, live: Any, path: str = "") -> list[str]:
    """Dotted paths where `live` differs from what `desired` sets."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return [path or "."]
        found: list[str] = []
        for key, value in desired.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in live:
                if value not in (None, {}, []):
                    found.append(where)
                continue
            found.extend(drifted_paths(value, live[key], where))
        return found
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [path or "."]
        found = []
        for index, (want, have) in enumerate(zip(desired, live, strict=True)):
            found.extend(drifted_paths(want, have, f"{path}.{index}"))
        return found
    return [] if desired == live or _same_number(desired, live) else [path or "."]


def _same_number(a: Any, b: Any) -> bool:
    return (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and a == b
    )


def object_drift(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Drifted paths of an object: its labels, annotations, owners and content."""
    paths: list[str] = []
    want_meta = desired.get("metadata") or {}
    have_meta = live.get("metadata") or {}
    for key in ("labels", "annotations", "ownerReferences"):
        if key in want_meta:
            paths.extend(drifted_paths(want_meta[key], have_meta.get(key), f"metadata.{key}"))
    for key, value in desired.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        paths.extend(drifted_paths(value, live.get(key), key))
        if (desired.get("kind"), key) in OWNED_MAPS and isinstance(live.get(key), Mapping):
            extra = set(live[key]) - set(value or {})
            paths.extend(f"{key}.{name}" for name in sorted(extra))
    return paths


def merge_patch(desired: Mapping[str, Any], live: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch that brings `live` to `desired` (extra owned keys set to null)."""
    patch: dict[str, Any] = {"metadata": {}}
    for key in ("labels", "annotations", "ownerReferences"):
        if key in desired.get("metadata", {}):
            patch["metadata"][key] = desired["metadata"][key]
    for key, value in desired.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        patch[key] = value
        if (desired.get("kind"), key) in OWNED_MAPS and isinstance(live.get(key), Mapping):
            removed = {name: None for name in live[key] if name not in (value or {})}
            patch[key] = {**removed, **(value or {})}
    return patch
