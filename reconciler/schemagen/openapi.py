"""Pydantic's JSON schema turned into a Kubernetes structural OpenAPI v3 schema.

Kubernetes accepts a subset of OpenAPI v3 for a CRD: every node has a `type`; no `$ref`;
`nullable` instead of a `null` branch; `exclusiveMinimum` as a flag beside `minimum`; no
`additionalProperties: false` (unknown fields are pruned instead). A construct that has
no structural equivalent is refused with an error naming where it is, never dropped
silently.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ReconcilerError
from .modelschema import resolve

_KEPT = frozenset(
    {
        "description",
        "type",
        "format",
        "enum",
        "default",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "multipleOf",
    }
)
_DROPPED = frozenset({"title", "examples"})
_STRUCTURE = frozenset(
    {"$ref", "anyOf", "const", "properties", "required", "items", "additionalProperties"}
)
_EXCLUSIVE = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}


def structural(node: dict[str, Any], defs: dict[str, Any], *, path: str = "") -> dict[str, Any]:
    """The structural equivalent of JSON schema `node`, whose `$ref`s point into `defs`."""
    node, nullable = _collapse_any_of(_inline(node, defs, path=path), path=path)
    node = _inline(node, defs, path=path)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _KEPT or key.startswith("x-kubernetes-"):
            out[key] = value
        elif key in _EXCLUSIVE:
            out[_EXCLUSIVE[key]] = value
            out[key] = True
        elif key == "const":
            out["enum"] = [value]
        elif key not in _DROPPED and key not in _STRUCTURE:
            raise _unsupported(key, path)
    if nullable:
        out["nullable"] = True
    if out.get("default", 0) is None:
        del out["default"]
    kind = out.get("type")
    if kind == "object":
        out.update(_object(node, defs, path=path))
    elif kind == "array":
        out["items"] = structural(node.get("items", {}), defs, path=f"{path}[]")
    elif kind is None:
        raise ReconcilerError(
            f"schema at {path or '<root>'} has no type; Kubernetes needs one on every node",
            reason="SchemaError",
        )
    return out


def _object(node: dict[str, Any], defs: dict[str, Any], *, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    properties = node.get("properties")
    extra = node.get("additionalProperties")
    if properties:
        out["properties"] = {
            name: structural(sub, defs, path=f"{path}.{name}") for name, sub in properties.items()
        }
        if node.get("required"):
            out["required"] = list(node["required"])
    if isinstance(extra, dict) and extra:
        if properties:
            raise _unsupported("properties with additionalProperties", path)
        out["additionalProperties"] = structural(extra, defs, path=f"{path}.*")
    elif not properties and extra is not False:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _inline(node: dict[str, Any], defs: dict[str, Any], *, path: str) -> dict[str, Any]:
    """`node` with its `$ref` replaced by the definition; the node's own keys win."""
    seen: list[str] = []
    while "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise _unsupported(f"recursive reference {ref}", path)
        seen.append(ref)
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**resolve(ref, defs), **siblings}
    return node


def _collapse_any_of(node: dict[str, Any], *, path: str) -> tuple[dict[str, Any], bool]:
    """Replace `anyOf` by one branch: `X | None` is X, nullable; same-typed branches merge."""
    if "anyOf" not in node:
        return node, False
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    branches = [branch for branch in node["anyOf"] if branch.get("type") != "null"]
    nullable = len(branches) < len(node["anyOf"])
    if len(branches) == 1:
        return {**branches[0], **rest}, nullable
    types = {branch.get("type") for branch in branches}
    scalar = len(types) == 1 and not types & {None, "object", "array"}
    if not scalar or any(set(branch) - {"type", "enum", "description"} for branch in branches):
        raise _unsupported("anyOf of different shapes", path)
    merged: dict[str, Any] = {"type": types.pop()}
    if all("enum" in branch for branch in branches):
        merged["enum"] = [value for branch in branches for value in branch["enum"]]
    return {**merged, **rest}, nullable


def _unsupported(what: str, path: str) -> ReconcilerError:
    return ReconcilerError(
        f"{what} at {path or '<root>'} has no Kubernetes structural-schema equivalent; "
        "change the model or teach reconciler/schemagen/openapi.py to express it",
        reason="SchemaError",
    )
