"""`mcp-reconciler costs [--window 24h|7d|30d] [--by provider|server|day]`: LLM spend."""

from __future__ import annotations

import enum
import json
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..core.errors import StateError
from .app import app
from .options import Output, OutputOpt, StateDir, resolve_state_dir


class CostWindow(enum.StrEnum):
    day = "24h"
    week = "7d"
    month = "30d"


class CostBy(enum.StrEnum):
    provider = "provider"
    server = "server"
    day = "day"


@app.command()
def costs(
    window: Annotated[CostWindow, typer.Option(help="Period to sum over.")] = CostWindow.week,
    by: Annotated[CostBy, typer.Option(help="One row per provider, server or UTC day.")] = (
        CostBy.provider
    ),
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """LLM calls, tokens and spend of tool enhancements (from the providers' `pricing`).

    The same totals are on the gateway's /metrics as mcp_reconciler_llm_tokens_total and
    mcp_reconciler_llm_cost_usd_total.
    """
    from ..enhancement.costs import costs_report
    from ..enhancement.store import EnhancementStore
    from ..store.database import DB_NAME

    state = resolve_state_dir(state_dir)
    if not (state / DB_NAME).is_file():
        typer.echo(
            f"error: no controller state in {state} ({DB_NAME} missing): start the controller "
            "with `mcp-reconciler run`, or pass the right --state-dir",
            err=True,
        )
        raise typer.Exit(1)
    try:
        with EnhancementStore(state / DB_NAME) as store:
            report = costs_report(store, window=window.value, by=by.value, now=time.time())
    except StateError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    if output == Output.json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(by.value.upper(), "CALLS", "FAILED", "INPUT TOKENS", "OUTPUT TOKENS", "COST")
    for row in [*report["rows"], {by.value: "total", **report["total"]}]:
        table.add_row(
            str(row[by.value]),
            str(row["calls"]),
            str(row["failedCalls"]),
            f"{row['inputTokens']:,}",
            f"{row['outputTokens']:,}",
            f"{row['cost']:.4f}",
        )
    typer.echo(f"LLM usage over {window.value} (UTC days from {report['sinceDay']}):")
    Console().print(table)
