"""The client every target of `gateway_bench.py` is measured with, and its load generator.

One code path for all targets: the official SDK's `ClientSession`, initialized, calling an
echo tool with `{"message": "hi"}`; only the transport differs. An address is a streamable
HTTP URL, or `stdio` for server-everything launched as a subprocess of the session.

Run as a script it is one load-generating process of the throughput measurement:

    python benchmarks/echo_client.py ADDRESS TOOL --clients N --seconds S

It opens N sessions and calls once on each (listing the tools, as every session does) and
prints `ready`. Then, for each `go` line on stdin, every session calls for S seconds and
the number of calls completed is printed. Any other line, or EOF, closes the sessions.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

import anyio
import anyio.to_thread
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

ROOT = Path(__file__).resolve().parent.parent
EVERYTHING = ["node", str(ROOT / "tests" / "node_modules" / ".bin" / "mcp-server-everything")]
STDIO = "stdio"
ARGUMENTS = {"message": "hi"}
EXPECTED = "Echo: hi"


@contextlib.asynccontextmanager
async def open_session(address: str, *, errlog: TextIO) -> AsyncIterator[ClientSession]:
    """An initialized session with the target at `address` (`stdio`: a new server process)."""
    if address == STDIO:
        params = StdioServerParameters(command=EVERYTHING[0], args=[*EVERYTHING[1:], "stdio"])
        transport = stdio_client(params, errlog=errlog)
    else:
        transport = streamable_http_client(address)
    async with transport as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str) -> None:
    """One tools/call; fails loudly unless the tool echoed the message."""
    result = await session.call_tool(tool, ARGUMENTS)
    content = result.content[0] if result.content else None
    if result.is_error or not isinstance(content, TextContent) or content.text != EXPECTED:
        raise RuntimeError(f"{tool} answered {result.model_dump(exclude_none=True)}")


async def generate_load(address: str, tool: str, *, clients: int, seconds: float) -> None:
    """Serve load windows on stdin's command: each `go` line, `seconds` of calls by all."""
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(open_session(address, errlog=sys.stderr))
            for _ in range(clients)
        ]
        for session in sessions:
            await call(session, tool)
        print("ready", flush=True)
        while (await anyio.to_thread.run_sync(sys.stdin.readline)).strip() == "go":
            print(await load_window(sessions, tool, seconds), flush=True)


async def load_window(sessions: list[ClientSession], tool: str, seconds: float) -> int:
    """Calls completed while every session calls back to back for `seconds`."""
    deadline = time.perf_counter() + seconds
    completed = 0

    async def keep_calling(session: ClientSession) -> None:
        nonlocal completed
        while time.perf_counter() < deadline:
            await call(session, tool)
            completed += 1

    async with anyio.create_task_group() as group:
        for session in sessions:
            group.start_soon(keep_calling, session)
    return completed


def main() -> None:
    parser = argparse.ArgumentParser(description="one load-generating client process")
    parser.add_argument("address", help="streamable HTTP URL, or 'stdio'")
    parser.add_argument("tool")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    anyio.run(
        lambda: generate_load(args.address, args.tool, clients=args.clients, seconds=args.seconds)
    )


if __name__ == "__main__":
    main()
