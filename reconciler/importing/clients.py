"""MCP client configuration files, read into one neutral shape (pure: text in, values out).

- claude-desktop: `claude_desktop_config.json` (where depends on the OS: `default_file`),
  servers under `mcpServers`, a remote one with `url`;
- claude-code: `./.mcp.json`, else `~/.claude.json` (its top level and this project's),
  `mcpServers`, `type: stdio|http|sse`;
- cursor: `./.cursor/mcp.json`, else `~/.cursor/mcp.json`, `mcpServers`, `url`, `envFile`;
- vscode: `./.vscode/mcp.json` (or a `settings.json` with `mcp`), `servers` and `inputs`,
  `type: stdio|http|sse`, `envFile`, `cwd`;
- windsurf: `~/.codeium/windsurf/mcp_config.json`, `mcpServers`, `serverUrl` (or `url`),
  `disabled`, `disabledTools`.

VS Code's files are JSON with comments and trailing commas; they are accepted for every
client. A file that is not JSON, or whose servers are not shaped as the client expects, is
a `ClientConfigError` carrying the line; fields we do not know are kept in `unknown` so the
caller can report them.
"""

from __future__ import annotations

import enum
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final


class ClientKind(enum.StrEnum):
    claude_desktop = "claude-desktop"
    claude_code = "claude-code"
    cursor = "cursor"
    vscode = "vscode"
    windsurf = "windsurf"


class ClientConfigError(Exception):
    """A client configuration that cannot be read: `FILE:LINE: message`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class ClientInput:
    """A VS Code `inputs` entry: a value the editor asks the user for."""

    id: str
    description: str = ""
    password: bool = False


@dataclass(frozen=True)
class ClientServer:
    """One server entry of a client configuration, as the client spells it."""

    name: str
    line: int
    transport: str
    """stdio, streamable-http or sse."""
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    env_file: str | None = None
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    disabled: bool = False
    disabled_tools: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    """Fields of the entry we do not know (reported, not converted)."""


@dataclass(frozen=True)
class ClientConfig:
    file: str
    client: ClientKind
    servers: list[ClientServer]
    inputs: dict[str, ClientInput] = field(default_factory=dict)
    unknown: tuple[tuple[int, str], ...] = ()
    """Top-level fields (line, name) of an MCP-only file that we do not know."""


_COMMON: Final = frozenset({"command", "args", "env", "type", "url", "headers"})
_KNOWN_FIELDS: Final[dict[ClientKind, frozenset[str]]] = {
    ClientKind.claude_desktop: _COMMON,
    ClientKind.claude_code: _COMMON,
    ClientKind.cursor: _COMMON | {"envFile", "disabled"},
    ClientKind.vscode: _COMMON | {"envFile", "cwd", "dev", "gallery", "version"},
    ClientKind.windsurf: _COMMON | {"serverUrl", "disabled", "disabledTools"},
}
_IGNORED: Final = frozenset({"dev", "gallery", "version"})
"""Known fields without a counterpart that do not change how a server runs."""


def default_file(
    client: ClientKind, *, cwd: Path, home: Path, platform: str = sys.platform
) -> Path:
    """The file `client` reads by default on this machine (project file first, if present)."""
    if client is ClientKind.claude_desktop:
        if platform == "darwin":
            return home / "Library/Application Support/Claude/claude_desktop_config.json"
        if platform.startswith("win"):
            appdata = Path(os.environ.get("APPDATA") or home / "AppData/Roaming")
            return appdata / "Claude/claude_desktop_config.json"
        return home / ".config/Claude/claude_desktop_config.json"
    project, user = {
        ClientKind.claude_code: (cwd / ".mcp.json", home / ".claude.json"),
        ClientKind.cursor: (cwd / ".cursor/mcp.json", home / ".cursor/mcp.json"),
        ClientKind.vscode: (cwd / ".vscode/mcp.json", home / ".config/Code/User/mcp.json"),
        ClientKind.windsurf: (
            cwd / ".windsurf/mcp_config.json",
            home / ".codeium/windsurf/mcp_config.json",
        ),
    }[client]
    return project if project.is_file() else user


def parse_client_config(
    text: str, *, file: str, client: ClientKind, project: str | None = None
) -> ClientConfig:
    """Read a client's configuration; `project` picks a project of `~/.claude.json`."""
    plain = strip_jsonc(text)
    try:
        data = json.loads(plain)
    except json.JSONDecodeError as error:
        raise ClientConfigError(file, error.lineno, f"not valid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise ClientConfigError(file, 1, "expected a JSON object at the top")
    lines = _KeyLines(plain)
    top_key = "servers" if client is ClientKind.vscode else "mcpServers"
    blocks: list[tuple[str, Any]] = []
    inputs: dict[str, ClientInput] = {}
    unknown_top: list[tuple[int, str]] = []
    if client is ClientKind.vscode and "servers" not in data and isinstance(data.get("mcp"), dict):
        data = data["mcp"]  # a settings.json with an `mcp` section
    if top_key in data:
        blocks.append((top_key, data[top_key]))
    if client is ClientKind.claude_code and isinstance(data.get("projects"), dict):
        chosen = data["projects"].get(project) if project else None
        if isinstance(chosen, dict) and "mcpServers" in chosen:
            blocks.append(("mcpServers", chosen["mcpServers"]))
    if client is ClientKind.vscode:
        inputs = _inputs(data.get("inputs"), file=file, lines=lines)
    if client in (ClientKind.vscode, ClientKind.cursor, ClientKind.windsurf) or (
        client is ClientKind.claude_code and "projects" not in data
    ):
        allowed = {top_key, "inputs", "mcp"} if client is ClientKind.vscode else {top_key}
        unknown_top = [(lines.line_of(k), k) for k in data if k not in allowed]
    if not blocks:
        raise ClientConfigError(
            file, 1, f"no `{top_key}` object: is this a {client.value} MCP configuration?"
        )
    servers: list[ClientServer] = []
    for key, block in blocks:
        if not isinstance(block, dict):
            raise ClientConfigError(file, lines.line_of(key), f"`{key}` must be an object")
        for name, entry in block.items():
            servers.append(_server(client, str(name), entry, file=file, line=lines.line_of(name)))
    return ClientConfig(file, client, servers, inputs, tuple(unknown_top))


def _server(client: ClientKind, name: str, entry: Any, *, file: str, line: int) -> ClientServer:
    def fail(message: str) -> ClientConfigError:
        return ClientConfigError(file, line, f"server {name}: {message}")

    if not isinstance(entry, dict):
        raise fail("must be an object with `command` or a URL")
    url = entry.get("url")
    if client is ClientKind.windsurf and entry.get("serverUrl") is not None:
        url = entry["serverUrl"]
    command = entry.get("command")
    if command is not None and not isinstance(command, str):
        raise fail("`command` must be a string")
    if url is not None and not isinstance(url, str):
        raise fail("`url` must be a string")
    if not command and not url:
        raise fail("has neither `command` nor a URL")
    kind = entry.get("type")
    if kind is not None and kind not in ("stdio", "http", "streamable-http", "sse"):
        raise fail(f"unknown `type` {kind!r} (stdio, http or sse)")
    if kind == "stdio" or (kind is None and command):
        transport = "stdio"
        if not command:
            raise fail("type stdio needs `command`")
    elif kind == "sse" or (kind is None and str(url).rstrip("/").endswith("/sse")):
        transport = "sse"
    else:
        transport = "streamable-http"
    if transport != "stdio" and not url:
        raise fail(f"type {kind} needs `url`")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
        raise fail("`args` must be a list of strings")
    disabled_tools = entry.get("disabledTools", [])
    if not isinstance(disabled_tools, list):
        raise fail("`disabledTools` must be a list of tool names")
    known = _KNOWN_FIELDS[client]
    return ClientServer(
        name=name,
        line=line,
        transport=transport,
        command=command if transport == "stdio" else None,
        args=tuple(str(a) for a in args) if transport == "stdio" else (),
        env=_string_map(entry.get("env"), "env", fail),
        env_file=_optional_str(entry.get("envFile"), "envFile", fail),
        cwd=_optional_str(entry.get("cwd"), "cwd", fail),
        url=url if transport != "stdio" else None,
        headers=_string_map(entry.get("headers"), "headers", fail),
        disabled=bool(entry.get("disabled", False)),
        disabled_tools=tuple(str(t) for t in disabled_tools),
        unknown=tuple(k for k in entry if k not in known),
    )


def _string_map(value: Any, what: str, fail: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(f"`{what}` must be an object of names to strings")
    result = {}
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            raise fail(f"`{what}.{key}` must be a string")
        result[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
    return result


def _optional_str(value: Any, what: str, fail: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail(f"`{what}` must be a string")
    return value


def _inputs(value: Any, *, file: str, lines: _KeyLines) -> dict[str, ClientInput]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ClientConfigError(file, lines.line_of("inputs"), "`inputs` must be a list")
    found = {}
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            found[item["id"]] = ClientInput(
                item["id"], str(item.get("description") or ""), bool(item.get("password"))
            )
    return found


class _KeyLines:
    """The line of the first `"key":` in the text (1 when not found)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def line_of(self, key: str) -> int:
        match = re.search(rf'"{re.escape(json.dumps(key)[1:-1])}"\s*:', self.text)
        return self.text.count("\n", 0, match.start()) + 1 if match else 1


def strip_jsonc(text: str) -> str:
    """JSON with `//` and `/* */` comments and trailing commas, as strict JSON; every
    newline is kept, so line numbers stay those of the original."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            comment = text[i : n if end == -1 else end + 2]
            out.append("\n" * comment.count("\n"))
            i = n if end == -1 else end + 2
        elif c == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                out.append(" ")  # a trailing comma
            else:
                out.append(c)
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)
