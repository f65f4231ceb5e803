"""`mcp-reconciler status`, `events` and `reconcile`: the standalone controller's state."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import StateError
from .app import app
from .options import Output, OutputOpt, StateDir, resolve_state_dir


def _uptime(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _fail(error: StateError) -> typer.Exit:
    typer.echo(f"error: {error.message}", err=True)
    return typer.Exit(1)


@app.command()
def status(output: OutputOpt = Output.text, state_dir: StateDir = None) -> None:
    """Show resources with phase and conditions, and servers with pid, uptime and tools."""
    from ..controller.report import status_report

    try:
        report = status_report(resolve_state_dir(state_dir))
    except StateError as error:
        raise _fail(error) from None
    if output == Output.json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    ctl = report["controller"]
    state = f"running (pid {ctl['pid']}, gateway {ctl['gateway']})" if ctl["running"] else "down"
    typer.echo(f"controller: {state}")
    revs = report["revisions"]
    applied = revs["applied"]["revision"] if revs["applied"] else "none"
    typer.echo(f"applied:    {applied}")
    attempted = revs["attempted"]
    if attempted and (not revs["applied"] or attempted["revision"] != revs["applied"]["revision"]):
        typer.secho(
            f"attempted:  {attempted['revision']} ({attempted['outcome']}): {attempted['message']}",
            fg="red",
        )
    servers = Table("SERVER", "PHASE", "PID", "UPTIME", "RESTARTS", "TOOLS", "MESSAGE")
    for server in report["servers"]:
        servers.add_row(
            server["name"],
            server["phase"] or "-",
            str(server["pid"] or "-"),
            _uptime(server["uptimeSeconds"]),
            str(server["restarts"]),
            str(server["toolCount"]),
            server["lastError"] or "",
        )
    console.print(servers)
    others = Table("KIND", "NAME", "PHASE", "READY", "MESSAGE")
    for resource in report["resources"]:
        if resource["kind"] != "MCPServer":
            others.add_row(
                resource["kind"],
                resource["name"],
                resource["phase"] or "-",
                resource["ready"],
                resource["message"] or "",
            )
    console.print(others)


@app.command()
def events(
    resource: Annotated[
        str | None, typer.Option(help="Only events of this resource, e.g. MCPServer/time.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many of the newest events.")] = 50,
    since: Annotated[float | None, typer.Option(help="Only events of the last N seconds.")] = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Show the controller's events (newest last): starts, failures, validation errors, prunes."""
    from ..controller.report import events_report

    try:
        rows = events_report(
            resolve_state_dir(state_dir),
            resource=resource,
            limit=limit,
            since=time.time() - since if since is not None else None,
        )
    except StateError as error:
        raise _fail(error) from None
    if output == Output.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("TIME", "SEVERITY", "RESOURCE", "REASON", "MESSAGE")
    for row in rows:
        when = datetime.fromtimestamp(row["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(when, row["severity"], row["resource"] or "", row["reason"], row["message"])
    Console().print(table)


@app.command()
def reconcile(output: OutputOpt = Output.text, state_dir: StateDir = None) -> None:
    """Ask the running controller to re-read its source and reconcile now."""
    from ..controller.control import request_control

    answer: dict[str, Any] | None = request_control(
        resolve_state_dir(state_dir), "POST", "/reconcile"
    )
    if answer is None:
        typer.echo(
            "error: no controller is running on this state dir; start one with "
            "`mcp-reconciler run PATH` (or pass the right --state-dir)",
            err=True,
        )
        raise typer.Exit(1)
    if output == Output.json:
        typer.echo(json.dumps(answer))
    else:
        typer.echo(
            f"reconciled: last revision {answer['lastRevision']} "
            f"({answer['lastReason']}); changes now: {answer['changes'] or 'none'}"
        )
