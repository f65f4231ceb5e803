"""Options shared by every command: --state-dir and -o/--output."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_STATE_DIR = ".mcp-reconciler"
STATE_DIR_ENV = "MCP_RECONCILER_STATE_DIR"


class Output(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help=f"Standalone state directory (default: ${STATE_DIR_ENV}, else ./{DEFAULT_STATE_DIR}).",
        show_default=False,
    ),
]

OutputOpt = Annotated[
    Output,
    typer.Option("--output", "-o", help="Output format: text (tables), json or markdown."),
]


def resolve_state_dir(value: Path | None) -> Path:
    return value if value is not None else default_state_dir()


class LogFormatChoice(enum.StrEnum):
    auto = "auto"
    json = "json"
    console = "console"


LogFormatOpt = Annotated[
    LogFormatChoice,
    typer.Option(
        "--log-format", help="Logs: auto (console on a terminal, else JSON), json, console."
    ),
]

LogOutputOpt = Annotated[
    Output | None,
    typer.Option(
        "--output",
        "-o",
        help="json: JSON log lines for machines (same as --log-format json); text: console.",
        show_default=False,
    ),
]


def log_format(output: Output | None, chosen: LogFormatChoice) -> LogFormatChoice:
    """`-o json` means JSON logs, `-o text` console logs; otherwise `--log-format`."""
    if output is None:
        return chosen
    return LogFormatChoice.json if output == Output.json else LogFormatChoice.console


BWRAP_ENV = "MCP_RECONCILER_BWRAP"

BwrapOpt = Annotated[
    str,
    typer.Option(
        "--bwrap",
        envvar=BWRAP_ENV,
        help="bubblewrap executable that confines servers declaring `sandbox` (name or path).",
    ),
]
