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
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

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


def run_offline(command: str, args: Sequence[str]) -> None:
    """Run the command and exit with its status, when its arguments are plain; else return."""
    parsed = parse(command, args)
    if parsed is None or not plain_streams():
        return
    paths, values = parsed
    output = Output(values.get("output", Output.text.value))
    if command == "validate":
        from .validating import run_validate

        bwrap = values.get("bwrap") or os.environ.get(BWRAP_ENV) or "bwrap"
        raise SystemExit(run_validate(paths, output=output, bwrap=bwrap))
    from .comparing import run_diff

    kubeconfig, state_dir = values.get("kubeconfig"), values.get("state_dir")
    raise SystemExit(
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
