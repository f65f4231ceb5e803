"""What changed between two declarations of a resource: hashes and changed field paths.

Shared by the planner (which actions to take) and the differ (what a pull request
changes), so both agree on what "changed" and "needs a restart" mean. Pure functions over
the pydantic models; nothing here resolves a secret.

Hashes are taken over the declared content with defaults left out, so writing a default
explicitly (`enabled: true`) changes nothing, and a new optional field added to the models
in a later release does not restart every server on upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .hashing import digest
from .models import MCPServer, Resource, ValueSource

RUNTIME_FIELDS: Final = (
    "transport",
    "command",
    "args",
    "env",
    "workingDir",
    "url",
    "headers",
    "auth",
    "image",
    "port",
    "resources",
    "limits",
    "sandbox",
)
"""`spec` fields of an MCPServer whose change forces a restart (or a reconnect, for remote
servers): what the process, container or connection is made from.

Everything else is applied to a running server in place: `metadata` labels and
annotations, `description`, `tools` (filter and overrides: the gateway re-filters),
`enhancement` (tools are re-enhanced), `healthCheck`, `restart`, and `replicas` (Kubernetes
scales the Deployment without replacing its pods). `enabled` and `autoStart` decide whether
the server runs at all (start/stop), not how. A rotated secret value keeps its reference,
so it does not change the hash: restart the server to pick it up.
"""

SECRET_REFERENCE_KEYS: Final = frozenset({"valueFrom", "tokenFrom", "apiKey"})
"""camelCase keys whose value is a secret reference (a ValueSource): printed by description."""

_CONTENT: Final[dict[str, set[str] | bool]] = {"metadata": {"labels", "annotations"}, "spec": True}


def declared_content(resource: Resource, *, defaults: bool = False) -> dict[str, Any]:
    """The part of a resource users declare, as YAML would spell it: labels, annotations, spec.

    `defaults=False` leaves out every field equal to its default (the form hashes use);
    `defaults=True` gives every field (the form field-by-field comparison uses).
    """
    return resource.model_dump(
        mode="json", by_alias=True, include=_CONTENT, exclude_defaults=not defaults
    )


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Both hashes of one resource, computed from one serialisation."""

    spec_hash: str
    """SHA-256 over labels, annotations and spec: "changed at all"."""
    runtime_hash: str | None
    """SHA-256 over RUNTIME_FIELDS, for MCPServers; None for other kinds."""


def fingerprint(resource: Resource) -> Fingerprint:
    """Hash a resource once for both purposes."""
    content = declared_content(resource)
    runtime = None
    if isinstance(resource, MCPServer):
        spec = content.get("spec", {})
        runtime = digest({name: spec[name] for name in RUNTIME_FIELDS if name in spec})
    return Fingerprint(digest(content), runtime)


def spec_hash(resource: Resource) -> str:
    """SHA-256 over everything declared (labels, annotations, spec): whether it changed at all."""
    return digest(declared_content(resource))


def runtime_hash(server: MCPServer) -> str:
    """SHA-256 over the fields that force a restart (see RUNTIME_FIELDS)."""
    runtime = fingerprint(server).runtime_hash
    assert runtime is not None
    return runtime


def runtime_changed(before: MCPServer, after: MCPServer) -> bool:
    """Whether going from `before` to `after` restarts the server."""
    return runtime_hash(before) != runtime_hash(after)


def is_runtime_path(path: str) -> bool:
    """Whether a changed field path of an MCPServer forces a restart."""
    parts = path.split(".")
    return len(parts) >= 2 and parts[0] == "spec" and parts[1] in RUNTIME_FIELDS


@dataclass(frozen=True, slots=True)
class FieldDelta:
    """One changed leaf: its dotted camelCase path and its values (None when absent)."""

    path: str
    before: Any
    after: Any


def _walk(path: str, before: Any, after: Any) -> Iterator[FieldDelta]:
    if before == after:
        return
    key = path.rpartition(".")[2]
    if key in SECRET_REFERENCE_KEYS:
        yield FieldDelta(path, before, after)
    elif isinstance(before, Mapping) and isinstance(after, Mapping):
        for name in sorted(set(before) | set(after), key=str):
            yield from _walk(f"{path}.{name}", before.get(name), after.get(name))
    elif isinstance(before, list) and isinstance(after, list):
        for index in range(max(len(before), len(after))):
            old = before[index] if index < len(before) else None
            new = after[index] if index < len(after) else None
            yield from _walk(f"{path}.{index}", old, new)
    else:
        yield FieldDelta(path, before, after)


def field_deltas(before: Resource, after: Resource) -> list[FieldDelta]:
    """Every changed leaf between two declarations of a resource, in path order.

    Lists compare by position (`spec.args.1`), as the loader numbers field lines; an item
    appended shows as a new index with `before` None. A secret reference is one leaf.
    """
    old = declared_content(before, defaults=True)
    new = declared_content(after, defaults=True)
    deltas: list[FieldDelta] = []
    for top in ("metadata", "spec"):
        deltas.extend(_walk(top, old.get(top), new.get(top)))
    return deltas


def changed_paths(before: Resource, after: Resource) -> tuple[str, ...]:
    """The dotted camelCase paths of every changed leaf."""
    return tuple(delta.path for delta in field_deltas(before, after))


def safe_value(value: Any, *, key: str = "") -> Any:
    """A copy of a dumped value fit to print: every secret reference replaced by its description.

    Secrets are only ever referenced in the models, never inlined, so this prints the
    reference (`secret llm/openai`, `env $CI_BOT_TOKEN`) where a value would otherwise be.
    """
    if key in SECRET_REFERENCE_KEYS and isinstance(value, Mapping):
        try:
            return ValueSource.model_validate(dict(value)).describe()
        except ValueError:
            return "(secret reference)"
    if isinstance(value, Mapping):
        return {name: safe_value(item, key=str(name)) for name, item in value.items()}
    if isinstance(value, list):
        return [safe_value(item) for item in value]
    return value
