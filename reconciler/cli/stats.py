"""`mcp-reconciler stats`: usage of the gateway from the state store."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..core.errors import StateError
from .app import app
from .cells import cell
from .options import Output, OutputOpt, StateDir, resolve_state_dir

WINDOW_NAMES = ("1h", "24h", "7d", "30d")


@app.command()
def stats(
    window: Annotated[str, typer.Option(help="Window: 1h, 24h, 7d or 30d.")] = "24h",
    top: Annotated[int, typer.Option(help="How many tools and callers to list.")] = 10,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Show gateway usage: calls, error rate, p50/p95 latency, top and failing tools, and the
    top callers (subject, with the `sub` of the OIDC token for identity-provider callers)."""
    if window not in WINDOW_NAMES:
        raise typer.BadParameter(f"window must be one of {', '.join(WINDOW_NAMES)}")
    from ..controller.usage import usage_report
    from ..store import Store

    try:
        with Store.open_readonly(resolve_state_dir(state_dir)) as store:
            report = usage_report(store, window=window, now=time.time(), top=top)
    except StateError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    if output == Output.json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    total = report["total"]
    console.print(
        f"last {window}: {total['calls']} calls, error rate {total['errorRate'] * 100:.1f}%"
        + (f", p50 {total['p50Ms']} ms, p95 {total['p95Ms']} ms" if total["calls"] else "")
    )
    for title, rows in (("top tools", report["topTools"]), ("failing", report["failingTools"])):
        if rows:
            console.print(_table(title, rows))
    if report["callers"]:
        console.print(_callers_table(report["callers"]))


def _table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table("SUITE", "TOOL", "CALLS", "ERRORS", "P50 MS", "P95 MS", title=title)
    for row in rows:
        table.add_row(
            row["suite"],
            f"{row['server']}.{row['tool']}",
            str(row["calls"]),
            str(row["errors"]),
            str(row["p50Ms"]),
            str(row["p95Ms"]),
        )
    return table


def _callers_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("SUBJECT", "TOKEN SUB", "CALLS", "ERRORS", "P50 MS", "P95 MS", title="callers")
    for row in rows:
        table.add_row(
            row["subject"] or "-",
            cell(row["tokenSub"]),
            str(row["calls"]),
            str(row["errors"]),
            str(row["p50Ms"]),
            str(row["p95Ms"]),
        )
    return table
