"""What of a tool is searched: its fields, their weights, and a digest of the lot.

A tool is found by its name (split into words), its description (the enhanced one where an
enhancement exists, since that is what the model reads), the names and descriptions of its
parameters, and the enhancement metadata (keywords, categories, use cases). Weights repeat a
field's tokens: BM25 saturates term frequency, so a name word counts more than a word of a
long description without drowning it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Literal

from .text import tokenize

SearchField = Literal["names", "descriptions", "metadata"]
SearchFields = frozenset[SearchField]
FIELDS: Final[SearchFields] = frozenset({"names", "descriptions", "metadata"})
"""Every field: what a suite in `search` mode ranks by."""

NAME_WEIGHT: Final = 3
KEYWORD_WEIGHT: Final = 2
MAX_SCHEMA_DEPTH: Final = 3


@dataclass(frozen=True)
class ToolDocument:
    """One tool as the index sees it. `id` is the name the caller uses (`time_get_time`)."""

    id: str
    server: str
    name: str
    description: str = ""
    title: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    keywords: Sequence[str] = ()
    categories: Sequence[str] = ()
    use_cases: Sequence[str] = ()

    @cached_property
    def content_digest(self) -> str:
        """A hash of everything searched: an unchanged tool is never tokenized (or embedded)
        twice. Computed once per document."""
        payload = json.dumps(
            [
                self.id,
                self.server,
                self.name,
                self.title,
                self.description,
                self.input_schema,
                list(self.keywords),
                list(self.categories),
                list(self.use_cases),
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def tokens(self, fields: SearchFields = FIELDS) -> list[str]:
        """The document's tokens for the given fields, weighted by repetition."""
        tokens: list[str] = []
        if "names" in fields:
            tokens += tokenize(f"{self.server} {self.name} {self.title}") * NAME_WEIGHT
            tokens += tokenize(" ".join(_parameter_names(self.input_schema)))
        if "descriptions" in fields:
            tokens += tokenize(self.description)
            tokens += tokenize(" ".join(_parameter_descriptions(self.input_schema)))
        if "metadata" in fields:
            tokens += tokenize(" ".join(self.keywords)) * KEYWORD_WEIGHT
            tokens += tokenize(" ".join(self.categories))
            tokens += tokenize(" ".join(self.use_cases))
        return tokens


def _properties(schema: object, depth: int = 0) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if depth >= MAX_SCHEMA_DEPTH or not isinstance(schema, Mapping):
        return
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            if isinstance(sub, Mapping):
                yield str(name), sub
                yield from _properties(sub, depth + 1)
                yield from _properties(sub.get("items"), depth + 1)


def _parameter_names(schema: Mapping[str, Any]) -> Iterator[str]:
    return (name for name, _ in _properties(schema))


def _parameter_descriptions(schema: Mapping[str, Any]) -> Iterator[str]:
    for _, sub in _properties(schema):
        description = sub.get("description")
        if isinstance(description, str):
            yield description
