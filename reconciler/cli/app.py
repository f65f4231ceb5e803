"""The typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="mcp-reconciler",
    help="GitOps for MCP servers: validate, diff, run and serve declared MCP servers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"mcp-reconciler {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """GitOps for MCP servers: validate, diff, run and serve declared MCP servers."""
