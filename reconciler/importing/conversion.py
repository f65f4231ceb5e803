"""A client configuration turned into MCPServer resources plus one MCPSuite.

Every env and header value becomes a reference, never a literal in YAML:

- `${env:VAR}` (VS Code, Cursor, Windsurf) or `${VAR}` (Claude Code) as the whole value
  becomes `valueFrom: {env: VAR}`: the controller reads it from its own environment;
- anything else becomes `valueFrom: {secretKeyRef: {name: <server>, key: <NAME>}}`, its
  value (with `${env:…}` filled from this environment) written to the secrets directory;
- a value holding `${input:id}` (VS Code asks the user for it) cannot be known here: the
  reference is written and a note says which file to put the value in.

Arguments, the command and `cwd` are not secret: their placeholders (`${userHome}`,
`${workspaceFolder}`, `${env:VAR}`) are filled in, with a note for each one that cannot be.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..core.models import API_VERSION
from .clients import ClientConfig, ClientKind, ClientServer

_ENV_WHOLE: Final = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")
_PLAIN_WHOLE: Final = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_PLACEHOLDER: Final = re.compile(r"\$\{([^}]*)\}")
_NAME_INVALID: Final = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True, slots=True)
class ImportNote:
    """Something the user should know or do, at a line of the imported file."""

    line: int
    message: str
    severity: str = "warning"


@dataclass(frozen=True)
class SecretValue:
    """A value to write to `<secrets-dir>/<name>/<key>` (never shown)."""

    name: str
    key: str
    value: str = field(repr=False)


@dataclass
class Conversion:
    documents: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[SecretValue] = field(default_factory=list)
    notes: list[ImportNote] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    """Secret references whose value must be written by the user: (name, key)."""


@dataclass(frozen=True)
class Surroundings:
    """What placeholders are filled from."""

    environ: Mapping[str, str]
    home: Path
    workspace: Path
    read_text: Callable[[Path], str | None]
    """Reads an `envFile` (None when it cannot)."""


def server_name(raw: str, taken: set[str]) -> str:
    """A valid, unused resource name for a client's server name."""
    name = _NAME_INVALID.sub("-", raw.lower()).strip("-")[:63].strip("-") or "server"
    candidate, number = name, 2
    while candidate in taken:
        suffix = f"-{number}"
        candidate = name[: 63 - len(suffix)].rstrip("-") + suffix
        number += 1
    taken.add(candidate)
    return candidate


def convert(config: ClientConfig, *, suite: str, around: Surroundings) -> Conversion:
    """The resources (servers first, then the suite), the secret values to write, notes."""
    result = Conversion()
    taken: set[str] = set()
    names = []
    for top_line, key in config.unknown:
        result.notes.append(ImportNote(top_line, f"unknown field {key!r}: not imported"))
    for server in config.servers:
        name = server_name(server.name, taken)
        if name != server.name:
            result.notes.append(
                ImportNote(server.line, f"server {server.name!r} is named {name!r}", "info")
            )
        names.append(name)
        result.documents.append(_server(server, name, config, around, result))
    result.documents.append(
        {
            "apiVersion": API_VERSION,
            "kind": "MCPSuite",
            "metadata": {"name": suite},
            "spec": {"servers": [{"name": n} for n in names], "conflictResolution": "prefix"},
        }
    )
    return result


def _server(
    server: ClientServer,
    name: str,
    config: ClientConfig,
    around: Surroundings,
    result: Conversion,
) -> dict[str, Any]:
    def note(message: str, severity: str = "warning") -> None:
        result.notes.append(ImportNote(server.line, f"server {server.name}: {message}", severity))

    for unknown in server.unknown:
        note(f"unknown field {unknown!r}: not imported")
    fill = _Filler(config.client, around, note)
    spec: dict[str, Any] = {"transport": server.transport}
    if server.transport == "stdio":
        assert server.command is not None
        spec["command"] = fill.plain(server.command, "command")
        if server.args:
            spec["args"] = [fill.plain(arg, "args") for arg in server.args]
        env = dict(server.env)
        if server.env_file:
            env = {**_env_file(fill.plain(server.env_file, "envFile"), around, note), **env}
        if env:
            spec["env"] = [
                {"name": key, **_reference(name, key, value, fill, config, result, note)}
                for key, value in env.items()
            ]
        if server.cwd:
            spec["workingDir"] = fill.plain(server.cwd, "cwd")
    else:
        assert server.url is not None
        spec["url"] = fill.plain(server.url, "url")
        if server.headers:
            spec["headers"] = [
                {"name": key, **_reference(name, key, value, fill, config, result, note)}
                for key, value in server.headers.items()
            ]
        if server.env or server.args or server.env_file:
            note("env/args of a remote server have no meaning: not imported")
    if server.disabled:
        spec["enabled"] = False
    if server.disabled_tools:
        spec["tools"] = {"exclude": list(server.disabled_tools)}
    return {
        "apiVersion": API_VERSION,
        "kind": "MCPServer",
        "metadata": {"name": name},
        "spec": spec,
    }


def _reference(
    secret: str,
    key: str,
    raw: str,
    fill: _Filler,
    config: ClientConfig,
    result: Conversion,
    note: Callable[..., None],
) -> dict[str, Any]:
    whole = _ENV_WHOLE.match(raw) or (
        _PLAIN_WHOLE.match(raw) if config.client is ClientKind.claude_code else None
    )
    if whole is not None:
        return {"valueFrom": {"env": whole.group(1)}}
    ref = {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
    value, unknown = fill.secret(raw, config)
    if unknown:
        result.missing.append((secret, key))
        note(
            f"{key}: {', '.join(unknown)} cannot be read here: write the whole value to "
            f"the secret {secret}/{key} in the secrets directory"
        )
        return ref
    result.secrets.append(SecretValue(secret, key, value))
    return ref


class _Filler:
    """Fills the placeholders of one server's fields."""

    def __init__(self, client: ClientKind, around: Surroundings, note: Callable[..., None]) -> None:
        self.client = client
        self.around = around
        self.note = note

    def _lookup(self, expression: str) -> str | None:
        around = self.around
        if expression.startswith("env:"):
            return around.environ.get(expression[4:])
        if expression in ("userHome",):
            return str(around.home)
        if expression == "workspaceFolder":
            return str(around.workspace)
        if expression == "workspaceFolderBasename":
            return around.workspace.name
        if expression in ("pathSeparator", "/"):
            return "/"
        if self.client is ClientKind.claude_code:  # ${VAR} and ${VAR:-default}
            var, sep, default = expression.partition(":-")
            found = around.environ.get(var)
            return found if found is not None else (default if sep else None)
        return None

    def plain(self, raw: str, what: str) -> str:
        """A non-secret field with its placeholders filled (unfillable ones kept)."""

        def replace(match: re.Match[str]) -> str:
            value = self._lookup(match.group(1))
            if value is None:
                self.note(f"{what}: cannot fill ${{{match.group(1)}}}; kept as written")
                return match.group(0)
            if match.group(1).startswith("env:") or self.client is ClientKind.claude_code:
                self.note(f"{what}: ${{{match.group(1)}}} filled from this environment", "info")
            return value

        return _PLACEHOLDER.sub(replace, raw)

    def secret(self, raw: str, config: ClientConfig) -> tuple[str, list[str]]:
        """A secret's value with placeholders filled; the placeholders that cannot be."""
        unknown: list[str] = []

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("input:"):
                described = config.inputs.get(expression[6:])
                label = f"input {expression[6:]!r}" + (
                    f" ({described.description})" if described and described.description else ""
                )
                unknown.append(label)
                return match.group(0)
            value = self._lookup(expression)
            if value is None:
                unknown.append(f"${{{expression}}}")
                return match.group(0)
            return value

        return _PLACEHOLDER.sub(replace, raw), unknown


def _env_file(path: str, around: Surroundings, note: Callable[..., None]) -> dict[str, str]:
    file = Path(path)
    if not file.is_absolute():
        file = around.workspace / file
    text = around.read_text(file)
    if text is None:
        note(f"envFile {path}: cannot be read; its variables are not imported")
        return {}
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values
