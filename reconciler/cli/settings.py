"""Plain values of the options shared by commands, importable without typer."""

from __future__ import annotations

import enum
import os
from pathlib import Path

DEFAULT_STATE_DIR = ".mcp-reconciler"
STATE_DIR_ENV = "MCP_RECONCILER_STATE_DIR"
BWRAP_ENV = "MCP_RECONCILER_BWRAP"


class Output(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def resolve_state_dir(value: Path | None) -> Path:
    return value if value is not None else default_state_dir()
