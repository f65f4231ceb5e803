"""Command line: `mcp-reconciler` (also `python -m reconciler`). One module per command.

How a command is registered
---------------------------
1. Write the command in a module of this package: a function decorated with
   `@app.command()` (`app` from `.app`), or a group added with `app.add_typer(...)` (as
   `export` and `enhancements` are). One module may define several commands.
2. Add one line to `COMMANDS` below: the name users type, and the module defining it.

The typer application is in `.app` (`from reconciler.cli.app import app`). Nothing else
imports the command modules: the root group imports a module when its command
is looked up (`LazyCommands` in `.app`), so `validate` and `diff` start without loading
the gateway, the operator or the LLM adapters. Keep a command module's top-level imports
to what building its options needs (typer, `.app`, `.options`, the standard library);
import the rest inside the command function. `tests/test_cli_startup.py` checks that
`validate` and `diff` import none of the heavy libraries. `--help` lists `COMMANDS` in
this order.
"""

from __future__ import annotations

import sys

COMMANDS: dict[str, str] = {
    "validate": "validate",
    "diff": "diff",
    "run": "run",
    "status": "status",
    "events": "status",
    "reconcile": "status",
    "stats": "stats",
    "export": "export",
    "enhance": "enhance",
    "enhancements": "enhance",
    "operator": "operator",
    "gateway": "serve",
    "bridge": "serve",
    "lock": "toollock",
    "scan": "toollock",
    "restart": "restart",
    "logs": "logs",
    "import": "importing",
    "audit": "audit",
    "costs": "costs",
}
"""Every command of `mcp-reconciler`: its name, and the module of this package defining it."""

OFFLINE_COMMANDS = ("validate", "diff")
"""Commands run in pre-commit hooks and CI on every push: they start as fast as they can
(without typer when their arguments are plain, `offline`)."""


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in OFFLINE_COMMANDS:
        from .offline import lean_start, run_offline

        lean_start()
        run_offline(sys.argv[1], sys.argv[2:])  # exits when it ran the command
    from .app import app

    app()


__all__ = ["COMMANDS", "OFFLINE_COMMANDS", "main"]
