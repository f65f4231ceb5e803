"""Embedding ranking: tools and queries as vectors, ranked by cosine similarity.

Vectors come from an `Embedder` (an LLMProvider that serves embeddings, wired in by the
edge that owns provider clients) and are cached by the tool's content digest and model, so
an unchanged catalogue is never embedded twice. The ranking is fused with the lexical one
(`fusion.py`); it never replaces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol

from .documents import ToolDocument

if TYPE_CHECKING:
    import numpy

BATCH: Final = 64
"""Texts embedded per provider request."""


class Embedder(Protocol):
    """Turns texts into vectors (one per text, in order)."""

    model: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def embedding_text(document: ToolDocument) -> str:
    """What of a tool is embedded: its name, description and enhancement metadata."""
    parts = [
        document.name.replace("_", " ").replace("-", " "),
        document.title,
        document.description,
    ]
    parts += [", ".join(document.keywords), ", ".join(document.use_cases)]
    return "\n".join(p for p in parts if p)


class DenseIndex:
    """Vectors of the tools of one suite, by content digest."""

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, str], numpy.ndarray] = {}
        self.embedded = 0
        """Tool texts sent to the provider so far (a cache miss each)."""

    async def ensure(self, documents: Sequence[ToolDocument], embedder: Embedder) -> None:
        """Embed the documents that have no vector for `embedder.model` yet."""
        import numpy

        missing = [d for d in documents if (embedder.model, d.content_digest) not in self._vectors]
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            vectors = await embedder.embed([embedding_text(d) for d in batch])
            if len(vectors) != len(batch):
                raise ValueError(f"{len(vectors)} embeddings for {len(batch)} texts")
            for document, vector in zip(batch, vectors, strict=True):
                self._vectors[(embedder.model, document.content_digest)] = _unit(
                    numpy.asarray(vector)
                )
            self.embedded += len(batch)

    def rank(
        self,
        documents: Sequence[ToolDocument],
        query: Sequence[float],
        *,
        model: str,
        mask: numpy.ndarray | None,
        limit: int,
    ) -> list[int]:
        """Positions of the `limit` documents closest to `query` (those with a vector)."""
        import numpy

        found = {
            i: vector
            for i, d in enumerate(documents)
            if (vector := self._vectors.get((model, d.content_digest))) is not None
        }
        if not found:
            return []
        present = list(found)
        matrix = numpy.stack(list(found.values()))
        scores = matrix @ _unit(numpy.asarray(query, dtype="float32"))
        if mask is not None:
            scores = numpy.where(mask[present] > 0, scores, -numpy.inf)
        order = numpy.argsort(-scores, kind="stable")[:limit]
        return [present[int(i)] for i in order if numpy.isfinite(scores[i])]


def _unit(vector: numpy.ndarray) -> numpy.ndarray:
    import numpy

    vector = vector.astype("float32")
    norm = float(numpy.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
