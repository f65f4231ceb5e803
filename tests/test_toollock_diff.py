"""`diff` shows every ToolLock change per tool, in words, in text, JSON and Markdown."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.desired import DesiredState
from reconciler.core.models import MCPServer, ToolLock
from reconciler.diffing import diff_states
from reconciler.render import render
from reconciler.toollock import lock_of

SERVER = MCPServer.model_validate(
    {"metadata": {"name": "time"}, "spec": {"command": "mcp-server-time"}}
)
GET_TIME: dict[str, Any] = {
    "name": "get_time",
    "description": "Get the current time.",
    "inputSchema": {
        "type": "object",
        "properties": {"timezone": {"type": "string"}},
        "required": ["timezone"],
    },
}
CONVERT: dict[str, Any] = {"name": "convert", "description": "Convert a time."}


def state(*tools: dict[str, Any], mode: str = "enforce", **spec: Any) -> DesiredState:
    locked = {name: entry.model_dump() for name, entry in lock_of(tools).items()}
    lock = ToolLock.model_validate(
        {"metadata": {"name": "time"}, "spec": {"mode": mode, "tools": locked, **spec}}
    )
    return DesiredState.of([SERVER, lock])


AFTER = state(
    {
        **GET_TIME,
        "description": "Get the time.\u200b",
        "inputSchema": {
            "type": "object",
            "properties": {"timezone": {"type": "integer"}, "note": {"type": "string"}},
            "required": ["note"],
        },
    },
    {
        "name": "fresh",
        "description": "New.",
        "inputSchema": {"properties": {"x": {"type": "integer"}}},
    },
    accepted=[{"tool": "get_time", "finding": "hidden-characters"}],
)


def test_each_tool_change_is_described_in_words_in_text() -> None:
    text = render(diff_states(state(GET_TIME, CONVERT), AFTER), "text")
    assert "~ ToolLock/time changed" in text
    assert "    convert: unlocked" in text
    assert "    get_time: re-locked (definition changed)" in text
    assert (
        '      description changed from "Get the current time." to "Get the time.\\u200b"' in text
    )
    assert "      parameter note added (string, required)" in text
    assert "      parameter timezone type changed from string to integer" in text
    assert "      parameter timezone is now optional" in text
    assert "    fresh: locked" in text
    assert "      parameters: x (integer)" in text
    assert "      scan finding hidden-characters accepted: served despite it" in text
    assert "spec.tools" not in text  # no hashes: the words say it


def test_json_and_markdown_carry_the_same_tool_changes() -> None:
    diff = diff_states(state(GET_TIME, CONVERT), AFTER)
    (change,) = json.loads(render(diff, "json"))["resources"]
    by_tool = {(c["tool"], c["change"]): c["details"] for c in change["toolLock"]}
    assert by_tool[("convert", "removed")] == ["no longer locked"]
    assert "parameter note added (string, required)" in by_tool[("get_time", "changed")]
    markdown = render(diff, "markdown")
    assert "#### Tool lock" in markdown
    assert "- `ToolLock/time` `get_time`: ⚠️ **re-locked: definition changed**" in markdown
    assert "  - parameter note added (string, required)" in markdown


def test_a_mode_change_says_what_is_served() -> None:
    text = render(diff_states(state(GET_TIME), state(GET_TIME, mode="warn")), "text")
    assert 'spec.mode: "enforce" -> "warn"' in text
    assert "drifted and unlocked tools of time are served (with warnings)" in text


def test_an_unchanged_lock_is_no_change() -> None:
    assert not diff_states(state(GET_TIME, CONVERT), state(CONVERT, GET_TIME)).has_changes
