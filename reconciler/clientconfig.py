"""MCP clients' own configuration formats for a suite's endpoint (`export client-config`,
the web console's suite page). The token stays in an environment variable."""

from __future__ import annotations

import enum
from typing import Any


class Client(enum.StrEnum):
    claude_desktop = "claude-desktop"
    claude_code = "claude-code"
    cursor = "cursor"
    vscode = "vscode"
    windsurf = "windsurf"


def client_config(
    client: Client, *, suite: str, url: str, token_env: str | None
) -> dict[str, Any] | str:
    """The client's own configuration format; the token stays in an environment variable."""
    header = {"Authorization": f"Bearer ${{{token_env}}}"} if token_env else {}
    name = f"mcp-{suite}"
    if client is Client.claude_code:
        parts = ["claude", "mcp", "add", "--transport", "http", name, url]
        if token_env:
            parts += ["--header", f'"Authorization: Bearer ${token_env}"']
        return " ".join(parts)
    if client is Client.vscode:
        server: dict[str, Any] = {"type": "http", "url": url}
        if token_env:
            server["headers"] = {"Authorization": f"Bearer ${{env:{token_env}}}"}
        return {"servers": {name: server}}
    if client is Client.windsurf:
        remote: dict[str, Any] = {"serverUrl": url}
        if token_env:
            remote["headers"] = {"Authorization": f"Bearer ${{env:{token_env}}}"}
        return {"mcpServers": {name: remote}}
    if client is Client.cursor:
        entry: dict[str, Any] = {"url": url}
        if header:
            entry["headers"] = {"Authorization": f"Bearer ${{env:{token_env}}}"}
        return {"mcpServers": {name: entry}}
    # Claude Desktop speaks stdio to local servers: bridge with mcp-remote.
    args = ["-y", "mcp-remote", url]
    env: dict[str, str] = {}
    if token_env:
        args += ["--header", "Authorization:${AUTH_HEADER}"]
        env["AUTH_HEADER"] = f"Bearer ${{{token_env}}}"
    desktop: dict[str, Any] = {"command": "npx", "args": args}
    if env:
        desktop["env"] = env
    return {"mcpServers": {name: desktop}}
