"""`mcp-reconciler validate PATH...`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..loading import load_paths
from .app import app
from .options import Output, OutputOpt, StateDir


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="YAML files or directories.")],
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Check schema and cross-references of every YAML file under PATHS. Exit 0 valid, 1 invalid."""
    result = load_paths(paths)
    if output == Output.json:
        typer.echo(
            json.dumps({"valid": result.ok, "problems": [p.to_dict() for p in result.problems]})
        )
    else:
        for problem in result.problems:
            typer.echo(str(problem), err=True)
        if result.ok and result.state is not None:
            typer.echo(f"valid: {len(result.state)} resources")
    raise typer.Exit(0 if result.ok else 1)
