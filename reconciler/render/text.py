"""A Diff as text for a terminal: coloured on a tty, plain otherwise.

+ MCPServer/fetch created (starts)
~ MCPServer/time changed: spec.args (restart)
    spec.args.1: "UTC" -> "Europe/Paris"
- MCPServer/old removed (stops)

Access
  WIDENED   ci-bot may now call filesystem.write_* on suite dev
  narrowed  ci-bot may no longer call time.* on suite dev

3 created, 1 changed (1 restart), 1 removed; access: 1 widened, 1 narrowed
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from ..diffing import AccessChange, Diff, ResourceChange

_MARK = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}
_VERB = {"added": "created", "removed": "removed", "changed": "changed"}
_EFFECT = {"start": "starts", "stop": "stops", "restart": "restart"}

_ATTRIBUTES = {"bold": "1", "dim": "2"}  # written before the colour, in this order
_COLOURS = {"red": "31", "green": "32", "yellow": "33", "cyan": "36"}
_CONTROL = str.maketrans("", "", "\a\b\v\f\r")  # never shown: they would move the cursor
_TAB_SIZE = 8


@dataclass
class Line:
    """One line of the text form: pieces of text, each with the style words it is shown in.

    A piece appended with a style of its own adds it to the line's style (its colour
    replaces the line's); one appended without joins the line's plain run before it.
    """

    style: str = ""
    pieces: list[tuple[str, str]] = field(default_factory=list)
    """(text, style words) in order; style "" is unstyled."""
    _plain_tail: bool = field(default=False, init=False, repr=False)

    def append(self, text: str, style: str = "") -> Line:
        text = text.translate(_CONTROL)
        if not style and self._plain_tail:
            last, words = self.pieces[-1]
            self.pieces[-1] = (last + text, words)
        else:
            words = f"{self.style} {style}".strip()
            self.pieces.append((text, words))
        self._plain_tail = not style
        return self

    def render(self, *, color: bool) -> str:
        out: list[str] = []
        column = 0
        for text, words in self.pieces:
            codes = _sgr(words) if color else ""
            for part in _after_tabs(text) if "\t" in text else (text,):
                shown, column = _expand_tabs(part, column)
                out.append(f"\x1b[{codes}m{shown}\x1b[0m" if codes and shown else shown)
        return "".join(out)


def line(text: str, style: str = "") -> Line:
    return Line(style).append(text)


def _sgr(words: str) -> str:
    """The ANSI SGR parameters of style words (`bold red`): attributes, then the last colour."""
    split = words.split()
    codes = [code for word, code in _ATTRIBUTES.items() if word in split]
    colours = [_COLOURS[word] for word in split if word in _COLOURS]
    return ";".join(codes + colours[-1:])


def _cells(text: str) -> int:
    """Terminal columns the text takes: wide characters two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _after_tabs(text: str) -> list[str]:
    """The text cut after each tab; each cut gets colour codes of its own."""
    parts = text.split("\t")
    return [f"{part}\t" for part in parts[:-1]] + [parts[-1]]


def _expand_tabs(text: str, column: int) -> tuple[str, int]:
    """A tab ending the text as spaces up to the next tab stop; the column after it."""
    if not text.endswith("\t"):
        return text, column + _cells(text)
    column += _cells(text) - 1
    spaces = _TAB_SIZE - column % _TAB_SIZE
    return text[:-1] + " " * spaces, column + spaces


def render_text(diff: Diff, *, color: bool = False) -> str:
    """The diff as lines of text; ANSI colours only when `color`."""
    return "".join(f"{each.render(color=color)}\n" for each in lines(diff))


def lines(diff: Diff) -> list[Line]:
    """Every line of the text form, styled."""
    out: list[Line] = []
    if diff.before_revision or diff.after_revision:
        before = diff.before_revision or "(empty)"
        after = diff.after_revision or "(working tree)"
        out.append(line(f"Comparing {before} -> {after}", "dim"))
    for change in diff.resources:
        out.extend(_resource_lines(change))
    if diff.memberships:
        out += [line(""), line("Suite membership", "bold")]
        marks = {"joined": ("+", "green"), "left": ("-", "red"), "priority": ("~", "yellow")}
        for membership in diff.memberships:
            mark, style = marks[membership.change]
            out.append(line(f"{mark} {membership.message}", style))
    if diff.access:
        out += [line(""), line("Access", "bold")]
        out.extend(_access_line(change) for change in diff.access)
    out += [line(""), line(summary_line(diff), "bold")]
    return out


def _resource_lines(change: ResourceChange) -> list[Line]:
    mark, style = _MARK[change.change]
    head = line(f"{mark} {change.key} {_VERB[change.change]}", style)
    if change.paths:
        head.append(": " + ", ".join(change.paths))
    effect = _EFFECT.get(change.lifecycle or "")
    if effect:
        head.append(f" ({effect})", "bold red" if effect == "restart" else "bold")
    result = [head]
    for changed in change.fields:
        before = changed.before if changed.before is not None else "(none)"
        after = changed.after if changed.after is not None else "(none)"
        result.append(line(f"    {changed.path}: {before} -> {after}", "dim"))
    for note in change.notes:
        result.append(line(f"    {note}"))
    if change.tools_added:
        result.append(line("    tools exposed: " + ", ".join(change.tools_added), "green"))
    if change.tools_removed:
        result.append(line("    tools hidden: " + ", ".join(change.tools_removed), "red"))
    for locked in change.locked_tools:
        result.append(line(f"    {locked.tool}: {_LOCK_VERB[locked.change]}", "bold"))
        result.extend(line(f"      {detail}") for detail in locked.details)
    return result


_LOCK_VERB = {
    "added": "locked",
    "removed": "unlocked",
    "changed": "re-locked (definition changed)",
    "accepted": "scan finding accepted",
    "unaccepted": "scan finding no longer accepted",
}


def _access_line(change: AccessChange) -> Line:
    if change.critical:
        label, style = "WIDENED!", "bold red"
    elif change.direction == "widened":
        label, style = "WIDENED", "yellow"
    elif change.direction == "narrowed":
        label, style = "narrowed", "green"
    else:
        label, style = "changed", "cyan"
    result = line(f"  {label:<9} ", style)
    result.append(change.message, "bold red" if change.critical else "")
    if change.tools and not any(tool in change.message for tool in change.tools):
        result.append(" (tools: " + ", ".join(change.tools) + ")", "dim")
    return result


def summary_line(diff: Diff) -> str:
    """One line of counts, or `No changes.`"""
    if not diff.has_changes:
        return "No changes."
    counts = diff.summary()
    parts = [f"{counts['added']} created"]
    changed = f"{counts['changed']} changed"
    effects = [
        f"{counts[key]} {word if counts[key] == 1 else key}"
        for key, word in (("restarts", "restart"), ("starts", "start"), ("stops", "stop"))
        if counts[key]
    ]
    if effects:
        changed += " (" + ", ".join(effects) + ")"
    parts += [changed, f"{counts['removed']} removed"]
    text = ", ".join(parts)
    if counts["membershipChanges"]:
        text += f"; {counts['membershipChanges']} membership changes"
    if diff.access:
        widened = f"{counts['accessWidened']} widened"
        if counts["critical"]:
            widened += f" ({counts['critical']} open to anyone)"
        text += f"; access: {widened}, {counts['accessNarrowed']} narrowed"
    return text
