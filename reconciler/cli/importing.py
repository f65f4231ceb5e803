"""`mcp-reconciler import --from CLIENT [FILE] [--out DIR] [--suite NAME]`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ..core.errors import InvalidInput
from ..importing import (
    ClientConfigError,
    ClientKind,
    Surroundings,
    convert,
    default_file,
    parse_client_config,
    write_import,
)
from .app import app
from .options import Output, OutputOpt, StateDir, resolve_state_dir


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@app.command("import")
def import_config(
    client: Annotated[
        ClientKind, typer.Option("--from", help="The client whose configuration to import.")
    ],
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Its configuration file [default: the client's usual file].", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write DIR/servers.yaml [default: print the YAML on standard output].",
            show_default=False,
        ),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(help="Name of the MCPSuite of all imported servers [default: the client]."),
    ] = None,
    secrets_dir: Annotated[
        Path | None,
        typer.Option(help="Where secret values are written [default: STATE_DIR/secrets]."),
    ] = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Turn an MCP client's configuration into MCPServer YAML plus one MCPSuite.

    stdio and remote servers with their args, env, headers and cwd are converted. Every
    env and header value becomes a secret reference: its value is written to the secrets
    directory (SECRETS/<server>/<NAME>, mode 0600), never into the YAML; `${env:VAR}` (or
    `${VAR}` for Claude Code) becomes a reference to the controller's environment. Fields
    that are not imported are reported. A file that cannot be read: FILE:LINE: message,
    exit 1.
    """
    cwd, home = Path.cwd(), Path.home()
    path = file if file is not None else default_file(client, cwd=cwd, home=home)
    text = _read(path)
    if text is None:
        _fail(
            f"{path}: cannot read the {client.value} configuration"
            + ("" if file is not None else "; pass its path as FILE")
        )
    try:
        config = parse_client_config(text, file=str(path), client=client, project=str(cwd))
    except ClientConfigError as error:
        _fail(str(error))
    if not config.servers:
        _fail(f"{path}:1: no MCP servers to import")
    workspace = (
        path.resolve().parent.parent
        if path.resolve().parent.name in (".vscode", ".cursor", ".windsurf")
        else cwd
    )
    around = Surroundings(environ=dict(os.environ), home=home, workspace=workspace, read_text=_read)
    conversion = convert(config, suite=suite or client.value, around=around)
    secrets = secrets_dir or resolve_state_dir(state_dir) / "secrets"
    try:
        written = write_import(conversion, out_dir=out, secrets_dir=secrets)
    except InvalidInput as error:
        _fail(f"{path}: the imported resources do not validate: {error.message}")
    notes = [
        {"file": str(path), "line": n.line, "severity": n.severity, "message": n.message}
        for n in conversion.notes
    ]
    missing = [str(secrets / name / key) for name, key in conversion.missing]
    if output == Output.json:
        typer.echo(
            json.dumps(
                {
                    "file": str(path),
                    "client": client.value,
                    "servers": [
                        d["metadata"]["name"]
                        for d in conversion.documents
                        if d["kind"] == "MCPServer"
                    ],
                    "suite": suite or client.value,
                    "documents": conversion.documents,
                    "yamlFile": str(written.yaml_file) if written.yaml_file else None,
                    "secretFiles": [str(p) for p in written.secret_files],
                    "secretsToWrite": missing,
                    "notes": notes,
                },
                indent=2,
            )
        )
        return
    for note in notes:
        typer.echo(
            f"{note['file']}:{note['line']}: {note['severity']}: {note['message']}", err=True
        )
    if written.yaml_file is None:
        typer.echo(written.yaml_text, nl=False)
    count = sum(1 for d in conversion.documents if d["kind"] == "MCPServer")
    summary = f"imported {count} servers into suite {suite or client.value}"
    if written.yaml_file is not None:
        summary += f": {written.yaml_file}"
    if written.secret_files:
        summary += f"; {len(written.secret_files)} secret values written under {secrets}"
    typer.echo(summary, err=written.yaml_file is None)
    for target in missing:
        typer.echo(f"to do: write the value to {target}", err=written.yaml_file is None)


def _fail(message: str) -> NoReturn:
    """Exit 1 with `FILE[:LINE]: message` on standard error."""
    typer.echo(message, err=True)
    raise typer.Exit(1)
