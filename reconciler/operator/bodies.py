"""Custom resources as the API server sends them, turned into validated models.

`parse_body` keeps what users declare (apiVersion, kind, name, namespace, labels, their own
annotations, spec), validates it with the models, and on failure words every problem
exactly as `mcp-reconciler validate` does, by running the loader on the same document.
Results are cached by content: a status patch or a resync does not validate again.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml
from pydantic import ValidationError

from ..core.errors import Problem
from ..core.models import DEFAULT_NAMESPACE, KINDS, Resource, ResourceKey
from ..loading.loader import load_documents

OPERATOR_ANNOTATIONS: Final = "operator.mcp.reconciler.dev"
"""Prefix of the annotations kopf keeps on our resources (progress, last handled spec)."""
_FOREIGN_ANNOTATIONS: Final = (
    f"{OPERATOR_ANNOTATIONS}/",
    "kubectl.kubernetes.io/",
    "kopf.zalando.org/",
)


@dataclass(frozen=True, slots=True)
class Parsed:
    """One custom resource: its model when valid, else the problems `validate` reports."""

    key: ResourceKey | None
    resource: Resource | None
    problems: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        return self.resource is not None

    @property
    def message(self) -> str:
        """Every problem as `field: message`, joined by `; ` (the resource is implied)."""
        return "; ".join(problem_text(p) for p in self.problems if p.severity == "error")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the operator keeps of one custom resource between events."""

    parsed: Parsed
    uid: str | None
    generation: int | None
    status: Mapping[str, Any]
    deleting: bool = False

    @property
    def key(self) -> ResourceKey | None:
        return self.parsed.key


def problem_text(problem: Problem) -> str:
    """A problem as `validate` prints it, without file, line and resource."""
    return str(Problem(problem.message, field=problem.field, severity=problem.severity))


def declared(body: Mapping[str, Any]) -> dict[str, Any]:
    """What users declare of an object, as they would write it in a file."""
    metadata = body.get("metadata") or {}
    kept: dict[str, Any] = {"name": metadata.get("name")}
    if metadata.get("namespace"):
        kept["namespace"] = metadata["namespace"]
    if metadata.get("labels"):
        kept["labels"] = dict(metadata["labels"])
    annotations = {
        key: value
        for key, value in (metadata.get("annotations") or {}).items()
        if not key.startswith(_FOREIGN_ANNOTATIONS)
    }
    if annotations:
        kept["annotations"] = annotations
    content: dict[str, Any] = {"apiVersion": body.get("apiVersion"), "kind": body.get("kind")}
    content["metadata"] = kept
    if "spec" in body:
        content["spec"] = body["spec"]
    return content


def parse_body(body: Mapping[str, Any]) -> Parsed:
    """Validate one custom resource (cached by its declared content)."""
    content = declared(body)
    return _parse(json.dumps(content, sort_keys=True, separators=(",", ":"), default=str))


def snapshot(body: Mapping[str, Any]) -> Snapshot:
    metadata = body.get("metadata") or {}
    generation = metadata.get("generation")
    return Snapshot(
        parse_body(body),
        uid=metadata.get("uid"),
        generation=generation if isinstance(generation, int) else None,
        status=_plain(body.get("status") or {}),
        deleting=bool(metadata.get("deletionTimestamp")),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@functools.lru_cache(maxsize=16384)
def _parse(content_json: str) -> Parsed:
    content = json.loads(content_json)
    key = _key(content)
    cls = KINDS.get(content.get("kind") or "")
    if cls is not None:
        try:
            resource = cls.model_validate(content, by_alias=True, by_name=False)
        except ValidationError:
            pass
        else:
            return Parsed(resource.key, resource)
    return Parsed(key, None, _loader_problems(content, key))


def _loader_problems(content: dict[str, Any], key: ResourceKey | None) -> tuple[Problem, ...]:
    """The loader's problems for this one document: the same words as `validate`."""
    name = str(key) if key is not None else "object"
    text = yaml.safe_dump(content, sort_keys=False, allow_unicode=True)
    result = load_documents([(name, text)])
    label = str(key) if key is not None else None
    own = [p for p in result.errors if p.resource in (label, None) or key is None]
    return tuple(own or result.errors or [Problem("invalid resource", resource=label)])


def _key(content: Mapping[str, Any]) -> ResourceKey | None:
    kind = content.get("kind")
    metadata = content.get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    return ResourceKey(kind, metadata.get("namespace") or DEFAULT_NAMESPACE, name)
