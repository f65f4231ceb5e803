"""The transport floor: a streamable HTTP MCP endpoint that answers every message at once.

It serves the one tool `echo` (the same definition as server-everything's) at `/mcp` on the
HTTP stack the gateway runs on (uvicorn + Starlette, same settings), keeps no session, and
does no work beyond parsing the message: a client measured against it pays only for HTTP
and its own SDK. `gateway_bench.py` starts it in a subprocess:

    python benchmarks/floor_server.py PORT_FILE

It binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and serves until signalled.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import uvicorn
from listening import announced_socket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ECHO_TOOL = {
    "name": "echo",
    "title": "Echo Tool",
    "description": "Echoes back the input string",
    "inputSchema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"message": {"type": "string", "description": "Message to echo"}},
        "required": ["message"],
    },
}
SUPPORTED_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")


def answer(message: dict[str, Any]) -> dict[str, Any]:
    """The result of one JSON-RPC request."""
    method = message.get("method")
    params = message.get("params") or {}
    if method == "initialize":
        requested = params.get("protocolVersion")
        return {
            "protocolVersion": requested
            if requested in SUPPORTED_VERSIONS
            else SUPPORTED_VERSIONS[-1],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "floor", "version": "1.0.0"},
        }
    if method == "tools/list":
        return {"tools": [ECHO_TOOL]}
    if method == "tools/call":
        text = str((params.get("arguments") or {}).get("message", ""))
        return {"content": [{"type": "text", "text": f"Echo: {text}"}], "isError": False}
    return {}


async def post_mcp(request: Request) -> Response:
    message = json.loads(await request.body())
    if "id" not in message or "method" not in message:
        return Response(status_code=202)  # a notification, or a response to the server
    reply = {"jsonrpc": "2.0", "id": message["id"], "result": answer(message)}
    return Response(json.dumps(reply, separators=(",", ":")), media_type="application/json")


async def serve(port_file: Path) -> None:
    app = Starlette(routes=[Route("/mcp", post_mcp, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    )
    sock = announced_socket(port_file)
    await server.serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
