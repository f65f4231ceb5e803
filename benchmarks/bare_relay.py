"""The bare relay: the least a Python gateway must do to put a stdio server behind HTTP.

A streamable HTTP endpoint at `/mcp` on the HTTP stack the gateway and the floor run on
(uvicorn + Starlette, same settings) that forwards each JSON-RPC request to one
server-everything process over its stdio pipes, under an id of its own, and answers with
the server's response, re-read only to restore the client's id. Nothing else: no session,
no authentication, no permission, no record, no metrics. `initialize` is answered from the
server's own initialize result (the relay's handshake, made once), and notifications are
accepted and dropped, as the gateway's are. It is the baseline the gateway is held to:
`gateway_bench.py` starts it in a subprocess:

    python benchmarks/bare_relay.py PORT_FILE

It binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and serves until signalled.
"""

from __future__ import annotations

import asyncio
import itertools
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

ROOT = Path(__file__).resolve().parent.parent
EVERYTHING = ["node", str(ROOT / "tests" / "node_modules" / ".bin" / "mcp-server-everything")]
SEPARATORS = (",", ":")


class Relay:
    """One stdio server, with every request in flight keyed by the relay's own id."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self.stdin = process.stdin
        self.stdout = process.stdout
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.initialize_result: dict[str, Any] = {}
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        while line := await self.stdout.readline():
            message = json.loads(line)
            future = self.waiting.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send the message under a fresh id; its response, with the client's id back."""
        relay_id = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.waiting[relay_id] = future
        self.stdin.write(json.dumps({**message, "id": relay_id}, separators=SEPARATORS).encode())
        self.stdin.write(b"\n")
        await self.stdin.drain()
        response = await future
        response["id"] = message["id"]
        return response

    async def handshake(self) -> None:
        answer = await self.request(
            {"jsonrpc": "2.0", "id": 0, "method": "initialize",
             "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                        "clientInfo": {"name": "bare-relay", "version": "1.0.0"}}}
        )  # fmt: skip
        self.initialize_result = answer["result"]
        self.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        await self.stdin.drain()


def app_for(relay: Relay) -> Starlette:
    async def post_mcp(request: Request) -> Response:
        message = json.loads(await request.body())
        if "id" not in message or "method" not in message:
            return Response(status_code=202)  # a notification, or a response to the server
        if message["method"] == "initialize":
            response = {"jsonrpc": "2.0", "id": message["id"], "result": relay.initialize_result}
        else:
            response = await relay.request(message)
        return Response(json.dumps(response, separators=SEPARATORS), media_type="application/json")

    return Starlette(routes=[Route("/mcp", post_mcp, methods=["POST"])])


async def serve(port_file: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *EVERYTHING, "stdio",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**24,
    )  # fmt: skip
    relay = Relay(process)
    await relay.handshake()
    server = uvicorn.Server(
        uvicorn.Config(app_for(relay), lifespan="off", log_level="warning", access_log=False)
    )
    sock = announced_socket(port_file)
    try:
        await server.serve(sockets=[sock])
    finally:
        process.kill()
        await process.wait()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
