"""Options shared by every command: --state-dir and -o/--output."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from .settings import (
    BWRAP_ENV,
    DEFAULT_STATE_DIR,
    STATE_DIR_ENV,
    Output,
    default_state_dir,
    resolve_state_dir,
)

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


BwrapOpt = Annotated[
    str,
    typer.Option(
        "--bwrap",
        envvar=BWRAP_ENV,
        help="bubblewrap executable that confines servers declaring `sandbox` (name or path).",
    ),
]


__all__ = [
    "BWRAP_ENV",
    "DEFAULT_STATE_DIR",
    "STATE_DIR_ENV",
    "BwrapOpt",
    "LogFormatChoice",
    "LogFormatOpt",
    "LogOutputOpt",
    "Output",
    "OutputOpt",
    "StateDir",
    "default_state_dir",
    "log_format",
    "resolve_state_dir",
]
