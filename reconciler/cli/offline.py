"""`validate` and `diff` started without typer, when their arguments are plain.

typer costs an eighth of the instructions of a `validate`: its import, and a pydantic
validator built for each parameter when parsing. These two commands run in pre-commit
hooks and CI on every push, with plain arguments: paths and a few options, each given
once. For such arguments `run_offline` parses them here and runs the command's work
(`validating.run_validate`, `comparing.run_diff`), which prints what the typer command
prints and ends with the same exit status. Anything else (`--help`, an unknown or
repeated option, a missing or odd value, `--cluster`, `--`, no path) returns to the
caller, which hands the command line to typer: its messages stay typer's own.
`tests/test_cli_offline.py` runs the same command lines both ways.

The process is short and pays mostly for start-up, so `lean_start` sets it up first: no
look-up of pydantic plugins, and no cycle collection while the command's modules are
imported (see each function).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from .echo import plain_streams
from .settings import BWRAP_ENV, Output

_OPTIONS: dict[str, dict[str, str]] = {
    "validate": {
        "--output": "output",
        "-o": "output",
        "--bwrap": "bwrap",
        "--state-dir": "state_dir",
    },
    "diff": {
        "--against": "against",
        "--namespace": "namespace",
        "-n": "namespace",
        "--kubeconfig": "kubeconfig",
        "--context": "context",
        "--output": "output",
        "-o": "output",
        "--state-dir": "state_dir",
    },
}
"""Options taking a value, by spelling, for each command; the parameter each sets."""


def parse(command: str, args: Sequence[str]) -> tuple[list[Path], dict[str, str]] | None:
    """Paths and option values when every argument is plain; None to leave it to typer."""
    spellings = _OPTIONS.get(command)
    if spellings is None:
        return None
    paths: list[Path] = []
    values: dict[str, str] = {}
    pending = list(args)
    while pending:
        arg = pending.pop(0)
        if not arg.startswith("-"):
            paths.append(Path(arg))
            continue
        name, equals, value = arg.partition("=")
        if not equals:
            if not pending:
                return None
            value = pending.pop(0)
        elif not name.startswith("--"):
            return None  # `-o=json` is not what it seems to click
        parameter = spellings.get(name)
        if parameter is None or parameter in values or not value or value.startswith("-"):
            return None
        values[parameter] = value
    if not paths or any(not str(arg) for arg in args):
        return None
    if "output" in values and values["output"] not in Output.__members__:
        return None
    return paths, values


_PLUGINS_DISABLED = ("__all__", "1", "true")
"""Values of `PYDANTIC_DISABLE_PLUGINS` with which pydantic loads no plugin at all."""
_PLUGIN_LOADER = "pydantic.plugin._loader"


def lean_start() -> None:
    """Set up this interpreter for `validate` or `diff`, before anything imports pydantic.

    Plugins: pydantic's documented switch, `PYDANTIC_DISABLE_PLUGINS`, spares the scan of
    every installed distribution for plugins (observability hooks an offline check has
    no use for); a value the user set is kept. When it disables every plugin, pydantic's
    `get_plugins` returns nothing without looking, but the module holding it imports
    `importlib.metadata` at its top (email, zipfile, csv: a tenth of a `validate`) when the
    first validator is built: a stand-in module answers in its place, with what pydantic's
    own would answer. Anything else asked of it loads pydantic's module after all.
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ["PYDANTIC_DISABLE_PLUGINS"] in _PLUGINS_DISABLED:
        sys.modules.setdefault(_PLUGIN_LOADER, _no_plugins_loader())


def _no_plugins_loader() -> types.ModuleType:
    stand_in = types.ModuleType(_PLUGIN_LOADER, "pydantic's plugin loader, plugins disabled")

    def get_plugins() -> tuple[()]:
        return ()

    def __getattr__(name: str) -> object:
        if name.startswith("__"):  # what the import system looks for (`__path__`...)
            raise AttributeError(name)
        if sys.modules.get(_PLUGIN_LOADER) is stand_in:
            del sys.modules[_PLUGIN_LOADER]
        return getattr(importlib.import_module(_PLUGIN_LOADER), name)

    stand_in.get_plugins = get_plugins  # type: ignore[attr-defined]
    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    return stand_in


@contextlib.contextmanager
def _importing() -> Iterator[None]:
    """No cycle collection while the command's modules are imported.

    Importing pydantic, PyYAML and the models creates a few hundred thousand objects and
    no garbage; the collector would walk them again and again (a twentieth of a
    `validate`). Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _exit(status: int) -> NoReturn:
    """Exit with `status`. What is alive now stays alive until the process ends: frozen,
    the interpreter's last collections at exit skip it instead of walking it all."""
    gc.freeze()
    raise SystemExit(status)


def run_offline(command: str, args: Sequence[str]) -> None:
    """Run the command and exit with its status, when its arguments are plain; else return."""
    parsed = parse(command, args)
    if parsed is None or not plain_streams():
        return
    paths, values = parsed
    output = Output(values.get("output", Output.text.value))
    if command == "validate":
        with _importing():
            from .validating import run_validate

        bwrap = values.get("bwrap") or os.environ.get(BWRAP_ENV) or "bwrap"
        _exit(run_validate(paths, output=output, bwrap=bwrap))
    with _importing():
        from .comparing import run_diff

    kubeconfig, state_dir = values.get("kubeconfig"), values.get("state_dir")
    _exit(
        run_diff(
            paths,
            against=values.get("against"),
            cluster=False,
            namespace=values.get("namespace", "default"),
            kubeconfig=Path(kubeconfig) if kubeconfig is not None else None,
            context=values.get("context"),
            output=output,
            state_dir=Path(state_dir) if state_dir is not None else None,
        )
    )
