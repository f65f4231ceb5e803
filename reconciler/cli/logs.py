"""`mcp-reconciler logs SERVER [-f] [--since DURATION] [--tail N]`: a server's stderr."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ..core.errors import StateError
from ..core.models import qualified_name
from .app import app
from .durations import parse_duration
from .options import Output, OutputOpt, StateDir, resolve_state_dir
from .settings import stop_on_ctrl_c


@app.command()
def logs(
    server: Annotated[str, typer.Argument(help="The server (NAME, or NAMESPACE/NAME).")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only lines of the last DURATION (30s, 15m, 2h, 7d).", show_default=False
        ),
    ] = None,
    tail: Annotated[
        int | None, typer.Option(help="Only the last N lines.", show_default=False)
    ] = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Show a server's stderr, with the time each line was written.

    Kept per server in size-capped, rotated files under the state directory
    (logs/NAMESPACE/SERVER.log), with the controller up or down. In Kubernetes the
    server's pod has it: `kubectl logs deploy/mcp-server-SERVER`.
    """
    from ..controller.serverlogs import follow_lines, log_path, log_position, read_lines

    state = resolve_state_dir(state_dir)
    try:
        cutoff = time.time() - parse_duration(since) if since is not None else None
    except ValueError as error:
        raise _fail(f"--since: {error}") from None
    namespace, name = _locate(state, server)
    path = log_path(state, namespace, name)
    as_json = output == Output.json
    start = log_position(path)  # before reading: a line written meanwhile is not lost
    lines = read_lines(path, since=cutoff, tail=tail)
    if as_json and not follow:
        typer.echo(json.dumps([line.as_json(name) for line in lines], indent=2))
        return
    try:
        for line in lines:
            _print(line.as_json(name), as_json=as_json)
        if follow:
            stop_on_ctrl_c()
            sys.stdout.flush()
            for line in follow_lines(path, start=start):
                _print(line.as_json(name), as_json=as_json)
                sys.stdout.flush()
    except KeyboardInterrupt:
        return


def _print(row: dict[str, object], *, as_json: bool) -> None:
    typer.echo(json.dumps(row) if as_json else f"{row['time']}  {row['line']}")


def _locate(state_dir: Path, server: str) -> tuple[str, str]:
    """(namespace, name) of a declared server (or one with logs); exit 1 when unknown."""
    from ..controller.serverlogs import LOGS_DIR
    from ..store import Store

    namespace, _, name = server.rpartition("/")
    known: set[tuple[str, str]] = set()
    try:
        with Store.open_readonly(state_dir) as store:
            known = {(r.key.namespace, r.key.name) for r in store.statuses(kind="MCPServer")}
    except StateError as error:
        if not (state_dir / LOGS_DIR).is_dir():
            raise _fail(error.message) from None
    logs_dir = state_dir / LOGS_DIR
    if logs_dir.is_dir():
        known |= {(p.parent.name, p.name.removesuffix(".log")) for p in logs_dir.glob("*/*.log")}
    matches = sorted(k for k in known if k[1] == name and (not namespace or k[0] == namespace))
    if not matches:
        names = ", ".join(sorted({qualified_name(*k) for k in known})) or "none"
        raise _fail(f"unknown server {server!r} in {state_dir} (servers: {names})")
    if len(matches) > 1:
        choices = ", ".join(f"{ns}/{n}" for ns, n in matches)
        raise _fail(f"server {server!r} is in several namespaces; name one of: {choices}")
    return matches[0]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)
