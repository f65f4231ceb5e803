"""Upstream connections against real servers: server-everything (stdio, streamable HTTP,
SSE), mcp-server-time, and a small paginating server built on the Python SDK."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import reconciler.upstream
from reconciler.core.errors import ServerError
from reconciler.upstream import (
    RequestTimedOut,
    RpcError,
    ServerUnavailable,
    UpstreamConnection,
    sse_transport,
    stdio_transport,
    streamable_http_transport,
)
from tests.polling import eventually, wait_for

PIPE = asyncio.subprocess.PIPE
EVERYTHING_TOOLS = 17
"""server-everything's 13 tools, plus 4 it registers for clients offering sampling,
elicitation and roots (which the connection offers)."""

PAGED_SERVER = """
import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

TOOLS = [types.Tool(name=f"tool-{i}", input_schema={"type": "object"}) for i in range(7)]


async def list_tools(ctx, params):
    start = int(params.cursor) if params is not None and params.cursor else 0
    end = start + 3
    return types.ListToolsResult(
        tools=TOOLS[start:end], next_cursor=str(end) if end < len(TOOLS) else None
    )


async def call_tool(ctx, params):
    raise MCPError(code=-32042, message="needs a browser", data={"url": "https://example.org"})


async def main():
    server = Server("paged", version="1", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


anyio.run(main)
"""


class RecordingSink:
    """A client stand-in: records what reaches it, answers sampling and roots requests."""

    def __init__(self, name: str = "client") -> None:
        self.name = name
        self.notifications: list[tuple[str, dict[str, Any] | None]] = []
        self.requests: list[tuple[str, dict[str, Any] | None]] = []
        self.first_progress = asyncio.Event()

    async def on_notification(self, method: str, params: dict[str, Any] | None) -> None:
        self.notifications.append((method, params))
        if method == "notifications/progress":
            self.first_progress.set()

    async def on_request(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        self.requests.append((method, params))
        if method == "roots/list":
            return {"roots": [{"uri": "file:///srv/answered-by-sink", "name": self.name}]}
        text = f"sampled by {self.name}"
        return {"role": "assistant", "content": {"type": "text", "text": text}, "model": "m"}

    def progress(self) -> list[dict[str, Any]]:
        return [p or {} for m, p in self.notifications if m == "notifications/progress"]


@contextlib.asynccontextmanager
async def spawned(*command: str) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=PIPE,
        stdout=PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


@contextlib.asynccontextmanager
async def connected(
    command: list[str], **options: Any
) -> AsyncIterator[tuple[UpstreamConnection, asyncio.subprocess.Process]]:
    async with spawned(*command) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        connection = UpstreamConnection(
            "under-test", stdio_transport(process.stdout, process.stdin), **options
        )
        await connection.connect(timeout=20)
        try:
            yield connection, process
        finally:
            await connection.close()


@pytest.fixture
async def everything(everything_cmd: list[str]) -> AsyncIterator[UpstreamConnection]:
    async with connected(everything_cmd) as (connection, _):
        yield connection


def long_call(seconds: float, steps: int, token: object) -> dict[str, Any]:
    return {
        "name": "trigger-long-running-operation",
        "arguments": {"duration": seconds, "steps": steps},
        "_meta": {"progressToken": token},
    }


# -- handshake and listings ----------------------------------------------------------------


async def test_connect_reports_the_servers_handshake(everything: UpstreamConnection) -> None:
    assert everything.protocol_version == "2025-11-25"
    assert everything.server_info["name"] == "mcp-servers/everything"
    assert "tools" in everything.server_capabilities
    assert everything.instructions
    assert everything.initialize_result["serverInfo"]["version"] == "2.0.0"
    assert not everything.closed


async def test_everything_lists_its_tools(everything: UpstreamConnection) -> None:
    names = [tool["name"] for tool in await everything.list_tools()]
    assert len(names) == EVERYTHING_TOOLS
    assert {"echo", "get-sum", "trigger-sampling-request", "get-roots-list"} <= set(names)


async def test_a_client_offering_no_capabilities_sees_the_13_basic_tools(
    everything_cmd: list[str],
) -> None:
    async with connected(everything_cmd, capabilities={}) as (connection, _):
        names = [tool["name"] for tool in await connection.list_tools()]
    assert len(names) == 13
    assert "trigger-sampling-request" not in names


async def test_time_server_lists_two_tools(time_cmd: list[str]) -> None:
    async with connected(time_cmd) as (connection, _):
        tools = await connection.list_tools()
    assert sorted(tool["name"] for tool in tools) == ["convert_time", "get_current_time"]


async def test_listing_follows_next_cursor_to_the_last_page(tmp_path: Path) -> None:
    script = tmp_path / "paged_server.py"
    script.write_text(PAGED_SERVER)
    async with connected([sys.executable, str(script)]) as (connection, _):
        tools = await connection.list_tools()
    assert [tool["name"] for tool in tools] == [f"tool-{i}" for i in range(7)]


async def test_list_changed_callback_fires_when_the_server_adds_tools(
    everything_cmd: list[str],
) -> None:
    seen: list[str] = []

    async def changed(kind: str) -> None:
        seen.append(kind)

    # server-everything registers its capability-dependent tools once initialized,
    # announcing each with notifications/tools/list_changed.
    async with connected(everything_cmd, on_list_changed=changed):
        await eventually(lambda: "tools" in seen)


# -- forwarding ----------------------------------------------------------------------------


async def test_echo_result_comes_back_as_the_server_sent_it(
    everything: UpstreamConnection,
) -> None:
    result = await everything.request(
        "tools/call", {"name": "echo", "arguments": {"message": "hello"}}
    )
    assert result == {"content": [{"type": "text", "text": "Echo: hello"}]}


async def test_a_result_longer_than_the_pipe_reader_limit_arrives_whole(
    everything: UpstreamConnection,
) -> None:
    message = "x" * 300_000  # asyncio's StreamReader splits lines at 64 KiB
    result = await everything.request(
        "tools/call", {"name": "echo", "arguments": {"message": message}}
    )
    assert result["content"][0]["text"] == f"Echo: {message}"


async def test_a_json_rpc_error_comes_back_unchanged(everything: UpstreamConnection) -> None:
    with pytest.raises(RpcError) as caught:
        await everything.request("resources/read", {"uri": "demo://no-such-resource"})
    assert caught.value.code == -32602
    assert caught.value.message == "MCP error -32602: Resource demo://no-such-resource not found"
    with pytest.raises(RpcError) as unknown:
        await everything.request("no/such-method", {})
    assert (unknown.value.code, unknown.value.message) == (-32601, "Method not found")


async def test_an_unknown_tool_is_the_servers_error_result_not_an_exception(
    everything: UpstreamConnection,
) -> None:
    result = await everything.request("tools/call", {"name": "no-such-tool", "arguments": {}})
    assert result["isError"] is True


async def test_error_data_is_passed_through(tmp_path: Path) -> None:
    script = tmp_path / "paged_server.py"
    script.write_text(PAGED_SERVER)
    async with connected([sys.executable, str(script)]) as (connection, _):
        with pytest.raises(RpcError) as caught:
            await connection.request("tools/call", {"name": "tool-1", "arguments": {}})
    assert caught.value.to_wire() == {
        "code": -32042,
        "message": "needs a browser",
        "data": {"url": "https://example.org"},
    }


async def test_concurrent_calls_are_pipelined_and_each_sees_its_own_progress(
    everything: UpstreamConnection,
) -> None:
    sinks = [RecordingSink(f"client-{i}") for i in range(20)]
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            everything.request("tools/call", long_call(0.5, 5, f"token-{i}"), sink=sink)
            for i, sink in enumerate(sinks)
        )
    )
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"20 calls of 0.5 s took {elapsed:.1f} s: they were not pipelined"
    assert all("completed" in result["content"][0]["text"] for result in results)
    for i, sink in enumerate(sinks):
        assert [(p["progressToken"], p["progress"]) for p in sink.progress()] == [
            (f"token-{i}", step) for step in range(1, 6)
        ]


async def test_calls_using_the_same_progress_token_each_get_only_their_own_progress(
    everything: UpstreamConnection,
) -> None:
    short, long = RecordingSink("short"), RecordingSink("long")
    await asyncio.gather(
        everything.request("tools/call", long_call(0.3, 2, "same"), sink=short),
        everything.request("tools/call", long_call(0.4, 4, "same"), sink=long),
    )
    assert [p["total"] for p in short.progress()] == [2, 2]
    assert [p["total"] for p in long.progress()] == [4, 4, 4, 4]
    assert {p["progressToken"] for p in short.progress() + long.progress()} == {"same"}


class RecordingWriter:
    """The server's stdin, with a record of every line written to it."""

    def __init__(self, inner: asyncio.StreamWriter) -> None:
        self.inner = inner
        self.sent: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.sent.extend(json.loads(line) for line in data.splitlines() if line.strip())
        self.inner.write(data)

    async def drain(self) -> None:
        await self.inner.drain()

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def close(self) -> None:
        self.inner.close()


async def test_cancelling_a_call_sends_notifications_cancelled_for_it(
    everything_cmd: list[str],
) -> None:
    async with spawned(*everything_cmd) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        writer = RecordingWriter(process.stdin)
        connection = UpstreamConnection("e", stdio_transport(process.stdout, writer))  # type: ignore[arg-type]
        await connection.connect(timeout=20)
        sink = RecordingSink()
        call = asyncio.create_task(
            connection.request("tools/call", long_call(10, 100, "t"), sink=sink)
        )
        await asyncio.wait_for(sink.first_progress.wait(), 10)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        sent_call = next(m for m in writer.sent if m.get("method") == "tools/call")
        await eventually(
            lambda: any(m.get("method") == "notifications/cancelled" for m in writer.sent)
        )
        cancelled = next(m for m in writer.sent if m.get("method") == "notifications/cancelled")
        assert cancelled["params"]["requestId"] == sent_call["id"]
        echoed = await connection.request(
            "tools/call", {"name": "echo", "arguments": {"message": "still here"}}
        )
        assert echoed["content"][0]["text"] == "Echo: still here"
        await connection.close()


async def test_killing_the_server_fails_the_waiting_call_at_once(
    everything_cmd: list[str],
) -> None:
    async with connected(everything_cmd) as (connection, process):
        sink = RecordingSink()
        call = asyncio.create_task(
            connection.request("tools/call", long_call(30, 300, "t"), sink=sink)
        )
        await asyncio.wait_for(sink.first_progress.wait(), 10)
        os.killpg(process.pid, signal.SIGKILL)
        with pytest.raises(ServerUnavailable, match="went away during tools/call"):
            await asyncio.wait_for(call, 5)
        await asyncio.wait_for(connection.wait_closed(), 5)
        assert connection.closed
        with pytest.raises(ServerUnavailable, match="not available"):
            await connection.request("ping")


async def test_ping_answers_and_times_out_when_the_server_hangs(
    everything_cmd: list[str],
) -> None:
    async with connected(everything_cmd) as (connection, process):
        assert await connection.ping(timeout=5) < 5
        os.killpg(process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(RequestTimedOut):
                await connection.ping(timeout=0.3)
        finally:
            os.killpg(process.pid, signal.SIGCONT)
        assert await connection.ping(timeout=5) < 5


async def test_connect_fails_with_server_error_when_the_process_exits() -> None:
    async with spawned(sys.executable, "-c", "import sys; sys.exit(3)") as process:
        assert process.stdout is not None
        assert process.stdin is not None
        connection = UpstreamConnection("gone", stdio_transport(process.stdout, process.stdin))
        with pytest.raises(ServerError, match="closed the connection during the MCP handshake"):
            await connection.connect(timeout=10)
        assert connection.closed


async def test_connect_fails_with_server_error_when_the_process_never_answers() -> None:
    async with spawned(sys.executable, "-c", "import time; time.sleep(60)") as process:
        assert process.stdout is not None
        assert process.stdin is not None
        connection = UpstreamConnection("mute", stdio_transport(process.stdout, process.stdin))
        with pytest.raises(ServerError, match=r"did not finish the MCP handshake within 0\.5s"):
            await connection.connect(timeout=0.5)
        assert connection.closed


# -- the server's own requests ---------------------------------------------------------------


async def test_a_sampling_request_reaches_the_calls_sink_and_its_answer_goes_back(
    everything: UpstreamConnection,
) -> None:
    sink = RecordingSink("the-caller")
    result = await everything.request(
        "tools/call",
        {"name": "trigger-sampling-request", "arguments": {"prompt": "haiku"}},
        sink=sink,
    )
    # (server-everything may also ask this only in-flight call's client for roots/list)
    [params] = [p for method, p in sink.requests if method == "sampling/createMessage"]
    assert params is not None
    assert params["systemPrompt"] == "You are a helpful test server."
    assert "sampled by the-caller" in result["content"][0]["text"]


async def test_a_request_no_call_claims_goes_to_the_default_sink(
    everything_cmd: list[str],
) -> None:
    default = RecordingSink("default")
    # server-everything asks for roots/list shortly after the handshake, with no call in flight.
    async with connected(everything_cmd, default_sink=default) as (connection, _):
        await eventually(lambda: ("roots/list", None) in default.requests)
        result = await connection.request("tools/call", {"name": "get-roots-list", "arguments": {}})
    assert "file:///srv/answered-by-sink" in result["content"][0]["text"]


async def test_without_a_default_sink_the_servers_request_is_refused(
    everything: UpstreamConnection,
) -> None:
    result = await everything.request(
        "tools/call", {"name": "trigger-sampling-request", "arguments": {"prompt": "x"}}
    )
    assert result["isError"] is True
    assert "no client is connected to answer sampling/createMessage" in str(result)


# -- remote servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def http_everything(command: list[str], mode: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [*command[:-1], mode],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def listening() -> bool:
            assert process.poll() is None, f"server-everything {mode} exited"
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, timeout=15, what=f"server-everything {mode} to listen on {port}")
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def streamable_http_port() -> Iterator[int]:
    from tests.conftest import node_server

    with http_everything([*node_server("mcp-server-everything"), "stdio"], "streamableHttp") as p:
        yield p


@pytest.fixture(scope="module")
def sse_port() -> Iterator[int]:
    from tests.conftest import node_server

    with http_everything([*node_server("mcp-server-everything"), "stdio"], "sse") as port:
        yield port


async def test_streamable_http_server_is_listed_and_called(streamable_http_port: int) -> None:
    url = f"http://127.0.0.1:{streamable_http_port}/mcp?token=secret-in-query"
    transport = streamable_http_transport(url, headers={"Authorization": "Bearer abc"})
    assert transport.label == f"http://127.0.0.1:{streamable_http_port}/mcp"
    connection = UpstreamConnection("remote", transport)
    await connection.connect(timeout=20)
    try:
        assert connection.protocol_version == "2025-11-25"
        assert len(await connection.list_tools()) == EVERYTHING_TOOLS
        result = await connection.request(
            "tools/call", {"name": "echo", "arguments": {"message": "over http"}}
        )
        assert result["content"][0]["text"] == "Echo: over http"
        assert await connection.ping(timeout=5) < 5
    finally:
        await connection.close()
    assert connection.closed


async def test_streamable_http_routes_a_servers_request_to_the_call_it_came_with(
    streamable_http_port: int,
) -> None:
    connection = UpstreamConnection(
        "remote", streamable_http_transport(f"http://127.0.0.1:{streamable_http_port}/mcp")
    )
    await connection.connect(timeout=20)
    try:
        slow, sampling = RecordingSink("slow"), RecordingSink("sampling")
        slow_call = asyncio.create_task(
            connection.request("tools/call", long_call(0.6, 3, 7), sink=slow)
        )
        await asyncio.wait_for(slow.first_progress.wait(), 10)
        result = await connection.request(
            "tools/call",
            {"name": "trigger-sampling-request", "arguments": {"prompt": "p"}},
            sink=sampling,
        )
        await slow_call
    finally:
        await connection.close()
    assert "sampled by sampling" in result["content"][0]["text"]
    assert [method for method, _ in sampling.requests] == ["sampling/createMessage"]
    assert slow.requests == []
    assert [p["progress"] for p in slow.progress()] == [1, 2, 3]
    assert {p["progressToken"] for p in slow.progress()} == {7}


async def test_connecting_to_a_closed_port_fails_with_server_error() -> None:
    connection = UpstreamConnection(
        "nowhere", streamable_http_transport(f"http://127.0.0.1:{free_port()}/mcp")
    )
    with pytest.raises(ServerError, match="nowhere"):
        await connection.connect(timeout=10)
    assert connection.closed


async def test_sse_server_is_listed_and_called(sse_port: int) -> None:
    connection = UpstreamConnection(
        "legacy", sse_transport(f"http://127.0.0.1:{sse_port}/sse", headers={"X-Team": "a"})
    )
    await connection.connect(timeout=20)
    try:
        assert len(await connection.list_tools()) == EVERYTHING_TOOLS
        sink = RecordingSink()
        result = await connection.request(
            "tools/call",
            {"name": "trigger-sampling-request", "arguments": {"prompt": "p"}},
            sink=sink,
        )
    finally:
        await connection.close()
    assert "sampled by client" in result["content"][0]["text"]


def test_public_api() -> None:
    assert sorted(reconciler.upstream.__all__) == [
        "CLIENT_CAPABILITIES",
        "CONNECTION_NOTIFICATIONS",
        "Discovery",
        "ExposedTool",
        "ListChangedCallback",
        "ListKind",
        "MessageSink",
        "NoClientSink",
        "PROTOCOL_VERSION",
        "RequestTimedOut",
        "RpcError",
        "ServerTool",
        "ServerUnavailable",
        "StdioTransport",
        "ToolChanges",
        "Transport",
        "TransportClosed",
        "UpstreamConnection",
        "apply_filter",
        "diff_tools",
        "discover",
        "schema_hash",
        "sse_transport",
        "stdio_transport",
        "streamable_http_transport",
    ]
