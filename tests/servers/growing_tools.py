"""An MCP server whose tool list grows without telling (tools.listChanged is false).

`add_tool(name)` registers a new tool; a client only learns of it by listing again.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("growing-tools")


@server.tool()
def add_tool(name: str) -> str:
    """Register a tool called `name` that answers its own name."""

    def answer() -> str:
        return name

    server.add_tool(answer, name=name, description=f"The tool {name}.")
    return f"added {name}"


if __name__ == "__main__":
    server.run("stdio")
