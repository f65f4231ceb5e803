"""`mcp-reconciler audit`: who called which tool, when, and how it ended."""

from __future__ import annotations

import enum
import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..core.errors import StateError
from .app import app
from .cells import cell
from .durations import parse_duration
from .options import Output, OutputOpt, StateDir, resolve_state_dir


class AuditOutcomeChoice(enum.StrEnum):
    ok = "ok"
    error = "error"
    denied = "denied"
    unauthenticated = "unauthenticated"


@app.command()
def audit(
    subject: Annotated[
        str | None, typer.Option(help="Only calls of this caller (ToolPermission subject).")
    ] = None,
    token_sub: Annotated[
        str | None,
        typer.Option(
            "--token-sub",
            help="Only calls made with OIDC tokens of this account (the token's sub claim).",
        ),
    ] = None,
    suite: Annotated[str | None, typer.Option(help="Only calls to this suite.")] = None,
    tool: Annotated[
        str | None,
        typer.Option(help="Only this tool: a name or SERVER.TOOL, globs allowed (time.*)."),
    ] = None,
    outcome: Annotated[
        AuditOutcomeChoice | None,
        typer.Option(
            help="ok; error (failed, timed out, rate limited, ...); denied (a rule refused "
            "the tool); unauthenticated (no valid token)."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only the last DURATION (30s, 15m, 2h, 7d).", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many of the newest calls.")] = 100,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """List the gateway's calls, newest last: refused and unauthenticated attempts included.

    SUBJECT is the ToolPermission subject's name; TOKEN SUB the `sub` claim of an OIDC
    caller's token (which account of the identity provider called; empty for static
    tokens). Arguments are never stored, only their SHA-256 (ARGS). Calls reach the store
    within about a second; the gateway also logs each one as a JSON line (event: call).
    """
    from ..store import Store

    try:
        cutoff = time.time() - parse_duration(since) if since is not None else None
    except ValueError as error:
        typer.echo(f"error: --since: {error}", err=True)
        raise typer.Exit(1) from None
    try:
        with Store.open_readonly(resolve_state_dir(state_dir)) as store:
            calls = store.audit_calls(
                subject=subject,
                token_sub=token_sub,
                suite=suite,
                tool=tool,
                outcome=outcome.value if outcome else None,
                since=cutoff,
                limit=limit,
            )
    except StateError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    rows: list[dict[str, Any]] = [
        {
            "ts": call.ts,
            "time": datetime.fromtimestamp(call.ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "subject": call.subject,
            "tokenSub": call.token_sub,
            "suite": call.suite,
            "server": call.server or None,
            "tool": call.tool or None,
            "outcome": call.outcome,
            "durationMs": round(call.duration_ms, 3),
            "errorCode": call.error_code,
            "argsSha256": call.args_hash or None,
        }
        for call in calls
    ]
    if output == Output.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("TIME", "SUBJECT", "TOKEN SUB", "SUITE", "TOOL", "OUTCOME", "MS", "ARGS")
    for row in rows:
        tool_name = f"{row['server']}.{row['tool']}" if row["server"] else row["tool"] or "-"
        table.add_row(
            row["time"][:23].replace("T", " "),
            row["subject"] or "-",
            cell(row["tokenSub"]),
            row["suite"],
            cell(tool_name),
            row["outcome"] + (f" ({row['errorCode']})" if row["errorCode"] else ""),
            f"{row['durationMs']:.1f}",
            (row["argsSha256"] or "-")[:12],
        )
    Console().print(table)
