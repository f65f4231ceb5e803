"""`mcp-reconciler lock PATH` and `mcp-reconciler scan [PATH]`: the tool lock and the scanner.

Both take the servers' tools from the controller running on `--state-dir` when there is
one (exactly as the servers sent them), else start each server briefly; `scan --tools
FILE` reads `{server: [tool, ...]}` JSON instead.

- `lock PATH [--server S] [--update]` writes `PATH/tools.lock.yaml`; without `--update`
  it only adds servers that have no lock. Exit 0, 1 on error.
- `scan [PATH] [--tools FILE]` prints `server.tool: severity: finding: excerpt`; exit 0
  when nothing is high (or every high finding is accepted in the server's ToolLock), 2
  when something is, 1 on error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ..core.desired import DesiredState
from ..core.errors import ReconcilerError, StateError, ValidationFailed
from ..core.models import MCPServer, ToolLock, named, qualified_name
from ..secrets import SecretResolver
from ..toollock import Finding, scan_tool
from ..toollock.lockfile import LOCK_FILE, plan_locks, render_locks
from ..toollock.scanner import OtherTools, name_index
from .app import app
from .options import Output, OutputOpt, StateDir, resolve_state_dir

EXIT_CLEAN = 0
EXIT_ERROR = 1
EXIT_HIGH = 2

ServersOpt = Annotated[
    list[str] | None,
    typer.Option("--server", "-s", metavar="NAME", help="Only this server (repeatable)."),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(help="Seconds each server gets to start and list its tools (when started here)."),
]
SecretsOpt = Annotated[
    Path | None, typer.Option(help="Where secretKeyRef {name, key} resolves: DIR/name/key.")
]


@app.command()
def lock(
    path: Annotated[
        Path, typer.Argument(help="Resource directory; the lock is PATH/tools.lock.yaml.")
    ],
    server: ServersOpt = None,
    update: Annotated[
        bool,
        typer.Option("--update", help="Also rewrite the locks of servers that have one."),
    ] = False,
    timeout: TimeoutOpt = 60.0,
    secrets_dir: SecretsOpt = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Pin the servers' tool definitions in PATH/tools.lock.yaml (commit it to review them).

    Tools come from the controller running on --state-dir, else each server is started
    briefly. Without --update only servers without a lock are added.
    """
    state = resolve_state_dir(state_dir)
    try:
        if not path.is_dir():
            raise StateError(f"{path} is not a directory: lock writes PATH/{LOCK_FILE}")
        desired = _desired([path], state)
        target = path / LOCK_FILE
        existing = desired.of_kind(ToolLock)
        _refuse_elsewhere(desired, existing, target)
        servers = _servers(desired, server)
        if not update:
            locked = {(lock.metadata.ns, lock.name) for lock in existing}
            servers = [s for s in servers if (s.metadata.ns, s.name) not in locked]
        tools, failures = _discover(desired, servers, state, secrets_dir, timeout)
    except ValidationFailed as failed:
        _fail(output, *[str(p) for p in failed.problems])
    except ReconcilerError as error:
        _fail(output, f"error: {error.message}")
    discovered = {
        (s.metadata.ns, s.name): _exposed(s, found)
        for s in servers
        if (found := tools.get(s.key.qualified_name)) is not None
    }
    locks, changes = plan_locks(existing, discovered, update=update)
    text = render_locks(locks)
    written = not target.exists() or target.read_text() != text
    if locks and written:
        target.write_text(text)
    if output == Output.json:
        typer.echo(
            json.dumps(
                {
                    "file": str(target),
                    "written": bool(locks) and written,
                    "servers": [
                        {"server": c.server, "namespace": c.namespace, "action": c.action,
                         "tools": c.tools}
                        for c in changes
                    ],
                    "failures": failures,
                },
                indent=2,
            )
        )  # fmt: skip
    else:
        for change in changes:
            typer.echo(f"{change.server}: {change.action} ({change.tools} tools)")
        for name, why in sorted(failures.items()):
            typer.echo(f"{name}: not locked: {why}", err=True)
        if not changes and not failures:
            typer.echo("nothing to lock: every server has a lock (pass --update to rewrite)")
        elif locks and written:
            typer.echo(f"wrote {target}")
    raise typer.Exit(EXIT_ERROR if failures else EXIT_CLEAN)


@app.command()
def scan(
    path: Annotated[
        Path | None,
        typer.Argument(help="Resource directory [default: what the controller applied]."),
    ] = None,
    server: ServersOpt = None,
    tools_file: Annotated[
        Path | None,
        typer.Option("--tools", help="JSON {server: [tool, ...]} to scan instead of live servers."),
    ] = None,
    timeout: TimeoutOpt = 60.0,
    secrets_dir: SecretsOpt = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Check every tool definition for poisoning. Exit 0 nothing high, 2 something high, 1 error.

    Prints `server.tool: severity: finding: excerpt`; invisible characters are escaped.
    """
    state = resolve_state_dir(state_dir)
    try:
        desired: DesiredState | None = None
        if path is not None or tools_file is None:
            desired = _desired([path] if path is not None else None, state)
        if tools_file is not None:
            from ..controller.toolsources import tools_from_file

            tools = tools_from_file(tools_file)
            failures: dict[str, str] = {}
            if server:
                tools = {name: found for name, found in tools.items() if name in server}
        else:
            assert desired is not None
            servers = _servers(desired, server)
            tools, failures = _discover(desired, servers, state, secrets_dir, timeout)
            tools = {
                s.key.qualified_name: _exposed(s, found)
                for s in servers
                if (found := tools.get(s.key.qualified_name)) is not None
            }
    except ValidationFailed as failed:
        _fail(output, *[str(p) for p in failed.problems])
    except ReconcilerError as error:
        _fail(output, f"error: {error.message}")
    findings = _scan(desired, tools)
    accepted = [f for f in findings if _accepted(desired, f)]
    blocking = [f for f in findings if f.high and f not in accepted]
    count = sum(len(t) for t in tools.values())
    if output == Output.json:
        typer.echo(
            json.dumps(
                {
                    "servers": len(tools),
                    "tools": count,
                    "high": len(blocking),
                    "findings": [_finding_json(f, f in accepted) for f in findings],
                    "failures": failures,
                },
                indent=2,
            )
        )
    elif output == Output.markdown:
        typer.echo(_markdown(findings, accepted, count, len(tools)))
    else:
        for finding in findings:
            typer.echo(finding.line() + (" (accepted in ToolLock)" if finding in accepted else ""))
        for name, why in sorted(failures.items()):
            typer.echo(f"{name}: not scanned: {why}", err=True)
        highs = f"{len(blocking)} high" if blocking else "nothing high"
        typer.echo(
            f"scanned {count} tools of {len(tools)} servers: {len(findings)} findings, {highs}",
            err=True,
        )
    if failures:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_HIGH if blocking else EXIT_CLEAN)


# -- inputs


def _desired(paths: Sequence[Path] | None, state: Path) -> DesiredState:
    from ..controller.toolsources import desired_state

    return desired_state(paths, state)


def _servers(desired: DesiredState, only: Sequence[str] | None) -> list[MCPServer]:
    servers = sorted(desired.servers, key=lambda s: (s.metadata.ns, s.name))
    if only:
        unknown = sorted(n for n in set(only) if not any(named(s.key, n) for s in servers))
        if unknown:
            raise StateError(f"unknown server {', '.join(unknown)}: not declared in the paths")
        return [s for s in servers if any(named(s.key, n) for n in only)]
    return [s for s in servers if s.spec.enabled]


def _discover(
    desired: DesiredState,
    servers: Sequence[MCPServer],
    state: Path,
    secrets_dir: Path | None,
    timeout: float,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    from ..controller.toolsources import discover_tools
    from .logsetup import configure_logging

    configure_logging(fmt="console", level="warning")
    resolver = SecretResolver(secrets_dir or state / "secrets")
    return asyncio.run(
        discover_tools(desired, servers, state_dir=state, resolver=resolver, timeout=timeout)
    )


def _exposed(server: MCPServer, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        t for t in tools if isinstance(t.get("name"), str) and server.spec.tools.exposes(t["name"])
    ]


def _refuse_elsewhere(desired: DesiredState, locks: Sequence[ToolLock], target: Path) -> None:
    for lock_ in locks:
        origin = desired.origins.get(lock_.key)
        if origin is not None and Path(origin.file).resolve() != target.resolve():
            raise StateError(
                f"{origin.file}:{origin.line}: {lock_.key}: lock keeps every ToolLock in "
                f"{target}; move it there"
            )


# -- scanning


def _scan(desired: DesiredState | None, tools: dict[str, list[dict[str, Any]]]) -> list[Finding]:
    neighbours: dict[str, set[str]] = {name: {name} for name in tools}
    if desired is not None:
        for suite in desired.suites:
            ns = suite.metadata.ns
            members = [
                name
                for m in desired.suite_members(suite)
                if (name := qualified_name(ns, m.server)) in tools
            ]
            for member in members:
                neighbours[member].update(members)
    index = name_index({name: [str(t.get("name")) for t in found] for name, found in tools.items()})
    findings: list[Finding] = []
    for name in sorted(tools):
        others = OtherTools(index, name, neighbours[name])
        for tool in sorted(tools[name], key=lambda t: str(t.get("name"))):
            findings.extend(scan_tool(name, tool, others=others))
    return findings


def _accepted(desired: DesiredState | None, finding: Finding) -> bool:
    if desired is None:
        return False
    found = [
        lock_ for lock_ in desired.of_kind(ToolLock) if lock_.key.qualified_name == finding.server
    ]
    return any(lock_.spec.accepts(finding.tool, finding.kind) for lock_ in found)


def _finding_json(finding: Finding, accepted: bool) -> dict[str, Any]:
    return {
        "server": finding.server,
        "tool": finding.tool,
        "severity": finding.severity,
        "finding": finding.kind,
        "where": finding.where,
        "excerpt": finding.excerpt,
        "message": finding.message,
        "accepted": accepted,
    }


def _markdown(findings: list[Finding], accepted: list[Finding], tools: int, servers: int) -> str:
    lines = [f"**scan: {tools} tools of {servers} servers, {len(findings)} findings**"]
    if findings:
        lines += ["", "| tool | severity | finding | where | excerpt |", "|---|---|---|---|---|"]
        for f in findings:
            note = " (accepted)" if f in accepted else ""
            excerpt = f.excerpt.replace("|", "\\|").replace("`", "'")
            lines.append(
                f"| `{f.server}.{f.tool}` | {f.severity}{note} | {f.kind} | `{f.where}` | "
                f"`{excerpt}` |"
            )
    return "\n".join(lines)


def _fail(output: Output, *messages: str) -> NoReturn:
    if output == Output.json:
        typer.echo(json.dumps({"error": list(messages)}, indent=2))
    else:
        for message in messages:
            typer.echo(message, err=True)
    raise typer.Exit(EXIT_ERROR)
