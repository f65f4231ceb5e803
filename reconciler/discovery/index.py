"""`ToolIndex`: the tools of one suite, ranked by BM25 (bm25s) for a query.

Updates are incremental where it counts: a tool whose searched text is unchanged (same
digest) keeps its tokens, and an update that changes nothing keeps the index. When tools do
change, the BM25 matrix is rebuilt from the cached tokens (bm25s has no in-place update;
rebuilding a few thousand tools takes milliseconds to a second and happens off the request
path, on the next search). A search is a vectorised scoring pass with the caller's
permissions applied as a mask, so it costs well under a millisecond at thousands of tools.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .dense import DenseIndex
from .documents import FIELDS, SearchFields, ToolDocument
from .fusion import reciprocal_rank_fusion
from .text import related, tokenize

if TYPE_CHECKING:
    import bm25s
    import numpy

RELATED_WEIGHT: Final = 0.4
"""Weight of the words a query is expanded with, against 1 for its own words."""
FUSION_DEPTH: Final = 50
"""Candidates each ranking contributes to the fusion."""
MASK_CACHE: Final = 64
"""Permission masks kept per index version: one per distinct set of allowed tools."""


@dataclass(frozen=True)
class DenseQuery:
    """The embedding side of a search: the suite's vectors and the query's."""

    index: DenseIndex
    vector: Sequence[float]
    model: str


@dataclass(frozen=True)
class Match:
    """One found tool: its document and its score (higher is better)."""

    document: ToolDocument
    score: float


class ToolIndex:
    """The searchable tools of one suite; safe to search from several threads."""

    def __init__(self, *, fields: SearchFields = FIELDS) -> None:
        self.fields = fields
        self._documents: list[ToolDocument] = []
        self._tokens: dict[str, list[str]] = {}
        self._positions: dict[str, int] = {}
        self._retriever: bm25s.BM25 | None = None
        self._masks: dict[frozenset[str], numpy.ndarray] = {}
        self._lock = threading.Lock()
        self.version = 0
        self.builds = 0

    def __len__(self) -> int:
        return len(self._documents)

    @property
    def ready(self) -> bool:
        """True when a search needs no rebuild first (rebuilding can take a second at
        thousands of tools: callers on an event loop run `build` in a thread)."""
        return self._retriever is not None or not self._documents

    @property
    def documents(self) -> Sequence[ToolDocument]:
        return self._documents

    def build(self) -> None:
        """Build the BM25 matrix now, if an update left it to be built."""
        with self._lock:
            self._built()

    def update(self, documents: Iterable[ToolDocument]) -> bool:
        """Make the index hold exactly `documents`; False (and nothing rebuilt) if unchanged."""
        documents = sorted(documents, key=lambda d: d.id)
        digests = [d.content_digest for d in documents]
        with self._lock:
            if digests == [d.content_digest for d in self._documents]:
                return False
            tokens = {digest: self._tokens.get(digest) for digest in digests}
            for document, digest in zip(documents, digests, strict=True):
                if tokens[digest] is None:
                    tokens[digest] = document.tokens(self.fields)
            self._tokens = {k: v for k, v in tokens.items() if v is not None}
            self._documents = documents
            self._positions = {d.id: i for i, d in enumerate(documents)}
            self._retriever = None
            self._masks = {}
            self.version += 1
            return True

    def search(
        self,
        query: str,
        *,
        allowed: Collection[str] | None = None,
        limit: int = 5,
        dense: DenseQuery | None = None,
    ) -> list[Match]:
        """The best `limit` tools for `query` among `allowed` (every tool when None); with
        `dense`, the lexical ranking is fused with the embedding ranking (RRF)."""
        import numpy

        query_tokens = tokenize(query)
        if not self._documents or limit <= 0 or (not query_tokens and dense is None):
            return []
        with self._lock:
            retriever = self._built()
            documents = self._documents
            mask = None if allowed is None else self._mask(frozenset(allowed))
        depth = limit if dense is None else max(limit * 5, FUSION_DEPTH)
        lexical: list[int] = []
        scores = numpy.zeros(len(documents), dtype="float32")
        if query_tokens:
            scores = retriever.get_scores(query_tokens)
            expansion = related(query_tokens)
            if expansion:
                scores = scores + RELATED_WEIGHT * retriever.get_scores(expansion)
            if mask is not None:
                scores = scores * mask
            lexical = _top(numpy.round(scores, 4), documents, depth)
        if dense is None:
            return [Match(documents[i], float(scores[i])) for i in lexical]
        nearest = dense.index.rank(
            documents, dense.vector, model=dense.model, mask=mask, limit=depth
        )
        fused = reciprocal_rank_fusion([lexical, nearest])[:limit]
        return [Match(documents[i], float(scores[i])) for i in fused]

    def _built(self) -> bm25s.BM25:
        if self._retriever is None:
            import bm25s

            retriever = bm25s.BM25()
            corpus = [self._tokens[d.content_digest] or [""] for d in self._documents]
            retriever.index(corpus, show_progress=False)
            self._retriever = retriever
            self.builds += 1
        return self._retriever

    def _mask(self, allowed: frozenset[str]) -> numpy.ndarray:
        mask = self._masks.get(allowed)
        if mask is None:
            import numpy

            mask = numpy.zeros(len(self._documents), dtype="float32")
            for tool in allowed:
                position = self._positions.get(tool)
                if position is not None:
                    mask[position] = 1.0
            if len(self._masks) >= MASK_CACHE:
                self._masks.pop(next(iter(self._masks)))
            self._masks[allowed] = mask
        return mask


def _top(scores: numpy.ndarray, documents: Sequence[ToolDocument], count: int) -> list[int]:
    """Positions of the `count` best positive scores; equal scores in id order (the
    summation order of floats must not decide between equals)."""
    import numpy

    count = min(count, len(documents))
    kth = numpy.partition(-scores, count - 1)[count - 1]
    candidates = [int(i) for i in numpy.flatnonzero((-scores <= kth) & (scores > 0))]
    return sorted(candidates, key=lambda i: (-scores[i], documents[i].id))[:count]


def ranked_ids(matches: Sequence[Match]) -> list[str]:
    """The ids of matches, best first."""
    return [match.document.id for match in matches]
