"""Smart tool discovery: rank a suite's tools by what a caller asks for.

- `text` — the tokenizer shared by documents and queries (names split on `_`, `-` and
  camelCase, common words dropped, plurals and verb endings folded);
- `documents` — what of a tool is searched, field by field, with weights;
- `index` — `ToolIndex`, a BM25 index (bm25s) that updates incrementally and answers a query
  with the best tools a caller may call;
- `dense` — embedding vectors of tools, cached by content digest, ranked by cosine;
- `fusion` — reciprocal rank fusion of the lexical ranking with an embedding ranking.
"""

from __future__ import annotations

from .dense import DenseIndex, Embedder
from .documents import FIELDS, SearchFields, ToolDocument
from .fusion import reciprocal_rank_fusion
from .index import DenseQuery, Match, ToolIndex
from .text import tokenize

__all__ = [
    "FIELDS",
    "DenseIndex",
    "DenseQuery",
    "Embedder",
    "Match",
    "SearchFields",
    "ToolDocument",
    "ToolIndex",
    "reciprocal_rank_fusion",
    "tokenize",
]
