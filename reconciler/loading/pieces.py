"""Cutting a YAML stream into the texts of its documents, where the cut is exact.

A `---` at the start of a line, followed by a space, a tab or the line's end, always starts
a new document: libyaml's scanner ends any scalar there, and reports a quoted scalar or
flow collection left open as broken. So the text between two such lines is one document,
read alone as it would be read in the stream, as long as nothing else joins the
documents: no directive (`%YAML`, `%TAG` apply to the next document), no `...` end
marker, no line break other than `\\n`, no byte-order mark between documents. A text with
any of these is not cut (`cut_documents` returns None) and is read whole.

Reading documents alone lets a load read each one by the quickest reader that handles it
(`yamlsubset.read_piece`), and skip the ones whose exact text it has read before
(`loader.DocumentMemo`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029", "\ufeff")
"""Line breaks libyaml knows besides `\n`, and the byte-order mark: a text with any is read
whole. (Plain `in` tests: a regular expression over megabytes of text costs ten times more.)"""
_CONTENT = re.compile(r"^[ \t]*[^ \t\n#]", re.MULTILINE)


class Piece(NamedTuple):
    """The text of one document of a stream, from its `---` line to the next one."""

    text: str
    line: int
    """0-based line of the stream where the piece starts."""
    position: int
    """Position of the document in the stream, counting empty ones (as `Document.index`)."""


def cut_documents(text: str) -> list[Piece] | None:
    """The documents of a stream in order, or None when the text cannot be cut exactly.

    Text before the first `---` is a document only when it holds more than comments and
    blank lines, as in libyaml; every `---` starts one, empty or not.
    """
    if any(other in text for other in _OTHER_BREAKS) or _starts_a_line(text, "%", "..."):
        return None
    starts = _markers(text)
    if not starts or (starts[0] != 0 and _CONTENT.search(text, 0, starts[0])):
        starts.insert(0, 0)  # an implicit first document (comments alone are none)
    pieces: list[Piece] = []
    line = text.count("\n", 0, starts[0])
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        piece = text[start:end]
        pieces.append(Piece(piece, line, index))
        line += piece.count("\n")
    return pieces


def _starts_a_line(text: str, *prefixes: str) -> bool:
    """Whether a line starts with one of the prefixes (`...` also when more dots follow:
    such a text is only read whole, never misread)."""
    return any(text.startswith(p) or f"\n{p}" in text for p in prefixes)


def _markers(text: str) -> list[int]:
    """Where each `---` line starts: followed by a space, a tab, a line break or the end."""
    found: list[int] = []
    start = 0
    while start != -1:
        if text.startswith("---", start) and text[start + 3 : start + 4] in ("", " ", "\t", "\n"):
            found.append(start)
        at = text.find("\n---", start)
        start = -1 if at == -1 else at + 1
    return found
