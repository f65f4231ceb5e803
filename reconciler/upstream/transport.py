"""Message pipes to one MCP server: the `Transport` protocol and the stdio transport.

A transport moves JSON-RPC messages as plain dicts, unchanged: nothing is parsed into
models on the way, so fields a newer server adds reach the gateway's clients intact. The
stdio transport speaks newline-delimited JSON (as the SDK's stdio client does) over pipes
the supervisor already owns; it never starts or stops the process. The HTTP transports
live in `remote.py`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from mcp_types import RequestId

from ..core.errors import ReconcilerError
from . import wire

logger = logging.getLogger(__name__)

Message = dict[str, Any]
"""One JSON-RPC message (request, notification or response) as it is on the wire."""

Inbound = tuple[Message, RequestId | None]
"""A message from the server, and the id of our request it belongs to when the transport
knows it (streamable HTTP sends a call's messages on that call's response stream)."""


class TransportClosed(Exception):
    """The pipe to the server is gone; raised by `Transport.send`."""


class Transport(Protocol):
    """A duplex pipe of JSON-RPC messages to one server."""

    label: str
    """What the pipe connects to, for messages (`stdio`, a URL without its query)."""

    protocol_version: str | None
    """Negotiated protocol version, set after the handshake (HTTP sends it as a header)."""

    failure: str | None
    """Why the pipe closed, when it closed on its own and the transport knows why."""

    failure_error: ReconcilerError | None
    """The typed error that closed the pipe, when one did (a refused OAuth client, a token
    the server refused): its reason becomes the reason of the server's condition."""

    links_requests: bool
    """True when every message about a request carries its id (`Inbound`'s second item):
    an unlinked message then concerns no call. False when the pipe cannot tell (stdio)."""

    async def start(self) -> None:
        """Open the pipe; raise `TransportClosed` saying why it cannot be opened."""
        ...

    async def send(self, message: Message) -> None:
        """Write one message; raise `TransportClosed` when the pipe is gone."""
        ...

    async def receive(self) -> Inbound | None:
        """The next message from the server, or None once the pipe has closed."""
        ...

    async def close(self) -> None:
        """Close the pipe (idempotent)."""
        ...


class StdioTransport:
    """Newline-delimited JSON-RPC over a process's stdout (reader) and stdin (writer)."""

    label = "stdio"
    links_requests = False

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._closed = False
        self.protocol_version: str | None = None
        self.failure: str | None = None
        self.failure_error: ReconcilerError | None = None

    async def start(self) -> None:
        if self._closed or self._writer.is_closing():
            raise TransportClosed("the server's stdin is closed")

    async def send(self, message: Message) -> None:
        if self._closed or self._writer.is_closing():
            raise TransportClosed("the server's stdin is closed")
        data = wire.dumps(message) + b"\n"
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise TransportClosed(f"writing to the server's stdin failed: {exc}") from exc

    async def receive(self) -> Inbound | None:
        while True:
            line = await _read_line(self._reader)
            if line is None:
                if not self._closed:
                    self.failure = "its stdout closed: the process has probably exited"
                return None
            if not line.strip():
                continue
            try:
                message = wire.loads(line)
            except ValueError:
                logger.warning("ignoring a line of server stdout that is not JSON: %.200r", line)
                continue
            if isinstance(message, dict):
                return message, None
            logger.warning("ignoring a JSON value that is not a JSON-RPC message: %.200r", line)

    async def close(self) -> None:
        """Close the server's stdin: by the MCP spec, the request to exit."""
        if self._closed:
            return
        self._closed = True
        if not self._writer.is_closing():
            self._writer.close()


def stdio_transport(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> StdioTransport:
    """A transport over the pipes of a server process someone else started."""
    return StdioTransport(reader, writer)


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """One line of any length (the reader's limit only sizes the chunks), None at EOF."""
    chunks: list[bytes] = []
    while True:
        try:
            chunks.append(await reader.readuntil(b"\n"))
            break
        except asyncio.LimitOverrunError as exc:
            chunks.append(await reader.readexactly(exc.consumed))
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                chunks.append(exc.partial)
                break
            if chunks:
                break
            return None
        except ConnectionError:
            return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
