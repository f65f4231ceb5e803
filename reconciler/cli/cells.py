"""Table cells from text the controller did not write (a token's `sub`, a tool name a client
sent): Rich markup escaped, and every unprintable character written as `\\u001b`, so a
value can neither restyle the table nor send control sequences to the terminal."""

from __future__ import annotations

from rich.markup import escape


def cell(text: str | None, *, empty: str = "-") -> str:
    """`text` safe to put in a Rich table (`empty` when there is none)."""
    if not text:
        return empty
    if not text.isprintable():
        text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return escape(text)
