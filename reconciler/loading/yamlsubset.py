"""Stand-in: reads one document piece through libyaml (to be replaced by the quick reader)."""

from __future__ import annotations

from typing import Any

from .yamlnodes import read_documents


def read_piece(text: str) -> tuple[Any, int] | None:
    try:
        documents = list(read_documents(text))
    except Exception:
        return None
    if not documents:
        return None, -1
    if len(documents) > 1 or documents[0].problems:
        return None
    return documents[0].data, documents[0].line - 1
