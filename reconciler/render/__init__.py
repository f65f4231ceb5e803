"""Printing a Diff for people and pipelines: text (terminal), JSON, Markdown (pull requests)."""

from __future__ import annotations

from typing import Final

from ..diffing import Diff
from .json import render_json
from .markdown import render_markdown
from .text import render_text

FORMATS: Final = ("text", "json", "markdown")


def render(diff: Diff, output: str, *, color: bool = False) -> str:
    """The diff in one of FORMATS; `color` applies to text only."""
    if output == "json":
        return render_json(diff)
    if output == "markdown":
        return render_markdown(diff)
    if output == "text":
        return render_text(diff, color=color)
    raise ValueError(f"unknown output format {output!r}; use one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render", "render_json", "render_markdown", "render_text"]
