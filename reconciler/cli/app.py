"""The typer application every command module registers on, and its lazy command group.

The group knows every command by name (`COMMANDS` in `reconciler/cli/__init__.py`) but
imports a command's module only when that command is looked up: running `validate` never
imports what `run`, `operator` or `enhance` need. `--help` looks up, and so imports, all.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup


class LazyCommands(TyperGroup):
    """A command group that imports the module of a command on its first lookup."""

    def list_commands(self, ctx: Any) -> list[str]:
        listed = super().list_commands(ctx)
        return [*listed, *(name for name in _lazy_commands() if name not in listed)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _lazy_commands():
            importlib.import_module(f"{__package__}.{_lazy_commands()[cmd_name]}")
            registered = typer.main.get_group(app).commands
            if cmd_name not in registered:
                raise RuntimeError(
                    f"reconciler.cli.{_lazy_commands()[cmd_name]} registers no command "
                    f"{cmd_name!r} (see COMMANDS in reconciler/cli/__init__.py)"
                )
            self.commands[cmd_name] = registered[cmd_name]
        return super().get_command(ctx, cmd_name)


def _lazy_commands() -> dict[str, str]:
    from . import COMMANDS  # the package is imported before any of its modules

    return COMMANDS


app = typer.Typer(
    name="mcp-reconciler",
    help="GitOps for MCP servers: validate, diff, run and serve declared MCP servers.",
    cls=LazyCommands,
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
