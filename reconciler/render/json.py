"""A Diff as JSON (`-o json`): stable keys, for pipelines.

Top level:

    format           "mcp-reconciler.diff/v1"; changes only when keys are removed or renamed
    beforeRevision   revision compared against (`origin/main@sha1:<sha>`, a directory), or null
    afterRevision    revision of PATH, or null
    hasChanges       true when anything below is non-empty (the exit code is then 2)
    summary          counts: added, removed, changed, restarts, starts, stops,
                     membershipChanges, accessWidened, accessNarrowed, critical
    resources[]      resource, kind, namespace, name, change (added|removed|changed),
                     restart, lifecycle (start|stop|restart|null), fields[] (path, before,
                     after, restart), notes[], origin (FILE:LINE), toolsAdded[], toolsRemoved[]
    memberships[]    suite, server, change (joined|left|priority), priorityBefore,
                     priorityAfter, via (servers|selector), message
    access[]         direction (widened|narrowed|changed), kind, suite, subject (null: anyone),
                     patterns[], tools[], critical, permission, server, message;
                     `sandbox-*` kinds are a server's isolation (server names it, patterns
                     holds the path concerned)

`before`/`after` are display strings; a secret reference appears as its description
(`secret llm/openai`, `env $CI_BOT_TOKEN`), never as a value.
"""

from __future__ import annotations

import json

from ..diffing import Diff

FORMAT = "mcp-reconciler.diff/v1"


def render_json(diff: Diff) -> str:
    """The diff as an indented JSON document (newline-terminated)."""
    return json.dumps({"format": FORMAT, **diff.to_dict()}, indent=2, ensure_ascii=False) + "\n"
