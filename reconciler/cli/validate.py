"""`mcp-reconciler validate PATH...`: schema and cross-reference check, for humans and CI.

The command's options; its work is `validating.run_validate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .options import BwrapOpt, Output, OutputOpt, StateDir
from .validating import run_validate


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="YAML files or directories.")],
    output: OutputOpt = Output.text,
    bwrap: BwrapOpt = "bwrap",
    state_dir: StateDir = None,
) -> None:
    """Check schema and cross-references of every YAML file under PATHS. Exit 0 valid, 1 invalid."""
    raise typer.Exit(run_validate(paths, output=output, bwrap=bwrap))
