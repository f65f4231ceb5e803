"""Launch resolution: a server's spec to the process to start, one rule per row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.controller.launch import Machine, launch_spec, remote_headers
from reconciler.core.errors import SecretNotFound, ServerError
from reconciler.core.models import MCPServer, ValueSource

BASE = Path("/srv/config/team")
VENV_BIN = Path("/opt/venv/bin")
SECRETS = {"api": "s3cret"}


def resolve(source: ValueSource) -> str:
    name = source.env or (source.secret_key_ref.name if source.secret_key_ref else "")
    if name not in SECRETS:
        raise SecretNotFound(f"secret {name} not found")
    return SECRETS[name]


MACHINE = Machine(
    resolve=resolve,
    on_path=lambda command: command in {"node", "uvx"},
    beside_interpreter=lambda command: VENV_BIN / command if command == "mcp-server-time" else None,
)


def server(**spec: Any) -> MCPServer:
    return MCPServer.model_validate(
        {"metadata": {"name": "s"}, "spec": {"transport": "stdio", **spec}}
    )


@pytest.mark.parametrize(
    ("spec", "command", "working_dir"),
    [
        ({"command": "node"}, "node", None),
        ({"command": "/usr/bin/python3"}, "/usr/bin/python3", None),
        ({"command": "./srv.py"}, str(BASE / "srv.py"), None),
        ({"command": "bin/srv", "workingDir": "data"}, str(BASE / "data/bin/srv"), BASE / "data"),
        ({"command": "node", "workingDir": "../shared"}, "node", Path("/srv/config/shared")),
        ({"command": "mcp-server-time"}, str(VENV_BIN / "mcp-server-time"), None),
        ({"command": "not-installed"}, "not-installed", None),
    ],
    ids=[
        "on PATH",
        "absolute",
        "relative to the file",
        "relative to workingDir",
        "workingDir relative to the file",
        "beside the interpreter",
        "unknown: left to fail at spawn",
    ],
)
def test_commands_and_working_dirs_resolve(
    spec: dict[str, Any], command: str, working_dir: Path | None
) -> None:
    launch = launch_spec(server(**spec), base_dir=BASE, machine=MACHINE)
    assert launch.command == command
    assert launch.working_dir == working_dir


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ([{"name": "A", "value": "1"}], {"A": "1"}),
        ([{"name": "TOKEN", "valueFrom": {"env": "api"}}], {"TOKEN": "s3cret"}),
        (
            [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "api", "key": "k"}}}],
            {"K": "s3cret"},
        ),
    ],
    ids=["literal", "from env", "from secret"],
)
def test_environment_values_resolve(env: list[dict[str, Any]], expected: dict[str, str]) -> None:
    launch = launch_spec(server(command="node", env=env), base_dir=BASE, machine=MACHINE)
    assert dict(launch.env) == expected
    assert "s3cret" not in repr(launch)


def test_a_missing_secret_is_a_server_error_naming_it() -> None:
    missing = server(command="node", env=[{"name": "X", "valueFrom": {"env": "absent"}}])
    with pytest.raises(ServerError, match="absent") as caught:
        launch_spec(missing, base_dir=BASE, machine=MACHINE)
    assert caught.value.reason == "SecretNotFound"


def test_remote_headers_resolve_their_secrets() -> None:
    remote = MCPServer.model_validate(
        {
            "metadata": {"name": "r"},
            "spec": {
                "transport": "streamable-http",
                "url": "http://127.0.0.1:1/mcp",
                "headers": [
                    {"name": "Authorization", "valueFrom": {"env": "api"}},
                    {"name": "X-Team", "value": "a"},
                ],
            },
        }
    )
    assert remote_headers(remote, resolve=resolve) == {"Authorization": "s3cret", "X-Team": "a"}
