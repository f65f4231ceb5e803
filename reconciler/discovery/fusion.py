"""Reciprocal rank fusion: one ranking from several (lexical, embeddings)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Final, TypeVar

K: Final = 60
"""The usual RRF constant: a document's share is 1 / (K + rank)."""

Id = TypeVar("Id", bound=Hashable)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Id]], *, k: int = K) -> list[Id]:
    """The ids of every ranking, ordered by the sum of 1 / (k + rank) over the rankings."""
    scores: dict[Id, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])
