"""`mcp-reconciler status`, `events` and `reconcile`: the standalone controller's state."""

from __future__ import annotations

import enum
import json
import sys
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from ..core.errors import StateError
from .app import app
from .options import Output, OutputOpt, StateDir, resolve_state_dir
from .settings import stop_on_ctrl_c


class EventSeverityChoice(enum.StrEnum):
    info = "info"
    warning = "warning"
    error = "error"


def _uptime(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _tools_cell(server: dict[str, Any]) -> str:
    withheld = server.get("withheldTools") or []
    count = str(server["toolCount"])
    return f"{count} ({len(withheld)} withheld)" if withheld else count


def _withheld_note(server: dict[str, Any]) -> str:
    withheld = server.get("withheldTools") or []
    return f"withheld by ToolLock/scan: {', '.join(withheld)}" if withheld else ""


def _reason(server: dict[str, Any]) -> str | None:
    """The reason of a server's Ready condition, when it says more than its phase."""
    reason = server.get("reason")
    return None if reason in (None, server["phase"], "Succeeded") else str(reason)


def _fail(error: StateError) -> typer.Exit:
    typer.echo(f"error: {error.message}", err=True)
    return typer.Exit(1)


@app.command()
def status(output: OutputOpt = Output.text, state_dir: StateDir = None) -> None:
    """Show resources with phase and conditions, and servers with pid, uptime and tools."""
    from ..controller.report import status_report
    from ..core.models import qualified_name

    try:
        report = status_report(resolve_state_dir(state_dir))
    except StateError as error:
        raise _fail(error) from None
    if output == Output.json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    ctl = report["controller"]
    if ctl["running"]:
        typer.echo(f"controller: running (pid {ctl['pid']}, gateway {ctl['gateway']})")
    else:
        seen = ctl.get("lastSeenSeconds")
        when = f", last seen {_uptime(seen)} ago" if seen is not None else ""
        typer.secho(
            f"controller: not running{when}; server states below are as last seen, not current",
            fg="yellow",
        )
    revs = report["revisions"]
    applied = revs["applied"]["revision"] if revs["applied"] else "none"
    typer.echo(f"applied:    {applied}")
    attempted = revs["attempted"]
    if attempted and (not revs["applied"] or attempted["revision"] != revs["applied"]["revision"]):
        typer.secho(
            f"attempted:  {attempted['revision']} ({attempted['outcome']}): {attempted['message']}",
            fg="red",
        )
    # why a server is not Ready (RestartsExhausted, OAuthClientRejected, ...): a column of
    # its own when some server has a reason the phase does not already say
    reasons = [_reason(server) for server in report["servers"]]
    with_reasons = any(reasons)
    # Names are never wrapped (`team-a/time` reads as one); the message column gives way.
    servers = Table(
        Column("SERVER", no_wrap=True),
        "PHASE",
        *(["REASON"] if with_reasons else []),
        "PID",
        "UPTIME",
        "RESTARTS",
        "TOOLS",
        "MESSAGE",
    )
    for server, reason in zip(report["servers"], reasons, strict=True):
        phase = server["phase"] or "-"
        if server.get("asLastSeen"):
            phase = f"{phase} (last seen {_uptime(server['ageSeconds'])} ago)"
        servers.add_row(
            qualified_name(server["namespace"], server["name"]),
            phase,
            *([reason or "-"] if with_reasons else []),
            str(server["pid"] or "-"),
            _uptime(server["uptimeSeconds"]),
            str(server["restarts"]),
            _tools_cell(server),
            server["lastError"] or _withheld_note(server),
        )
    console.print(servers)
    others = Table("KIND", Column("NAME", no_wrap=True), "PHASE", "READY", "MESSAGE")
    for resource in report["resources"]:
        if resource["kind"] != "MCPServer":
            others.add_row(
                resource["kind"],
                qualified_name(resource["namespace"], resource["name"]),
                resource["phase"] or "-",
                resource["ready"],
                resource["message"] or "",
            )
    console.print(others)


@app.command()
def events(
    resource: Annotated[
        str | None,
        typer.Option(
            help="Only events of this resource, e.g. MCPServer/time or MCPServer/team-a/time."
        ),
    ] = None,
    severity: Annotated[
        EventSeverityChoice | None, typer.Option(help="Only events of this severity.")
    ] = None,
    type_: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="Only events of this type: a category (server, server-stderr, source,"
            " validation, prune, enhancement, provider) or a reason (Restarted, BackOff, ...).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many of the newest events.")] = 50,
    since: Annotated[float | None, typer.Option(help="Only events of the last N seconds.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")
    ] = False,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Show the controller's events (newest last): starts, failures, validation errors, prunes.

    With --follow, new events are printed as they happen (one JSON object per line with
    -o json).
    """
    from ..controller.report import events_report

    state = resolve_state_dir(state_dir)
    try:
        filters: dict[str, Any] = {
            "resource": resource,
            "severity": severity.value if severity else None,
            "type_": type_,
        }
        rows = events_report(
            state,
            limit=limit,
            since=time.time() - since if since is not None else None,
            **filters,
        )
        if not follow:
            _print_events(rows, output, table=True)
            return
        stop_on_ctrl_c()
        _print_events(rows, output, table=False)
        last = rows[-1]["id"] if rows else 0
        while True:
            time.sleep(0.5)
            rows = events_report(state, limit=1000, after_id=last, **filters)
            _print_events(rows, output, table=False)
            last = rows[-1]["id"] if rows else last
    except StateError as error:
        raise _fail(error) from None
    except KeyboardInterrupt:
        return


def _print_events(rows: list[dict[str, Any]], output: Output, *, table: bool) -> None:
    if output == Output.json and table:
        typer.echo(json.dumps(rows, indent=2))
        return
    if output == Output.json:  # following: one object per line, flushed as they come
        for row in rows:
            typer.echo(json.dumps(row))
        sys.stdout.flush()
        return
    lines = Table("TIME", "SEVERITY", "RESOURCE", "REASON", "MESSAGE") if table else None
    for row in rows:
        when = datetime.fromtimestamp(row["ts"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        cells = (when, row["severity"], row["resource"] or "-", row["reason"], row["message"])
        if lines is not None:
            lines.add_row(*cells)
        else:
            typer.echo("  ".join(cells))
    if lines is not None:
        Console().print(lines)


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
