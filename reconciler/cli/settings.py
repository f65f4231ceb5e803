"""Plain values of the options shared by commands, importable without typer."""

from __future__ import annotations

import enum
import os
import signal
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


def stop_on_ctrl_c() -> None:
    """Make Ctrl-C (SIGINT) end a follow (`events -f`, `logs -f`) with status 0 even when
    the process started with SIGINT ignored, as background jobs of a non-interactive
    shell and the programs they start do: such a follower would otherwise never stop."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
