"""A Diff as Markdown, for a pull-request comment: heading, summary table, sections.

Widened access is flagged with a warning sign; a suite opened to anyone is also repeated
as a quote right under the heading so that it cannot be missed.
"""

from __future__ import annotations

from ..diffing import AccessChange, Diff, ResourceChange
from .text import summary_line

HEADING = "## mcp-reconciler diff"
_CHANGE = {"added": "🟢 created", "removed": "🔴 removed", "changed": "🟡 changed"}
_EFFECT = {"start": "starts", "stop": "stops", "restart": "**restarts**"}
_SUMMARY_ROWS = (
    ("added", "Resources created"),
    ("changed", "Resources changed"),
    ("removed", "Resources removed"),
    ("restarts", "Servers restarted"),
    ("starts", "Servers started"),
    ("stops", "Servers stopped"),
    ("membershipChanges", "Suite membership changes"),
    ("accessWidened", "Access widened"),
    ("accessNarrowed", "Access narrowed"),
)


def code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_ESCAPES = str.maketrans({c: "\\" + c for c in "\\`*_[]|#"} | {"<": "&lt;"})


def escape(text: str) -> str:
    """Free text shown literally: `time.*` and `<server>_<tool>` stay as written."""
    return text.translate(_ESCAPES)


def cell(text: str) -> str:
    """Text safe inside a table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(diff: Diff) -> str:
    """The diff as a Markdown document (newline-terminated)."""
    out = [HEADING, ""]
    if diff.before_revision or diff.after_revision:
        before = code(diff.before_revision or "(empty)")
        after = code(diff.after_revision or "(working tree)")
        out += [f"Comparing {before} → {after}", ""]
    for change in diff.access:
        if change.critical:
            out += [f"> ⚠️ **{escape(change.message)}**", ""]
    if not diff.has_changes:
        out.append("No changes.")
        return "\n".join(out) + "\n"
    counts = diff.summary()
    out += ["| Change | Count |", "|---|---:|"]
    out += [f"| {label} | {counts[key]} |" for key, label in _SUMMARY_ROWS]
    out += ["", escape(summary_line(diff)), ""]
    if diff.resources:
        out += _resources(diff.resources)
    if diff.memberships:
        out += ["### Suite membership", ""]
        out += [f"- {escape(m.message)}" for m in diff.memberships]
        out.append("")
    if diff.access:
        out += ["### Access", ""]
        out += [_access(change) for change in diff.access]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _resources(changes: tuple[ResourceChange, ...]) -> list[str]:
    out = ["### Resources", "", "| Change | Resource | Fields | Effect |", "|---|---|---|---|"]
    for change in changes:
        fields = ", ".join(code(p) for p in change.paths)
        effect = _EFFECT.get(change.lifecycle or "", "")
        out.append(
            f"| {_CHANGE[change.change]} | {code(str(change.key))} | {cell(fields)} | {effect} |"
        )
    details: list[str] = []
    for change in changes:
        for field in change.fields:
            before = code(field.before) if field.before is not None else "_(none)_"
            after = code(field.after) if field.after is not None else "_(none)_"
            details.append(f"- {code(str(change.key))} {code(field.path)}: {before} → {after}")
        details += [f"- {code(str(change.key))}: {escape(note)}" for note in change.notes]
        if change.tools_added:
            tools = ", ".join(code(t) for t in change.tools_added)
            details.append(f"- {code(str(change.key))}: tools exposed {tools}")
        if change.tools_removed:
            tools = ", ".join(code(t) for t in change.tools_removed)
            details.append(f"- {code(str(change.key))}: tools hidden {tools}")
    out.append("")
    locks = [(change, locked) for change in changes for locked in change.locked_tools]
    if locks:
        out += ["#### Tool lock", ""]
        for change, locked in locks:
            out.append(f"- {code(str(change.key))} {code(locked.tool)}: {_LOCK[locked.change]}")
            out += [f"  - {escape(detail)}" for detail in locked.details]
        out.append("")
    if details:
        out += ["<details><summary>Details</summary>", "", *details, "", "</details>", ""]
    return out


_LOCK = {
    "added": "locked",
    "removed": "unlocked",
    "changed": "⚠️ **re-locked: definition changed**",
    "accepted": "⚠️ **scan finding accepted**",
    "unaccepted": "scan finding no longer accepted",
}


def _access(change: AccessChange) -> str:
    if change.direction == "widened":
        label = "⚠️ **widened**"
    elif change.direction == "narrowed":
        label = "narrowed"
    else:
        label = "changed"
    line = f"- {label}: {escape(change.message)}"
    if change.tools and not any(tool in change.message for tool in change.tools):
        line += " (tools: " + ", ".join(code(t) for t in change.tools) + ")"
    return line
