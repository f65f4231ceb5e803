"""How a declared server is started: its spec resolved into a LaunchSpec or remote headers.

Pure: what the machine knows (secrets, what is on `PATH`, what sits beside the
interpreter) comes in as functions, so every rule is a row of a table test.

    command "./srv.py"   ─► relative to workingDir, else to the directory of its file
    command "uvx"        ─► itself when on PATH, else the same name beside the interpreter
                            (installed in mcp-reconciler's virtualenv, not activated)
    workingDir "data"    ─► relative to the directory of the server's file
    env / headers        ─► literal values, or `valueFrom` resolved (SecretNotFound ─►
                            ServerError reason SecretNotFound)
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import SecretNotFound, ServerError
from ..core.models import MCPServer, NamedValue, ValueSource
from .supervisor import LaunchSpec

Resolve = Callable[[ValueSource], str]
"""The value of a `valueFrom` (a secret file or an environment variable)."""


@dataclass(frozen=True, slots=True)
class Machine:
    """What launch resolution asks of the machine it runs on."""

    resolve: Resolve
    on_path: Callable[[str], bool]
    """Whether a bare command name is found on `PATH`."""
    beside_interpreter: Callable[[str], Path | None]
    """The executable of that name next to the running interpreter, if there is one."""


def launch_spec(server: MCPServer, *, base_dir: Path, machine: Machine) -> LaunchSpec:
    """The process to start for a stdio server declared in a file in `base_dir`."""
    spec = server.spec
    assert spec.command is not None
    env = resolved(spec.env, machine.resolve)
    working_dir = (base_dir / spec.working_dir).resolve() if spec.working_dir else None
    command = spec.command
    if "/" in command and not Path(command).is_absolute():
        command = str((working_dir or base_dir) / command)
    elif "/" not in command and not machine.on_path(command):
        beside = machine.beside_interpreter(command)
        if beside is not None:
            command = str(beside)
    return LaunchSpec(command, spec.args, env, working_dir, spec.limits)


def remote_headers(server: MCPServer, *, resolve: Resolve) -> dict[str, str]:
    """The HTTP headers sent to a remote server."""
    return resolved(server.spec.headers, resolve)


def resolved(items: Iterable[NamedValue], resolve: Resolve) -> dict[str, str]:
    """Name -> value of each item: its literal value, or its `valueFrom` resolved."""
    return {item.name: _value(item, resolve) for item in items}


def _value(item: NamedValue, resolve: Resolve) -> str:
    if item.value_from is None:
        return item.value or ""
    return secret_value(item.value_from, resolve)


def secret_value(source: ValueSource, resolve: Resolve) -> str:
    """The value `source` names; one that cannot be read fails the server's start
    (ServerError reason SecretNotFound)."""
    try:
        return resolve(source)
    except SecretNotFound as exc:
        raise ServerError(exc.message, reason="SecretNotFound") from None


def this_machine(resolve: Resolve) -> Machine:
    """The machine the controller runs on: its `PATH` and its interpreter's directory."""

    def beside_interpreter(command: str) -> Path | None:
        beside = Path(sys.executable).parent / command
        return beside if beside.is_file() else None

    return Machine(
        resolve=resolve,
        on_path=lambda command: shutil.which(command) is not None,
        beside_interpreter=beside_interpreter,
    )
