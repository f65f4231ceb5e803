"""`mcp-reconciler enhance` and `mcp-reconciler enhancements list`.

`enhance --path PATH [--server S] [--tool T] [--force] [--dry-run] [--export DIR]` enhances
the tools of the servers in PATH that declare `spec.enhancement`, printing the estimated
cost before spending (and only that with `--dry-run`). Results go to `<state-dir>/state.db`,
where the controller finds them: an unchanged tool is never enhanced twice. `--export DIR`
writes the texts as reviewable YAML (`DIR/<server>.yaml`); `--pins DIR` serves reviewed
ones instead of generated text.

Tools come from what the controller discovered (`<state-dir>/state.db`), or from `--tools
FILE`: JSON `{server: [tool, ...]}` or `{server: {"tools": [...]}}` (a `tools/list` result).
Exit 0 when no tool failed, 1 otherwise (or on invalid input).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ..core.errors import ReconcilerError, StateError, ValidationFailed
from ..core.models.provider import LLMProviderSpec
from ..enhancement import (
    EnhancementProgress,
    EnhancementReport,
    EnhancementStore,
    ExportedTool,
    Pins,
    PlannedTool,
    ToolOutcome,
    enhance_tools,
    estimate_cost,
    export_enhancements,
    load_pins,
    plan_enhancement,
    providers_of,
    requests_from_desired,
)
from ..secrets import SecretResolver
from .app import app
from .options import Output, OutputOpt, StateDir, resolve_state_dir

DB_NAME = "state.db"

PathsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--path",
        "-p",
        metavar="PATH",
        help="Resource files or directories (repeatable) [default: what the controller on "
        "--state-dir applied].",
    ),
]
ServersOpt = Annotated[
    list[str] | None,
    typer.Option("--server", metavar="NAME", help="Only this server (repeatable)."),
]
ToolsFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--tools",
        help="JSON {server: [tool, ...]} of discovered tools, instead of the controller's state.",
    ),
]
PinsOpt = Annotated[
    Path | None,
    typer.Option("--pins", help="Directory of reviewed enhancements (YAML); pinned text wins."),
]

enhancements_app = typer.Typer(
    help="Inspect tool enhancements.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(enhancements_app, name="enhancements")


@app.command()
def enhance(
    path: PathsOpt = None,
    server: ServersOpt = None,
    tool: Annotated[
        list[str] | None,
        typer.Option("--tool", metavar="NAME", help="Only this tool, or glob (repeatable)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write again even what is cached.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would be enhanced and its cost; spend nothing."),
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write the enhancements as YAML to DIR/<server>.yaml."),
    ] = None,
    pins: PinsOpt = None,
    tools_file: ToolsFileOpt = None,
    secrets_dir: Annotated[
        Path | None, typer.Option(help="Where secretKeyRef {name, key} resolves: DIR/name/key.")
    ] = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Enhance tool descriptions with each server's LLMProvider. Exit 1 if any tool failed."""
    state = resolve_state_dir(state_dir)
    try:
        providers, requests = _requests(path, state, tools_file, server, tool)
        if export is not None:
            _refuse_inside(export, path or [])
        pins_dir = pins or export
        pinned = load_pins(pins_dir) if pins_dir is not None else Pins()
        store = EnhancementStore(state / DB_NAME)
    except ValidationFailed as failed:
        _fail(output, *[str(p) for p in failed.problems])
    except ReconcilerError as error:
        _fail(output, error.message)
    with store:
        plan = plan_enhancement(
            requests, providers=providers, store=store, pins=pinned, force=force
        )
        estimate = _estimate(plan, providers)
        if dry_run:
            _print_plan(output, plan, estimate)
            raise typer.Exit(0)
        if output == Output.text:
            typer.echo(_estimate_line(plan, estimate), err=True)
        resolver = SecretResolver(secrets_dir or state / "secrets")
        report = asyncio.run(
            enhance_tools(
                requests,
                providers=providers,
                store=store,
                resolver=resolver,
                force=force,
                pins=pinned,
                progress=_progress if output == Output.text else None,
            )
        )
    written = _export(export, report) if export is not None else []
    _print_report(output, report, written)
    raise typer.Exit(1 if report.counts()["failed"] else 0)


@enhancements_app.command("list")
def list_enhancements(
    path: PathsOpt = None,
    server: ServersOpt = None,
    pins: PinsOpt = None,
    tools_file: ToolsFileOpt = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Each tool's state: enhanced, pending, failed (with reason), pinned or skipped."""
    state = resolve_state_dir(state_dir)
    try:
        providers, requests = _requests(path, state, tools_file, server, None)
        pinned = load_pins(pins) if pins else Pins()
        store = EnhancementStore(state / DB_NAME)
    except ValidationFailed as failed:
        _fail(output, *[str(p) for p in failed.problems])
    except ReconcilerError as error:
        _fail(output, error.message)
    with store:
        plan = plan_enhancement(requests, providers=providers, store=store, pins=pinned)
    rows = [_row(planned) for planned in plan]
    if output == Output.json:
        typer.echo(json.dumps({"tools": rows}, indent=2))
        return
    if not rows:
        typer.echo("no tools to enhance: no server declares spec.enhancement, or none has tools")
        return
    table = [
        (r["server"], r["tool"], r["state"], r["provider"] or "-", r["detail"] or "") for r in rows
    ]
    typer.echo(_table(("SERVER", "TOOL", "STATE", "PROVIDER", "DETAIL"), table))


# -- inputs


def _requests(
    paths: Sequence[Path] | None,
    state: Path,
    tools_file: Path | None,
    servers: Sequence[str] | None,
    tools: Sequence[str] | None,
) -> tuple[dict[str, LLMProviderSpec], list[Any]]:
    from ..controller.toolsources import desired_state, recorded_tools, tools_from_file

    desired = desired_state(paths, state)
    discovered = tools_from_file(tools_file) if tools_file else recorded_tools(state)
    requests = requests_from_desired(
        desired, discovered, servers=servers or None, tool_names=tools or None
    )
    return providers_of(desired), requests


def _refuse_inside(export: Path, paths: Sequence[Path]) -> None:
    target = export.resolve()
    for path in paths:
        root = path.resolve()
        if root.is_dir() and (target == root or root in target.parents):
            raise StateError(
                f"--export {export} is inside the resource directory {path}, whose YAML "
                "files are all read as resources; export beside it (e.g. "
                f"{root.parent / 'enhancements'})"
            )


# -- output


def _progress(progress: EnhancementProgress) -> None:
    step = max(1, progress.total // 10)
    if progress.total >= 20 and (progress.done % step == 0 or progress.done == progress.total):
        failed = f", {progress.failed} failed" if progress.failed else ""
        typer.echo(f"enhancing: {progress.done}/{progress.total}{failed}", err=True)


def _estimate(
    plan: Sequence[PlannedTool], providers: Mapping[str, LLMProviderSpec]
) -> dict[str, Any]:
    per_provider = estimate_cost(plan, providers)
    return {
        "tools": sum(e.tools for e in per_provider.values()),
        "inputTokens": sum(e.input_tokens for e in per_provider.values()),
        "outputTokens": sum(e.output_tokens for e in per_provider.values()),
        "cost": sum(e.cost for e in per_provider.values()),
        "providers": {
            name: {
                "tools": e.tools,
                "inputTokens": e.input_tokens,
                "outputTokens": e.output_tokens,
                "cost": e.cost,
            }
            for name, e in per_provider.items()
        },
    }


def _estimate_line(plan: Sequence[PlannedTool], estimate: Mapping[str, Any]) -> str:
    states = _count(p.state for p in plan)
    done = ", ".join(f"{n} {s}" for s, n in states.items() if s != "todo")
    head = f"{estimate['tools']} tools to enhance" + (f" ({done})" if done else "")
    tokens = estimate["inputTokens"] + estimate["outputTokens"]
    return f"{head}; estimated {tokens} tokens, cost {estimate['cost']:.4f}"


def _print_plan(output: Output, plan: Sequence[PlannedTool], estimate: Mapping[str, Any]) -> None:
    if output == Output.json:
        rows = [_row(planned) for planned in plan]
        typer.echo(json.dumps({"dryRun": True, "estimate": estimate, "tools": rows}, indent=2))
        return
    typer.echo(_estimate_line(plan, estimate))
    table = [
        (name, str(e["tools"]), str(e["inputTokens"] + e["outputTokens"]), f"{e['cost']:.4f}")
        for name, e in estimate["providers"].items()
    ]
    if table:
        typer.echo(_table(("PROVIDER", "TOOLS", "TOKENS", "COST"), table))
    typer.echo("dry run: nothing was sent; run without --dry-run to enhance")


def _print_report(output: Output, report: EnhancementReport, written: Sequence[Path]) -> None:
    counts = report.counts()
    if output == Output.json:
        document = {
            "counts": dict(counts),
            "calls": report.calls,
            "cost": report.cost,
            "budgetExhausted": report.budget_exhausted,
            "usage": {
                name: {
                    "calls": u.calls,
                    "failedCalls": u.failed_calls,
                    "inputTokens": u.input_tokens,
                    "outputTokens": u.output_tokens,
                    "cost": u.cost,
                }
                for name, u in report.usage.items()
            },
            "tools": [_outcome_json(o) for o in report.outcomes],
            "exported": [str(p) for p in written],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    for outcome in report.outcomes:
        if outcome.state in ("failed", "pending"):
            typer.echo(
                f"{outcome.server}.{outcome.tool}: {outcome.state} ({outcome.reason}): "
                f"{outcome.message}",
                err=True,
            )
    for message in report.budget_exhausted.values():
        typer.echo(f"budget: {message}", err=True)
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no tools"
    typer.echo(f"{summary}; {report.calls} LLM calls, cost {report.cost:.4f}")
    for path in written:
        typer.echo(f"exported {path}")


def _export(directory: Path, report: EnhancementReport) -> list[Path]:
    return export_enhancements(
        directory,
        [
            ExportedTool(
                server=o.server,
                tool=o.tool,
                enhancement=o.enhancement,
                key=o.key,
                schema_hash=o.schema_hash,
                generated_by=f"{o.provider}/{o.model}" if o.model else o.provider,
            )
            for o in report.outcomes
            if o.served and o.enhancement is not None
        ],
    )


def _row(planned: PlannedTool) -> dict[str, Any]:
    outcome = planned.outcome() if planned.state != "todo" else None
    state = {"todo": "pending", "cached": "enhanced"}.get(planned.state, planned.state)
    detail: str | None
    if planned.state == "todo" and planned.record is not None:
        detail = f"{planned.record.reason}: {planned.record.error}"  # pending or due failure
        state = "failed" if planned.record.status == "failed" else "pending"
    elif planned.state == "todo":
        detail = "not enhanced yet"
    else:
        assert outcome is not None
        detail = f"{outcome.reason}: {outcome.message}" if outcome.reason else outcome.message
    provider = outcome.provider if outcome is not None else None
    return {
        "server": planned.request.server,
        "tool": planned.request.name,
        "state": state,
        "provider": provider or (planned.chain[0] if planned.chain else None),
        "model": outcome.model if outcome is not None else None,
        "description": outcome.description if outcome is not None else None,
        "detail": detail,
        "key": planned.key,
    }


def _outcome_json(outcome: ToolOutcome) -> dict[str, Any]:
    return {
        "server": outcome.server,
        "tool": outcome.tool,
        "state": outcome.state,
        "provider": outcome.provider,
        "model": outcome.model,
        "description": outcome.description,
        "metadata": outcome.enhancement.metadata() if outcome.enhancement else None,
        "reason": outcome.reason,
        "message": outcome.message,
        "key": outcome.key,
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(
            str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)
        ).rstrip()
        for line in lines
    )


def _count(states: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    return counts


def _fail(output: Output, *messages: str) -> NoReturn:
    if output == Output.json:
        typer.echo(json.dumps({"error": list(messages)}, indent=2))
    else:
        for message in messages:
            typer.echo(f"error: {message}", err=True)
    sys.stdout.flush()
    raise typer.Exit(1)
