"""A tool's upstream definition: what is hashed, what is read, and how it is shown to people.

The lock hash covers exactly the fields that reach the model: name, title, description,
inputSchema, outputSchema and annotations, as the server sent them (never the enhanced or
overridden text the gateway serves), in canonical JSON (sorted keys, no whitespace).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from ..core.hashing import digest
from ..core.models import LockedParameter, LockedTool

HASHED_FIELDS: tuple[str, ...] = (
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
)
"""The fields of a tool definition the lock hash covers."""

ToolDict = Mapping[str, Any]


def canonical_definition(tool: ToolDict) -> dict[str, Any]:
    """The hashed fields present in the definition (absent and null are the same)."""
    return {key: tool[key] for key in HASHED_FIELDS if tool.get(key) is not None}


def definition_hash(tool: ToolDict) -> str:
    """SHA-256 (hex) of the canonical JSON of the upstream definition."""
    return digest(canonical_definition(tool))


def parameters_of(tool: ToolDict) -> dict[str, LockedParameter]:
    """The input schema's top-level properties with their type and whether required."""
    schema = tool.get("inputSchema")
    if not isinstance(schema, Mapping):
        return {}
    properties = schema.get("properties")
    required = schema.get("required")
    wanted = set(required) if isinstance(required, list) else set()
    found: dict[str, LockedParameter] = {}
    if isinstance(properties, Mapping):
        for name in sorted(properties):
            found[str(name)] = LockedParameter(
                type=_type_of(properties[name]), required=name in wanted
            )
    return found


def _type_of(schema: Any) -> str | None:
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            types = [t for t in (_type_of(o) for o in options) if t]
            if types:
                return "|".join(types)
    if "$ref" in schema:
        return str(schema["$ref"]).rpartition("/")[2] or None
    return None


def locked_entry(tool: ToolDict) -> LockedTool:
    """The lock entry of a definition: its hash, and what a reviewer reads."""
    title = tool.get("title")
    description = tool.get("description")
    return LockedTool(
        sha256=definition_hash(tool),
        title=escape_invisible(title) if isinstance(title, str) else None,
        description=escape_invisible(description) if isinstance(description, str) else None,
        parameters=parameters_of(tool),
    )


def texts_of(tool: ToolDict) -> Iterator[tuple[str, str]]:
    """(where, text) of every text the model reads: title, description, annotations' title,
    and every `title` and `description` inside the input and output schemas."""
    for key in ("title", "description"):
        value = tool.get(key)
        if isinstance(value, str):
            yield key, value
    annotations = tool.get("annotations")
    if isinstance(annotations, Mapping) and isinstance(annotations.get("title"), str):
        yield "annotations.title", annotations["title"]
    for key in ("inputSchema", "outputSchema"):
        yield from _schema_texts(tool.get(key), key)


def _schema_texts(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            where = f"{path}.{key}"
            if key in ("description", "title") and isinstance(value, str):
                yield where, value
            else:
                yield from _schema_texts(value, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _schema_texts(item, f"{path}.{index}")


_VISIBLE_CONTROLS = frozenset("\n\t")


def is_invisible(char: str) -> bool:
    """Format and control characters, variation selectors, and fillers that render as
    nothing: what a reviewer cannot see."""
    if char in _VISIBLE_CONTROLS:
        return False
    category = unicodedata.category(char)
    if category in ("Cf", "Cc", "Co", "Cn", "Zl", "Zp"):
        return True
    code = ord(char)
    return (
        0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF  # variation selectors supplement
        or code in (0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800)  # fillers and blank braille
    )


def escape_invisible(text: str) -> str:
    """The text with every invisible character written as `\\u200b` (or `\\U000e0041`)."""
    if text.isascii() and text.isprintable():
        return text
    out: list[str] = []
    for char in text:
        if is_invisible(char):
            code = ord(char)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def one_line(text: str, *, limit: int = 120) -> str:
    """Escaped, newlines as spaces, cut at `limit` characters: for tables and messages."""
    shown = " ".join(escape_invisible(text).split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
