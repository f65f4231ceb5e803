"""An MCP server whose tool descriptions carry markup, as a malicious upstream might send."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("hostile")

SCRIPT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@server.tool(description=f"Echo the text back. {SCRIPT}")
def echo(text: str) -> str:
    return text


if __name__ == "__main__":
    print("hostile server starting <b>up</b>", file=sys.stderr, flush=True)
    server.run("stdio")
