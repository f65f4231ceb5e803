"""The template language of workflow steps: read-only paths into the call's inputs and the
results of earlier steps, parsed by a closed grammar and never evaluated as code.

    {{ inputs.tz }}                        an input of the call (a missing one is an error)
    {{ inputs.tz | default('UTC') }}       ... unless it has a default (also used for null)
    {{ steps.now.result }}                 a step's result text
    {{ steps.now.structured.datetime }}    a path into its structuredContent (`.0` indexes)
    {{ steps.now.status }}                 ok, failed, skipped or cancelled
    {{ steps.now.error }}                  why it failed (null when it did not)
    {{ inputs.mode == 'fast' }}            `==` and `!=` between paths and literals
    {{ not inputs.dry_run }}               negation (for `when`)

Literals are 'single' or "double" quoted strings, numbers, true, false and null. A string
that is exactly one template (surrounding spaces aside) renders to the value itself, with
its JSON type; a template inside text renders as text: null as nothing, strings as they
are, anything else as compact JSON. A step that failed (onError: continue) or was skipped
reads as null everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..core.errors import InvalidInput

STEP_FIELDS = ("result", "structured", "status", "error")
"""What `steps.<id>.<field>` may read."""

_FALSY_TEXT = frozenset({"", "false", "0", "no", "off", "null", "none"})
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SPACE = re.compile(r"\s*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?(?![A-Za-z0-9_.-])")
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_OPERATORS = ("==", "!=")
_KEYWORDS = {"true": True, "false": False, "null": None}


class TemplateError(InvalidInput):
    """A template that does not parse, or reads something that is not there."""

    reason = "InvalidTemplate"


class MissingValue(TemplateError):
    """A path that leads nowhere; `| default(...)` turns it into its fallback."""


# -- the expression tree ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Path:
    """`inputs.a.b` or `steps.<id>.<field>...`, as written."""

    root: str
    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join((self.root, *self.parts))


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Default:
    operand: Path
    fallback: Any


@dataclass(frozen=True, slots=True)
class Compare:
    left: Expression
    operator: str
    right: Expression


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expression


Expression = Path | Literal | Default | Compare | Not


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed string: text and expressions in order."""

    parts: tuple[str | Expression, ...]
    whole: Expression | None
    """The expression when the string is exactly one template (it keeps its JSON type)."""

    @property
    def expressions(self) -> list[Expression]:
        return [part for part in self.parts if not isinstance(part, str)]


@dataclass(frozen=True)
class Scope:
    """What templates read: the call's inputs and the steps finished so far."""

    inputs: Mapping[str, Any]
    steps: Mapping[str, Mapping[str, Any]]
    """Step id -> {status, result, structured, error}."""
    known: frozenset[str] = frozenset()
    """Every step id of the workflow (to tell an unknown step from one not run yet)."""


# -- parsing ---------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def parse(text: str) -> Template:
    """Parse a string that may hold templates; raises TemplateError naming the problem."""
    parts: list[str | Expression] = []
    position = 0
    for match in _TEMPLATE.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(_Parser(match.group(1)).expression_only())
        position = match.end()
    rest = text[position:]
    if "{{" in rest:
        raise TemplateError(f"unclosed '{{{{' in {text!r:.200}: close it with '}}}}'")
    if rest:
        parts.append(rest)
    whole = None
    if len(parts) == 1 and not isinstance(parts[0], str):
        whole = parts[0]
    elif len(parts) in (2, 3):
        expressions = [p for p in parts if not isinstance(p, str)]
        texts = [p for p in parts if isinstance(p, str)]
        if len(expressions) == 1 and all(not t.strip() for t in texts):
            whole = expressions[0]
    return Template(tuple(parts), whole)


class _Parser:
    """Recursive descent over one `{{ ... }}`:

    expression := 'not' expression | operand [('==' | '!=') operand]
    operand    := literal | path ['|' 'default' '(' literal ')']
    path       := ('inputs' | 'steps') ('.' segment)+
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.position = 0

    def fail(self, message: str) -> TemplateError:
        return TemplateError(f"in '{{{{{self.source}}}}}': {message}")

    def skip(self) -> None:
        match = _SPACE.match(self.source, self.position)
        assert match is not None
        self.position = match.end()

    def take(self, token: str) -> bool:
        self.skip()
        if self.source.startswith(token, self.position):
            self.position += len(token)
            return True
        return False

    def expression_only(self) -> Expression:
        self.skip()
        if self.position == len(self.source):
            raise self.fail("empty template")
        expression = self.expression()
        self.skip()
        if self.position < len(self.source):
            rest = self.source[self.position :].rstrip()
            raise self.fail(f"unexpected {rest[:30]!r}")
        return expression

    def expression(self) -> Expression:
        self.skip()
        word = _NAME.match(self.source, self.position)
        if word is not None and word.group() == "not":
            self.position = word.end()
            return Not(self.expression())
        left = self.operand()
        for operator in _OPERATORS:
            if self.take(operator):
                return Compare(left, operator, self.operand())
        return left

    def operand(self) -> Expression:
        self.skip()
        literal = self.literal()
        if literal is not None:
            return literal
        path = self.path()
        if self.take("|"):
            self.skip()
            word = _NAME.match(self.source, self.position)
            if word is None or word.group() != "default":
                raise self.fail("the only filter is '| default(<literal>)'")
            self.position = word.end()
            if not self.take("("):
                raise self.fail("expected '(' after default")
            self.skip()
            fallback = self.literal()
            if fallback is None or not self.take(")"):
                raise self.fail("default takes one literal: 'text', a number, true, false or null")
            return Default(path, fallback.value)
        return path

    def literal(self) -> Literal | None:
        source, at = self.source, self.position
        string = _STRING.match(source, at)
        if string is not None:
            self.position = string.end()
            raw = string.group(1) if string.group(1) is not None else string.group(2)
            return Literal(_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw))
        number = _NUMBER.match(source, at)
        if number is not None:
            self.position = number.end()
            text = number.group()
            return Literal(float(text) if number.group(1) or number.group(2) else int(text))
        word = _NAME.match(source, at)
        if word is not None and word.group() in _KEYWORDS:
            self.position = word.end()
            return Literal(_KEYWORDS[word.group()])
        return None

    def path(self) -> Path:
        word = _NAME.match(self.source, self.position)
        if word is None:
            shown = self.source[self.position : self.position + 30]
            raise self.fail(f"expected inputs.<name> or steps.<id>.<field>, found {shown!r}")
        root = word.group()
        if root not in ("inputs", "steps"):
            raise self.fail(
                f"unknown name {root!r}: a template reads only inputs.<name> and "
                "steps.<id>.<field>, compared with == or != to 'text', numbers, true, false, null"
            )
        self.position = word.end()
        parts: list[str] = []
        while self.source.startswith(".", self.position):
            segment = _SEGMENT.match(self.source, self.position + 1)
            if segment is None:
                raise self.fail(f"expected a name after '{root}{''.join('.' + p for p in parts)}.'")
            parts.append(segment.group())
            self.position = segment.end()
        if root == "inputs" and not parts:
            raise self.fail("name the input: inputs.<name>")
        if root == "steps" and (len(parts) < 2 or parts[1] not in STEP_FIELDS):
            fields = ", ".join(STEP_FIELDS)
            raise self.fail(f"a step is read as steps.<id>.<field>, the field one of {fields}")
        if root == "steps" and parts[1] != "structured" and len(parts) > 2:
            raise self.fail(
                f"steps.<id>.{parts[1]} has no fields; use steps.<id>.structured.<path>"
            )
        return Path(root, tuple(parts))


# -- what a template reads -------------------------------------------------------------


def step_references(text: str) -> set[str]:
    """The ids of the steps a string's templates read."""
    found: set[str] = set()
    pending = parse(text).expressions
    while pending:
        expression = pending.pop()
        if isinstance(expression, Path):
            if expression.root == "steps":
                found.add(expression.parts[0])
        elif isinstance(expression, Default):
            pending.append(expression.operand)
        elif isinstance(expression, Compare):
            pending.extend((expression.left, expression.right))
        elif isinstance(expression, Not):
            pending.append(expression.operand)
    return found


def strings_of(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string inside nested arguments, with its dotted path under `path`."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [found for k, item in value.items() for found in strings_of(item, f"{path}.{k}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in strings_of(item, f"{path}.{i}")]
    return []


# -- evaluation ------------------------------------------------------------------------


def render(value: Any, scope: Scope) -> Any:
    """Render every string inside `value` (dicts and lists are walked, keys left alone)."""
    if isinstance(value, str):
        return render_string(value, scope)
    if isinstance(value, dict):
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    return value


def render_string(text: str, scope: Scope) -> Any:
    """A whole-string template keeps its value's type; otherwise the text with values in."""
    template = parse(text)
    if template.whole is not None:
        return evaluate(template.whole, scope)
    return "".join(
        part if isinstance(part, str) else as_text(evaluate(part, scope)) for part in template.parts
    )


def condition(text: str, scope: Scope) -> bool:
    """Whether a `when` holds: the rendered value is truthy."""
    return truthy(render_string(text, scope))


def truthy(value: Any) -> bool:
    """JSON truthiness; a string is false when empty or false/0/no/off/null/none."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY_TEXT
    return bool(value)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def evaluate(expression: Expression, scope: Scope) -> Any:
    if isinstance(expression, Literal):
        return expression.value
    if isinstance(expression, Path):
        return _lookup(expression, scope)
    if isinstance(expression, Default):
        try:
            found = _lookup(expression.operand, scope)
        except MissingValue:
            return expression.fallback
        return expression.fallback if found is None else found
    if isinstance(expression, Not):
        return not truthy(evaluate(expression.operand, scope))
    left, right = evaluate(expression.left, scope), evaluate(expression.right, scope)
    same = _same(left, right)
    return same if expression.operator == "==" else not same


def _same(left: Any, right: Any) -> bool:
    """JSON equality: true is not 1, "1" is not 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    return bool(left == right)


def _lookup(path: Path, scope: Scope) -> Any:
    if path.root == "inputs":
        name, rest = path.parts[0], path.parts[1:]
        if not isinstance(scope.inputs, Mapping) or name not in scope.inputs:
            raise MissingValue(
                f"input {name!r} is missing: pass it in the arguments of the call "
                f"(or write {{{{ {path} | default(...) }}}})"
            )
        return _descend(scope.inputs[name], rest, f"inputs.{name}")
    step_id, field, rest = path.parts[0], path.parts[1], path.parts[2:]
    step = scope.steps.get(step_id)
    if step is None:
        if step_id in scope.known:
            raise TemplateError(f"step {step_id!r} has not run yet: add it to dependsOn")
        raise TemplateError(f"unknown step {step_id!r}")
    if field in ("result", "structured") and step.get("status") != "ok":
        return None
    return _descend(step.get(field), rest, f"steps.{step_id}.{field}")


def _descend(value: Any, parts: tuple[str, ...], where: str) -> Any:
    for part in parts:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            kind = "null" if value is None else type(value).__name__
            kind = {"dict": "object", "list": "array", "str": "string"}.get(kind, kind)
            raise MissingValue(f"{where} has no {part!r} (it is {kind})")
        where = f"{where}.{part}"
    return value
