"""`mcp-reconciler restart SERVER... | --all [--kube]`: restart servers now.

Standalone, the running controller replaces each server's process (a Stalled server gets
a fresh set of tries) and answers with the new pid. With `--kube`, each MCPServer is
annotated `mcp.reconciler.dev/restartedAt` and the operator rolls its Deployment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..core.errors import ReconcilerError
from .app import app
from .options import Output, OutputOpt, StateDir, resolve_state_dir


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command()
def restart(
    servers: Annotated[
        list[str] | None,
        typer.Argument(
            help="Servers to restart: name, or namespace/name outside the default namespace.",
            show_default=False,
        ),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Restart every running server.")] = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for each server to be Ready again.")
    ] = 60.0,
    kube: Annotated[
        bool,
        typer.Option("--kube", help="Restart MCPServers in a Kubernetes cluster (the operator)."),
    ] = False,
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="With --kube.")] = "default",
    kubeconfig: Annotated[
        Path | None, typer.Option(help="kubeconfig file, with --kube [default: as kubectl].")
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context, with --kube.")] = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Restart servers now; also revives a Stalled server.

    Standalone: through the running controller (exit 1 when none runs or a server is
    unknown); `status` then shows the new pid and a `Restarted` event is recorded. With
    --kube: annotates each MCPServer with mcp.reconciler.dev/restartedAt; the operator
    rolls its Deployment like `kubectl rollout restart` and clears Stalled.
    """
    from ..core.models import qualified_name

    names = list(servers or [])
    if bool(names) == every:
        raise _fail("name the servers to restart, or pass --all (not both)")
    if kube:
        rows = _restart_in_cluster(names, every, namespace, kubeconfig, context)
    else:
        rows = _restart_standalone(names, every, wait, resolve_state_dir(state_dir))
    if output == Output.json:
        typer.echo(json.dumps({"restarted": rows}, indent=2))
        return
    if not rows:
        typer.echo("no servers to restart")
        return
    if kube:
        table = Table("NAMESPACE", "SERVER", "PHASE BEFORE", "RESTARTED AT")
        for row in rows:
            table.add_row(
                row["namespace"], row["name"], row["previousPhase"] or "-", row["restartedAt"]
            )
    else:
        table = Table("SERVER", "OLD PID", "NEW PID", "PHASE", "MESSAGE")
        for row in rows:
            table.add_row(
                qualified_name(row["namespace"], row["name"]),
                str(row["previousPid"] or "-"),
                str(row["pid"] or "-"),
                row["phase"],
                ("was Stalled; " if row["wasStalled"] else "") + (row["error"] or ""),
            )
    Console().print(table)


def _restart_standalone(
    names: list[str], every: bool, wait: float, state_dir: Path
) -> list[dict[str, Any]]:
    from ..controller.control import ControlRefused, request_control

    try:
        answer = request_control(
            state_dir,
            "POST",
            "/restart",
            body={"servers": names, "all": every, "waitSeconds": wait},
            timeout=wait + 60,
        )
    except ControlRefused as refused:
        raise _fail(str(refused)) from None
    if answer is None:
        raise _fail(
            f"no controller is running on {state_dir}; start one with `mcp-reconciler run "
            "PATH` (or pass the right --state-dir), or use --kube for a cluster"
        )
    rows: list[dict[str, Any]] = answer["restarted"]
    return rows


def _restart_in_cluster(
    names: list[str], every: bool, namespace: str, kubeconfig: Path | None, context: str | None
) -> list[dict[str, Any]]:
    from ..operator.restarts import request_restarts

    try:
        requests = request_restarts(
            namespace, names, every=every, kubeconfig=kubeconfig, context=context
        )
    except ReconcilerError as error:
        raise _fail(error.message) from None
    return [request.as_json() for request in requests]
