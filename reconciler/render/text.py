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

import io

from rich.console import Console
from rich.text import Text

from ..diffing import AccessChange, Diff, ResourceChange

_MARK = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}
_VERB = {"added": "created", "removed": "removed", "changed": "changed"}
_EFFECT = {"start": "starts", "stop": "stops", "restart": "restart"}


def render_text(diff: Diff, *, color: bool = False, width: int = 100) -> str:
    """The diff as lines of text; ANSI colours only when `color`."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        soft_wrap=True,
        highlight=False,
        emoji=False,
        markup=False,
    )
    for line in lines(diff):
        console.print(line)
    return buffer.getvalue()


def lines(diff: Diff) -> list[Text]:
    """Every line of the text form, styled."""
    out: list[Text] = []
    if diff.before_revision or diff.after_revision:
        before = diff.before_revision or "(empty)"
        after = diff.after_revision or "(working tree)"
        out.append(Text(f"Comparing {before} -> {after}", style="dim"))
    for change in diff.resources:
        out.extend(_resource_lines(change))
    if diff.memberships:
        out += [Text(""), Text("Suite membership", style="bold")]
        marks = {"joined": ("+", "green"), "left": ("-", "red"), "priority": ("~", "yellow")}
        for membership in diff.memberships:
            mark, style = marks[membership.change]
            out.append(Text(f"{mark} {membership.message}", style=style))
    if diff.access:
        out += [Text(""), Text("Access", style="bold")]
        out.extend(_access_line(change) for change in diff.access)
    out += [Text(""), Text(summary_line(diff), style="bold")]
    return out


def _resource_lines(change: ResourceChange) -> list[Text]:
    mark, style = _MARK[change.change]
    head = Text(f"{mark} {change.key} {_VERB[change.change]}", style=style)
    if change.paths:
        head.append(": " + ", ".join(change.paths))
    effect = _EFFECT.get(change.lifecycle or "")
    if effect:
        head.append(f" ({effect})", style="bold red" if effect == "restart" else "bold")
    result = [head]
    for field in change.fields:
        before = field.before if field.before is not None else "(none)"
        after = field.after if field.after is not None else "(none)"
        result.append(Text(f"    {field.path}: {before} -> {after}", style="dim"))
    for note in change.notes:
        result.append(Text(f"    {note}"))
    if change.tools_added:
        result.append(Text("    tools exposed: " + ", ".join(change.tools_added), style="green"))
    if change.tools_removed:
        result.append(Text("    tools hidden: " + ", ".join(change.tools_removed), style="red"))
    for locked in change.locked_tools:
        result.append(Text(f"    {locked.tool}: {_LOCK_VERB[locked.change]}", style="bold"))
        result.extend(Text(f"      {detail}") for detail in locked.details)
    return result


_LOCK_VERB = {
    "added": "locked",
    "removed": "unlocked",
    "changed": "re-locked (definition changed)",
    "accepted": "scan finding accepted",
    "unaccepted": "scan finding no longer accepted",
}


def _access_line(change: AccessChange) -> Text:
    if change.critical:
        label, style = "WIDENED!", "bold red"
    elif change.direction == "widened":
        label, style = "WIDENED", "yellow"
    elif change.direction == "narrowed":
        label, style = "narrowed", "green"
    else:
        label, style = "changed", "cyan"
    line = Text(f"  {label:<9} ", style=style)
    line.append(change.message, style="bold red" if change.critical else "")
    if change.tools and not any(tool in change.message for tool in change.tools):
        line.append(" (tools: " + ", ".join(change.tools) + ")", style="dim")
    return line


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
