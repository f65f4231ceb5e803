"""The client every target of `gateway_bench.py` is measured with, and its load generator.

One code path for all targets: the official SDK's `ClientSession`, initialized, calling an
echo tool with `{"message": "hi"}`; only the transport differs. An address is a streamable
HTTP URL (with the headers the target needs, say a bearer token), or `stdio` for
server-everything launched as a subprocess of the session.

Run as a script it is one load-generating process of the throughput measurement:

    python benchmarks/echo_client.py ADDRESS TOOL --clients N [--header NAME:VALUE]

It opens N sessions and calls once on each and prints `ready`. Then, for each line
`go SECONDS` on stdin, every session calls back to back for that long, and
`CALLS FAILURES` is printed (a failed call, error or wrong answer, is counted, not
retried). Any other line, or EOF, closes the sessions.
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
import httpx2
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
async def open_session(
    address: str, *, errlog: TextIO, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """An initialized session with the target at `address` (`stdio`: a new server process)."""
    async with contextlib.AsyncExitStack() as stack:
        if address == STDIO:
            params = StdioServerParameters(command=EVERYTHING[0], args=[*EVERYTHING[1:], "stdio"])
            transport = stdio_client(params, errlog=errlog)
        else:
            # The SDK's own client settings, plus the target's headers.
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
            )
            transport = streamable_http_client(address, http_client=http)
        read, write = await stack.enter_async_context(transport)
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str) -> None:
    """One tools/call; fails loudly unless the tool echoed the message."""
    result = await session.call_tool(tool, ARGUMENTS)
    content = result.content[0] if result.content else None
    if result.is_error or not isinstance(content, TextContent) or content.text != EXPECTED:
        raise RuntimeError(f"{tool} answered {result.model_dump(exclude_none=True)}")


async def generate_load(address: str, tool: str, *, clients: int, headers: dict[str, str]) -> None:
    """Serve load windows on stdin's command: each `go SECONDS` line, calls by all."""
    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                open_session(address, errlog=sys.stderr, headers=headers)
            )
            for _ in range(clients)
        ]
        for session in sessions:
            await call(session, tool)
        print("ready", flush=True)
        while True:
            command = (await anyio.to_thread.run_sync(sys.stdin.readline)).split()
            if len(command) != 2 or command[0] != "go":
                break
            completed, failed = await load_window(sessions, tool, float(command[1]))
            print(completed, failed, flush=True)


async def load_window(sessions: list[ClientSession], tool: str, seconds: float) -> tuple[int, int]:
    """(calls completed, calls failed) while every session calls back to back for `seconds`."""
    deadline = time.perf_counter() + seconds
    completed = failed = 0

    async def keep_calling(session: ClientSession) -> None:
        nonlocal completed, failed
        while time.perf_counter() < deadline:
            try:
                await call(session, tool)
            except Exception as exc:
                failed += 1
                if failed <= 3:
                    print(f"call failed: {exc!r}"[:500], file=sys.stderr)
            else:
                completed += 1

    async with anyio.create_task_group() as group:
        for session in sessions:
            group.start_soon(keep_calling, session)
    return completed, failed


def main() -> None:
    parser = argparse.ArgumentParser(description="one load-generating client process")
    parser.add_argument("address", help="streamable HTTP URL, or 'stdio'")
    parser.add_argument("tool")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--header", action="append", default=[], help="NAME:VALUE sent with every request"
    )
    args = parser.parse_args()
    headers = dict(item.split(":", 1) for item in args.header)
    anyio.run(lambda: generate_load(args.address, args.tool, clients=args.clients, headers=headers))


if __name__ == "__main__":
    main()
