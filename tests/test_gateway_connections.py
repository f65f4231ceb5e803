"""Slow and numerous connections: header, body and idle deadlines, a cap per client address,
and streams that stay open as long as the protocol wants."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx2
import pytest
import pytest_asyncio

from reconciler.gateway.connections import ConnectionLimits
from tests.gateway_harness import ACCEPT, Registry, Served, open_session, serving, suite

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIMITS = ConnectionLimits(header_seconds=0.5, body_seconds=0.5, idle_seconds=1, per_client=4)
OPEN_SUITE = suite("dev", extra=", public: true")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served() -> AsyncIterator[Served]:
    async with serving(OPEN_SUITE, Registry(), {}, limits=LIMITS) as served:
        yield served


async def connect(served: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", served.server.port)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent until it closed the connection; fails if it stays open."""
    async with asyncio.timeout(seconds):
        try:
            return await reader.read()
        except ConnectionError:  # reset by the server: closed too
            return b""


async def test_headers_sent_a_line_at_a_time_are_cut_off(served: Served) -> None:
    reader, writer = await connect(served)
    writer.write(b"GET /healthz HTTP/1.1\r\n")
    with contextlib.suppress(ConnectionError):
        for _ in range(3):
            await asyncio.sleep(0.2)
            writer.write(b"x-slow: 1\r\n")
    assert await closed_within(reader, 3) == b""
    writer.close()


async def test_a_connection_that_never_sends_anything_is_closed(served: Served) -> None:
    reader, writer = await connect(served)
    assert await closed_within(reader, 3) == b""
    writer.close()


async def test_a_body_sent_a_byte_at_a_time_is_cut_off(served: Served) -> None:
    reader, writer = await connect(served)
    writer.write(
        b"POST /suites/dev/mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"accept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{"
    )
    with contextlib.suppress(ConnectionError):
        for _ in range(5):
            await asyncio.sleep(0.2)
            writer.write(b" ")
    answer = await closed_within(reader, 3)
    assert b"200 OK" not in answer
    writer.close()


async def test_headers_past_the_size_cap_are_refused_with_431(served: Served) -> None:
    reader, writer = await connect(served)
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n")
    with contextlib.suppress(ConnectionError):
        for _ in range(LIMITS.header_bytes // 1024 + 1):
            writer.write(b"x-pad: " + b"a" * 1024 + b"\r\n")
            await writer.drain()
    answer = await closed_within(reader, 3)
    assert answer.startswith(b"HTTP/1.1 431")
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed(served: Served) -> None:
    reader, writer = await connect(served)
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    answer = await closed_within(reader, 4)
    assert answer.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_one_address_gets_a_capped_number_of_connections(served: Served) -> None:
    held = [await connect(served) for _ in range(LIMITS.per_client)]
    reader, writer = await connect(served)
    refused = await closed_within(reader, 3)
    assert refused.startswith(b"HTTP/1.1 503")
    writer.close()
    for _, held_writer in held:
        held_writer.close()


async def test_an_open_event_stream_outlives_every_deadline(served: Served) -> None:
    url = served.url("dev")
    async with httpx2.AsyncClient(timeout=10) as http:
        session = await open_session(http, url)
        headers = {**ACCEPT, "mcp-session-id": session}
        async with http.stream("GET", url, headers=headers) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith(": stream open")
            await asyncio.sleep(2.5)  # past header, body and idle deadlines
            served.gateway.sessions.get(session).push(  # type: ignore[union-attr]
                {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
            )
            async with asyncio.timeout(5):
                async for line in lines:
                    if "list_changed" in line:
                        break
