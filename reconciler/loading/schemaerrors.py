"""Turning pydantic validation errors into field paths and messages a user can act on.

Each error of `Model.model_validate` becomes a `FieldError`: the dotted camelCase path of
the field (`spec.healthCheck.intervalSeconds`), a message, and the path whose line should
be shown. Unknown fields get a "did you mean" hint computed against the fields allowed at
that place (found by walking the model classes along the error location). Messages are
built from the error type and pydantic's template only, never from the input value: a
secret written in the wrong place must not be echoed back.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

_DNS_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_PYDANTIC_TAG = re.compile(r"^[a-z][a-z-]*\[.*\]$")
_SHOULD = re.compile(r"^(Input|String|List|Dictionary|Value|Tuple|Set) should\b")
_PREFIXES = ("Value error, ", "Assertion failed, ")
_GENERIC = {
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "string_type": "expected a string (quote values such as 'yes', 'on' or numbers)",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer, not a fraction",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "missing": "required field is missing",
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One schema error, located."""

    field: str
    """Dotted camelCase path of the field concerned (empty: the whole document)."""
    message: str
    line_field: str
    """Path whose line is shown: `field`, or a present field that explains a missing one."""
    suggests: str | None = None
    """For an unknown field: the path of the allowed field it is probably a typo of."""


def field_errors(
    model: type[BaseModel], error: ValidationError, *, present: Iterable[str] = ()
) -> list[FieldError]:
    """Locate and word every error of one `model.model_validate` call.

    `present` holds the dotted paths found in the document; it lets an error about a
    missing field (`transport stdio needs command`) point at the line of the field that
    requires it (`transport`).
    """
    found = set(present)
    errors = [
        _field_error(model, detail, found)
        for detail in error.errors(include_url=False, include_input=False, include_context=True)
    ]
    # `specs:` for `spec:` is one mistake, not an unknown field plus a missing one.
    typos = {e.suggests for e in errors if e.suggests}
    return [e for e in errors if not (e.message == _GENERIC["missing"] and e.field in typos)]


def path_of(loc: Sequence[str | int]) -> str:
    """Dotted path of a pydantic error location, without pydantic's internal tags."""
    return ".".join(
        str(part)
        for part in loc
        if not (isinstance(part, str) and (part == "[key]" or _PYDANTIC_TAG.match(part)))
    )


def _field_error(model: type[BaseModel], detail: ErrorDetails, present: set[str]) -> FieldError:
    loc = [p for p in detail["loc"] if not (isinstance(p, str) and _PYDANTIC_TAG.match(p))]
    if loc and loc[-1] == "[key]":
        loc.pop()
    path = path_of(loc)
    kind = detail["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else ""
        message, hint = _unknown_field(name, model_at(model, loc[:-1]))
        parent = path_of(loc[:-1])
        suggests = (f"{parent}.{hint}" if parent else hint) if hint else None
        return FieldError(path, message, path, suggests)
    if (
        kind == "string_pattern_mismatch"
        and (detail.get("ctx") or {}).get("pattern") == _DNS_LABEL_PATTERN
    ):
        message = "must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 long"
        return FieldError(path, message, path)
    if kind in ("value_error", "assertion_error"):
        return _model_rule_error(model, loc, _plain(detail["msg"]), present)
    message = _GENERIC.get(kind) or _plain(detail["msg"])
    return FieldError(path, message, path)


def _plain(message: str) -> str:
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return _SHOULD.sub("must", message)


def _unknown_field(name: str, parent: type[BaseModel] | None) -> tuple[str, str | None]:
    """The message for an unknown field, and the allowed field it is probably a typo of."""
    if parent is None:
        return f"unknown field '{name}'", None
    allowed = allowed_fields(parent)
    camel = to_camel(name)
    if camel in allowed and camel != name:
        return f"unknown field '{name}'; did you mean '{camel}'? (fields are camelCase)", camel
    import difflib  # only for a field that is not allowed

    lowered = {a.lower(): a for a in allowed}
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6) or [
        lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    ]
    if close:
        return f"unknown field '{name}'; did you mean '{close[0]}'?", close[0]
    return f"unknown field '{name}'; allowed here: {', '.join(allowed)}", None


_NEEDS = re.compile(r"\bneeds (\w+)")


def _model_rule_error(
    model: type[BaseModel], loc: list[str | int], message: str, present: set[str]
) -> FieldError:
    """Errors raised by a model's own validator, moved onto the field they are about.

    A message that starts with a field name (`url is for streamable-http ...`) is about
    that field; one that says `needs <field>` is about the missing field, shown on the
    line of the first present field it mentions (`transport stdio needs command`).
    """
    path = path_of(loc)
    at = model_at(model, loc)
    if at is None:
        return FieldError(path, message, path)
    allowed = set(allowed_fields(at))
    prefix = f"{path}." if path else ""
    words = re.findall(r"[A-Za-z]+", message)
    needed = _NEEDS.search(message)
    if needed and needed.group(1) in allowed:
        mentioned = [w for w in words if w in allowed and f"{prefix}{w}" in present]
        line_field = f"{prefix}{mentioned[0]}" if mentioned else path
        return FieldError(f"{prefix}{needed.group(1)}", message, line_field)
    if words and words[0] in allowed and f"{prefix}{words[0]}" in present:
        target = f"{prefix}{words[0]}"
        return FieldError(target, message, target)
    return FieldError(path, message, path)


def allowed_fields(model: type[BaseModel]) -> list[str]:
    """The names a model accepts in YAML (its camelCase aliases), in declaration order."""
    return [info.alias or name for name, info in model.model_fields.items()]


def model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the value at `loc`, or None when it is no model."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            current = _field_annotation(current, part)
        elif get_origin(current) in (list, tuple, set, frozenset):
            current = get_args(current)[0] if get_args(current) else None
        elif get_origin(current) is dict:
            current = get_args(current)[1] if get_args(current) else None
        else:
            return None
        if current is None:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_annotation(model: type[BaseModel], part: str | int) -> Any:
    for name, info in model.model_fields.items():
        if part in (info.alias, name):
            return info.annotation
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional; of a union, keep the first model, list or dict arm."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            arms = [a for a in get_args(annotation) if a is not type(None)]
            structured = [
                a
                for a in arms
                if get_origin(a) in (list, dict, Annotated)
                or (isinstance(a, type) and issubclass(a, BaseModel))
            ]
            annotation = (structured or arms or [None])[0]
            continue
        return annotation
