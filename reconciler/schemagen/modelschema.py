"""The models as seen by every generator: their JSON schema, with attribute docstrings.

Pydantic puts an attribute docstring into the schema as `description`, except where the
field's type already carries one (every field typed `Name` gets the generic DNS-label text).
Here the attribute docstring always wins, so each field is described in its own words.
"""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap
import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from ..core.errors import ReconcilerError
from ..core.models import KINDS

DEFS_PREFIX = "#/$defs/"


@cache
def attribute_docstrings(cls: type[BaseModel]) -> dict[str, str]:
    """The docstring under each field of `cls` and of its model bases, by attribute name."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass is BaseModel:
            continue
        found.update(_own_attribute_docstrings(klass))
    return found


def _own_attribute_docstrings(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    found: dict[str, str] = {}
    for stmt, following in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[stmt.target.id] = inspect.cleandoc(following.value.value)
    return found


def field_description(cls: type[BaseModel], name: str) -> str | None:
    """What the docs say about field `name` of `cls`: its docstring, else its description."""
    return attribute_docstrings(cls).get(name) or cls.model_fields[name].description


class _DocumentedSchema(GenerateJsonSchema):
    """Pydantic's generator, with each field described by its own attribute docstring."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        cls: type[BaseModel] = schema["cls"]
        properties = json_schema.get("properties", {})
        for name, field in cls.model_fields.items():
            alias = field.alias or name
            text = attribute_docstrings(cls).get(name)
            if text and alias in properties:
                properties[alias]["description"] = text
        for prop in properties.values():
            prop.pop("title", None)
        json_schema.pop("title", None)
        return json_schema


@cache
def _kinds_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    by_class, top = models_json_schema(
        [(cls, "validation") for cls in KINDS.values()],
        by_alias=True,
        schema_generator=_DocumentedSchema,
    )
    defs = top.get("$defs", {})
    refs = {cls.kind_name: by_class[(cls, "validation")]["$ref"] for cls in KINDS.values()}
    return refs, defs


def kind_schemas() -> tuple[dict[str, str], dict[str, Any]]:
    """(kind -> `$ref` of its definition, the shared `$defs`), in pydantic's JSON schema.

    Callers get fresh copies and may change them.
    """
    refs, defs = _kinds_schema()
    return dict(refs), copy.deepcopy(defs)


def resolve(ref: str, defs: dict[str, Any]) -> dict[str, Any]:
    """The definition `ref` (`#/$defs/Name`) points to."""
    if not ref.startswith(DEFS_PREFIX) or ref[len(DEFS_PREFIX) :] not in defs:
        raise ReconcilerError(f"cannot resolve schema reference {ref!r}", reason="SchemaError")
    definition: dict[str, Any] = defs[ref[len(DEFS_PREFIX) :]]
    return definition


def model_classes(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from `root` through its fields, `root` first, breadth first."""
    seen: list[type[BaseModel]] = [root]
    index = 0
    while index < len(seen):
        for field in seen[index].model_fields.values():
            for cls in _models_in(field.annotation):
                if cls not in seen:
                    seen.append(cls)
        index += 1
    return seen


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return []
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def definition_name(cls: type[BaseModel], defs: dict[str, Any]) -> str:
    """The `$defs` key pydantic gave `cls`; refuses ambiguous class names."""
    if cls.__name__ not in defs:
        raise ReconcilerError(
            f"model {cls.__qualname__} has no definition named {cls.__name__!r}; "
            "give models distinct class names",
            reason="SchemaError",
        )
    return cls.__name__
