"""Reviewable enhancements: exported as YAML, committed, reviewed, and pinned.

`export_enhancements` writes one plain YAML document per server, `<dir>/<server>.yaml`:

    # Tool enhancements of server time (mcp-reconciler enhance --export).
    server: time
    tools:
      get_current_time:
        description: Get current time in a specific timezone. Requires `timezone` ...
        metadata:
          keywords: [current time, time, timezone]
          categories: [time]
          useCases: [Get current time in a specific timezone]
          hints: {readOnly: true, destructive: false, idempotent: true, openWorld: false}
        key: 3f1c...            # cache key of the text (tool version, style, model, prompt)
        schemaHash: 9ab0...     # the tool's schema when the text was written
        generatedBy: local/builtin-1
        pinned: true

`load_pins` reads such files back: every tool with `pinned: true` is served with its
description and metadata instead of generated text, while the tool's `schemaHash` is
unchanged (a pin without `schemaHash` always applies). A pin whose tool's schema changed
is stale: reported, not served, until someone exports and reviews again.

The directory is not a resource directory: `mcp-reconciler validate` would read these files
as resources. Keep it beside the resources (`enhancements/` next to `resources/`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import Problem, ValidationFailed
from .output import Enhancement


@dataclass(frozen=True, slots=True)
class Pin:
    """Reviewed text of one tool."""

    server: str
    tool: str
    enhancement: Enhancement
    key: str | None = None
    schema_hash: str | None = None
    file: str | None = None

    def applies_to(self, schema_hash: str) -> bool:
        """Whether the pin still fits the tool (its schema did not change since)."""
        return self.schema_hash is None or self.schema_hash == schema_hash


@dataclass(frozen=True)
class Pins:
    """Every pin, by server and tool."""

    by_tool: Mapping[tuple[str, str], Pin] = field(default_factory=dict)

    def get(self, server: str, tool: str) -> Pin | None:
        return self.by_tool.get((server, tool))

    def __len__(self) -> int:
        return len(self.by_tool)

    def __iter__(self) -> Iterator[Pin]:
        return iter(self.by_tool.values())


@dataclass(frozen=True, slots=True)
class ExportedTool:
    """One tool's text as it is exported."""

    server: str
    tool: str
    enhancement: Enhancement
    key: str | None
    schema_hash: str | None
    generated_by: str | None = None


def load_pins(directory: Path | str) -> Pins:
    """Pins of every `*.yaml`/`*.yml` in `directory` (none when it does not exist).

    Raises `ValidationFailed` naming the file for a document that is not an export.
    """
    root = Path(directory)
    if not root.is_dir():
        return Pins()
    pins: dict[tuple[str, str], Pin] = {}
    problems: list[Problem] = []
    for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml")]):
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            problems.append(Problem(f"cannot read enhancements: {error}", file=str(path)))
            continue
        problems += _read_export(data, str(path), pins)
    if problems:
        raise ValidationFailed(problems)
    return Pins(pins)


def export_enhancements(directory: Path | str, tools: Iterable[ExportedTool]) -> list[Path]:
    """Write `<directory>/<server>.yaml` for every server; the files written.

    Existing files are replaced, keeping `pinned: false` where a reviewer set it.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    by_server: dict[str, list[ExportedTool]] = {}
    for tool in tools:
        by_server.setdefault(tool.server, []).append(tool)
    written = []
    for server, entries in sorted(by_server.items()):
        path = root / f"{server}.yaml"
        unpinned = _unpinned(path)
        document = {
            "server": server,
            "tools": {
                entry.tool: _exported(entry, pinned=entry.tool not in unpinned)
                for entry in sorted(entries, key=lambda e: e.tool)
            },
        }
        header = f"# Tool enhancements of server {server} (mcp-reconciler enhance --export).\n"
        path.write_text(header + yaml.dump(document, Dumper=_Dumper, **_DUMP_OPTIONS))
        written.append(path)
    return written


def _exported(entry: ExportedTool, *, pinned: bool) -> dict[str, Any]:
    exported: dict[str, Any] = {
        "description": entry.enhancement.description,
        "metadata": entry.enhancement.metadata(),
    }
    if entry.key:
        exported["key"] = entry.key
    if entry.schema_hash:
        exported["schemaHash"] = entry.schema_hash
    if entry.generated_by:
        exported["generatedBy"] = entry.generated_by
    exported["pinned"] = pinned
    return exported


def _read_export(data: Any, file: str, pins: dict[tuple[str, str], Pin]) -> list[Problem]:
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("server"), str):
        return [Problem("not an enhancement export: expected `server` and `tools`", file=file)]
    server = data["server"]
    tools = data.get("tools") or {}
    if not isinstance(tools, dict):
        return [Problem("`tools` must be a mapping of tool name to text", file=file)]
    problems = []
    for name, entry in tools.items():
        where = f"tools.{name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("description"), str):
            problems.append(Problem("needs a `description` text", file=file, field=where))
            continue
        if entry.get("pinned") is not True:
            continue
        metadata = entry.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            problems.append(Problem("`metadata` must be a mapping", file=file, field=where))
            continue
        pin = Pin(
            server=server,
            tool=str(name),
            enhancement=Enhancement.of(entry["description"].strip(), metadata),
            key=_text(entry.get("key")),
            schema_hash=_text(entry.get("schemaHash")),
            file=file,
        )
        if (server, pin.tool) in pins:
            other = pins[(server, pin.tool)].file
            problems.append(Problem(f"pinned twice (also in {other})", file=file, field=where))
            continue
        pins[(server, pin.tool)] = pin
    return problems


def _unpinned(path: Path) -> set[str]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return set()
    tools = data.get("tools") if isinstance(data, dict) else None
    if not isinstance(tools, dict):
        return set()
    return {
        str(name)
        for name, entry in tools.items()
        if isinstance(entry, dict) and entry.get("pinned") is False
    }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class _Dumper(yaml.SafeDumper):
    """Multi-line text as literal blocks; short lists in flow style."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = all(isinstance(item, str | bool | int | float) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


def _represent_mapping(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.Node:
    flow = bool(value) and all(isinstance(item, bool) for item in value.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=flow)


_Dumper.add_representer(str, _represent_text)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_mapping)
_DUMP_OPTIONS: dict[str, Any] = {"sort_keys": False, "allow_unicode": True, "width": 100}
