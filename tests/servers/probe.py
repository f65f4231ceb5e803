"""An MCP server that tries what a sandbox must stop: reading files, writing them, connecting.

Every tool answers `ok: ...` or `denied: <the error>`, so a test reads what the server
could do from the tool's text.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("probe")


def _attempt(action: str, work: object) -> str:
    try:
        return f"ok: {work() if callable(work) else work}"
    except OSError as error:
        return f"denied: {action}: {type(error).__name__}: {error.strerror or error}"


@server.tool()
def read(path: str) -> str:
    """Read a text file (`~` is the server's home)."""
    return _attempt("read", lambda: Path(os.path.expanduser(path)).read_text())


@server.tool()
def write(path: str, text: str) -> str:
    """Write a text file."""
    return _attempt("write", lambda: Path(path).write_text(text))


@server.tool()
def connect(port: int) -> str:
    """Open a TCP connection to 127.0.0.1:port."""

    def work() -> str:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return sock.recv(64).decode()

    return _attempt("connect", work)


if __name__ == "__main__":
    server.run("stdio")
