"""`mcp-reconciler diff PATH... [--against GITREF|DIR | --cluster]`: what PATH would change.

Offline, for CI: the other side is a directory, or the same paths at a git ref of the
repository they live in (read from git objects; the working tree is not touched).
Exit 0 no changes, 2 changes, 1 invalid input or unreadable source. The command's
options; its work is `comparing.run_diff`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .comparing import run_diff
from .options import Output, OutputOpt, StateDir


@app.command()
def diff(
    paths: Annotated[
        list[Path], typer.Argument(help="YAML files or directories: the proposed state.")
    ],
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="Compare with a directory, or with PATHS at a git ref (origin/main, HEAD~1).",
            show_default=False,
        ),
    ] = None,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="Compare with the custom resources in the current Kubernetes cluster.",
        ),
    ] = False,
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace, with --cluster.")
    ] = "default",
    kubeconfig: Annotated[
        Path | None, typer.Option(help="kubeconfig file, with --cluster [default: as kubectl].")
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context, with --cluster.")] = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Show what applying PATHS would change. Exit 0 no changes, 2 changes, 1 error.

    Without --against, compares with what the standalone controller on --state-dir applied
    (running or not), and lists the concrete tools whose access changes.
    """
    raise typer.Exit(
        run_diff(
            paths,
            against=against,
            cluster=cluster,
            namespace=namespace,
            kubeconfig=kubeconfig,
            context=context,
            output=output,
            state_dir=state_dir,
        )
    )
