"""The tool lock and the poisoning scanner: pure decisions over tool definitions.

    definitions  what is hashed (upstream name, title, description, schemas, annotations),
                 how invisible characters are shown (escaped)
    scanner      the table of poisoning patterns; `scan_tool` -> findings
    changes      what changed between two lock entries, in words
    verdicts     `judge(server, lock, tools, findings)`: which tools are withheld and why
    lockfile     `tools.lock.yaml`: read and written deterministically

The gateway configuration, the controller's status and events, the operator, `lock`,
`scan` and `diff` all use these; none of them does I/O.
"""

from __future__ import annotations

from .changes import definition_changes
from .definitions import definition_hash, escape_invisible, locked_entry, one_line
from .scanner import Finding, scan_text, scan_tool
from .verdicts import ServerVerdict, ToolVerdict, judge, judge_state, lock_of

__all__ = [
    "Finding",
    "ServerVerdict",
    "ToolVerdict",
    "definition_changes",
    "definition_hash",
    "escape_invisible",
    "judge",
    "judge_state",
    "lock_of",
    "locked_entry",
    "one_line",
    "scan_text",
    "scan_tool",
]
