"""What an enhancement is, and the checks an LLM's answer must pass to become one.

The answer is JSON matching `OUTPUT_SCHEMA` (description, keywords, categories from the
fixed vocabulary, use cases, and the four behaviour hints). On top of the schema, the
description must name every required parameter of the tool and must not name parameters
the tool does not have. A rejected answer raises `OutputRejected` listing every problem,
which the runner sends back to the model for another try.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from ..core.errors import ReconcilerError
from ..llm.vocabulary import CATEGORIES

DESCRIPTION_MIN: Final = 10
DESCRIPTION_MAX: Final = 4000
HINTS: Final = ("readOnly", "destructive", "idempotent", "openWorld")

OUTPUT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["description", "keywords", "categories", "useCases", "hints"],
    "properties": {
        "description": {
            "type": "string",
            "description": "The improved tool description shown to agents.",
        },
        "keywords": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 12,
            "description": "Lower-case search keywords.",
        },
        "categories": {
            "type": "array",
            "items": {"type": "string", "enum": list(CATEGORIES)},
            "minItems": 1,
            "maxItems": 3,
            "description": "Categories from the fixed list, best first.",
        },
        "useCases": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 5,
            "description": "Short imperative phrases: what an agent would use the tool for.",
        },
        "hints": {
            "type": "object",
            "additionalProperties": False,
            "required": list(HINTS),
            "properties": {name: {"type": "boolean"} for name in HINTS},
            "description": "Behaviour: read-only, destructive, idempotent, open-world.",
        },
    },
}
"""JSON schema of an answer. Only keywords every provider's structured output accepts
(string lengths are checked here instead)."""

_VALIDATOR = Draft202012Validator(OUTPUT_SCHEMA)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_URL = re.compile(r"\b(?:https?|file)://\S+")
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b|\b[a-z]+[A-Z][A-Za-z0-9]*\b")
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z_]")
_LITERALS: Final = frozenset({"true", "false", "null", "none", "json", "utc", "url", "uri"})


class OutputRejected(ReconcilerError):
    """An answer that is not a usable enhancement; `problems` says why, one per entry."""

    reason = "OutputRejected"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Enhancement:
    """An improved description and structured metadata of one tool."""

    description: str
    keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    use_cases: tuple[str, ...] = ()
    hints: Mapping[str, bool] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """Everything but the description, as stored, exported and served (camelCase)."""
        return {
            "keywords": list(self.keywords),
            "categories": list(self.categories),
            "useCases": list(self.use_cases),
            "hints": dict(self.hints),
        }

    @classmethod
    def of(cls, description: str, metadata: Mapping[str, Any] | None) -> Enhancement:
        """From stored or pinned parts (metadata may be partial or missing)."""
        metadata = metadata or {}
        hints = metadata.get("hints")
        return cls(
            description=description,
            keywords=tuple(str(k) for k in metadata.get("keywords") or ()),
            categories=tuple(str(c) for c in metadata.get("categories") or ()),
            use_cases=tuple(str(u) for u in metadata.get("useCases") or ()),
            hints={k: bool(v) for k, v in hints.items()} if isinstance(hints, Mapping) else {},
        )


def parse_answer(
    text: str, tool: Mapping[str, Any], *, known_names: Iterable[str] = ()
) -> Enhancement:
    """The enhancement in a model's answer, or `OutputRejected` saying what is wrong."""
    data = _json_object(text)
    problems = [_schema_problem(error) for error in _VALIDATOR.iter_errors(data)]
    if problems:
        raise OutputRejected(sorted(problems))
    description = data["description"].strip()
    problems = check_description(description, tool, known_names=known_names)
    if problems:
        raise OutputRejected(problems)
    return Enhancement(
        description=description,
        keywords=tuple(dict.fromkeys(k.strip().lower() for k in data["keywords"] if k.strip())),
        categories=tuple(dict.fromkeys(data["categories"])),
        use_cases=tuple(u.strip() for u in data["useCases"] if u.strip()),
        hints={name: data["hints"][name] for name in HINTS},
    )


def check_description(
    description: str, tool: Mapping[str, Any], *, known_names: Iterable[str] = ()
) -> list[str]:
    """Problems of a description: length, required parameters left out, parameters invented."""
    problems: list[str] = []
    if len(description) < DESCRIPTION_MIN:
        problems.append(f"description is shorter than {DESCRIPTION_MIN} characters")
    if len(description) > DESCRIPTION_MAX:
        problems.append(f"description is longer than {DESCRIPTION_MAX} characters")
    schema = tool.get("inputSchema")
    schema = schema if isinstance(schema, Mapping) else {}
    required = schema.get("required")
    for name in required if isinstance(required, list) else []:
        if not mentions(description, str(name)):
            problems.append(f"description must mention the required parameter `{name}`")
    known = _known_names(tool, known_names)
    invented = sorted(name for name in _identifiers(description) if name.lower() not in known)
    for name in invented:
        problems.append(f"description names `{name}`, which is not a parameter of the tool")
    return problems


def mentions(text: str, parameter: str) -> bool:
    """Whether `text` names the parameter: as written, or with its words spaced out."""
    spaced = re.sub(r"[_\-]+|(?<=[a-z0-9])(?=[A-Z])", " ", parameter).strip()
    for form in {parameter, spaced}:
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(form)}(?![A-Za-z0-9_])", text, re.IGNORECASE):
            return True
    return False


def _json_object(text: str) -> dict[str, Any]:
    fenced = _FENCE.match(text)
    candidate = fenced.group(1) if fenced else text.strip()
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError:
        start, end = candidate.find("{"), candidate.rfind("}")
        try:
            data = json.loads(candidate[start : end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError:
            data = None
    if not isinstance(data, dict):
        raise OutputRejected(["the answer is not a JSON object"])
    return data


def _schema_problem(error: Any) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where or 'answer'}: {error.message}"


def _known_names(tool: Mapping[str, Any], extra: Iterable[str]) -> set[str]:
    """Identifiers a description may use: the schemas' names and values, the tool's name,
    its sibling tools, and whatever the server's own description says."""
    known = {str(tool.get("name", "")).lower(), *(name.lower() for name in extra), *_LITERALS}
    for key in ("inputSchema", "outputSchema"):
        known |= _schema_words(tool.get(key))
    known |= {word.lower() for word in _WORDS.findall(str(tool.get("description") or ""))}
    return known


def _schema_words(schema: object) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
                found |= {str(name).lower() for name in value}
            found |= _schema_words(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= _schema_words(item)
    elif isinstance(schema, str):  # descriptions, enum values, defaults
        found |= {word.lower() for word in _WORDS.findall(schema)}
    return found


def _identifiers(text: str) -> set[str]:
    """Parameter-like names in text: `backticked` names, snake_case and camelCase words."""
    text = _URL.sub(" ", text)
    found = {m for m in _BACKTICKED.findall(text) if _PLAIN_NAME.match(m)}
    found |= set(_IDENTIFIER.findall(_BACKTICKED.sub(" ", text)))
    return found
