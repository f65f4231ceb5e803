"""`mcp-reconciler export client-config`: an MCP client's configuration for a suite."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..clientconfig import Client, client_config
from .app import app
from .options import Output, OutputOpt, StateDir, resolve_state_dir

DEFAULT_GATEWAY = "http://127.0.0.1:8765"

export_app = typer.Typer(
    help="Export configuration for other tools.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(export_app, name="export")


@export_app.command("client-config")
def export_client_config(
    suite: Annotated[str, typer.Option(help="Suite to connect to.")],
    client: Annotated[Client, typer.Option(help="Client to configure.")] = Client.claude_code,
    gateway: Annotated[
        str | None,
        typer.Option(
            help="Gateway base URL [default: the running controller's (STATE_DIR/gateway.url), "
            f"else {DEFAULT_GATEWAY}].",
            show_default=False,
        ),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the caller's bearer token (the token is never "
            "written out). Omit for a suite without ToolPermissions."
        ),
    ] = None,
    output: OutputOpt = Output.text,
    state_dir: StateDir = None,
) -> None:
    """Print an MCP client's configuration pointing at a suite of the gateway."""
    if gateway is None:
        recorded = resolve_state_dir(state_dir) / "gateway.url"
        gateway = recorded.read_text().strip() if recorded.is_file() else DEFAULT_GATEWAY
    url = f"{gateway.rstrip('/')}/suites/{suite}/mcp"
    config = client_config(client, suite=suite, url=url, token_env=token_env)
    if isinstance(config, str):
        typer.echo(json.dumps({"command": config}) if output == Output.json else config)
    else:
        typer.echo(json.dumps(config, indent=2))
