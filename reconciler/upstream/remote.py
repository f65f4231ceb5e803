"""Transports to remote servers (`streamable-http`, `sse`), over the SDK's own HTTP clients.

The SDK's client transports are anyio context managers yielding streams of
`SessionMessage`. `SdkStreamsTransport` keeps one open in a task of its own for the life of
the connection and turns its messages into plain dicts (results and params are kept as the
server sent them; only the envelope passes through the SDK's models).

Streamable HTTP carries each call's progress, log lines and server requests on that call's
own response stream. `_RelatedStreamableHTTP` records which request a message came in
under, so the channel can route it to the right call even with many calls in flight; the
SDK's `streamable_http_client` drops that link, hence the few lines below that open the
SDK's transport class the same way it does.

A server behind OAuth gets its token from a `BearerSource` (the client-credentials grant
of `reconciler.identity`) on every HTTP request; a 401 answer makes the source fetch a new
token once, and the request is sent again with it. A 401 to that fresh token too ends the
connection with `UpstreamUnauthorized`; a token endpoint that refuses or cannot be reached
ends it with its `AuthorizationServerError`. Either is kept as the transport's
`failure_error`, so the server's status can say which it was.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import httpx2
from httpx2 import ServerSentEvent
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client
from mcp.client.streamable_http import StreamableHTTPTransport, StreamWriter
from mcp.shared._context_streams import create_context_streams
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.message import ClientMessageMetadata, ServerMessageMetadata, SessionMessage
from mcp_types import RequestId, jsonrpc_message_adapter

from ..core.errors import ReconcilerError, UpstreamUnauthorized
from .transport import Inbound, Message, TransportClosed

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0
"""Seconds a remote transport may take to end its session (HTTP DELETE) when closed."""

OpenStreams = Callable[[], AbstractAsyncContextManager[TransportStreams]]


class BearerSource(Protocol):
    """Where a remote server's access tokens come from."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Texts never to show (the client secret, the current token)."""
        ...

    async def token(self) -> str:
        """A token valid for a while yet."""
        ...

    async def refresh(self, stale: str | None) -> str:
        """A new token, after the server refused `stale`."""
        ...


_CHALLENGE_ERROR = re.compile(r'error="([A-Za-z0-9_.-]{1,60})"')
"""The `error` code of a `WWW-Authenticate: Bearer` challenge (RFC 6750 section 3)."""


class BearerAuth(httpx2.Auth):
    """`Authorization: Bearer` from a BearerSource; one refresh and retry on a 401, and
    `UpstreamUnauthorized` when the fresh token is refused too."""

    def __init__(self, source: BearerSource) -> None:
        self.source = source

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        token = await self.source.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        fresh = await self.source.refresh(token)
        request.headers["Authorization"] = f"Bearer {fresh}"
        response = yield request
        if response.status_code == 401:
            found = _CHALLENGE_ERROR.search(response.headers.get("www-authenticate", ""))
            said = f" ({found.group(1)})" if found else ""
            raise UpstreamUnauthorized(
                f"{redacted_url(str(request.url))} answered HTTP 401{said} to a token the "
                "token endpoint had just issued: check that auth.oauth2.audience and scopes "
                "are what the server expects, and that it trusts the token endpoint's issuer"
            )


def redacted_url(url: str) -> str:
    """The URL without user info, query or fragment: safe to show (tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


class SdkStreamsTransport:
    """A `Transport` over an SDK client transport, kept open in a background task."""

    def __init__(
        self,
        label: str,
        open_streams: OpenStreams,
        *,
        links_requests: bool,
        secret_texts: tuple[str, ...] = (),
        bearer: BearerSource | None = None,
    ) -> None:
        self.label = label
        self.links_requests = links_requests
        self.protocol_version: str | None = None
        self.failure: str | None = None
        """Why the pipe closed, when it closed on its own."""
        self.failure_error: ReconcilerError | None = None
        self._open_streams = open_streams
        self._secret_texts = secret_texts
        self._bearer = bearer
        self._inbox: asyncio.Queue[Inbound | None] = asyncio.Queue()
        self._write: Any = None
        self._runner: asyncio.Task[None] | None = None
        self._pump_scope = anyio.CancelScope()
        self._finished = False

    async def start(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._run(ready), name=f"mcp-transport {self.label}")
        try:
            await ready
        except BaseException:
            await self.close()
            raise

    async def send(self, message: Message) -> None:
        if self._finished or self._write is None:
            raise TransportClosed(self.failure or f"the connection to {self.label} is closed")
        metadata = None
        if self.protocol_version is not None:
            metadata = ClientMessageMetadata(
                headers={MCP_PROTOCOL_VERSION_HEADER: self.protocol_version}
            )
        envelope = jsonrpc_message_adapter.validate_python(message)
        try:
            await self._write.send(SessionMessage(envelope, metadata))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            raise TransportClosed(self.failure or f"the connection to {self.label} closed") from exc

    async def receive(self) -> Inbound | None:
        if self._finished and self._inbox.empty():
            return None
        return await self._inbox.get()

    async def close(self) -> None:
        self._pump_scope.cancel()
        runner = self._runner
        if runner is None or runner.done():
            return
        if self._write is None:  # still connecting: nothing to end politely
            runner.cancel()
            await asyncio.wait({runner})
            return
        try:
            await asyncio.wait_for(asyncio.shield(runner), CLOSE_TIMEOUT)
        except TimeoutError:
            runner.cancel()
            await asyncio.wait({runner})

    async def _run(self, ready: asyncio.Future[None]) -> None:
        try:
            async with self._open_streams() as (read_stream, write_stream):
                self._write = write_stream
                ready.set_result(None)
                with self._pump_scope:
                    async for item in read_stream:
                        if isinstance(item, Exception):
                            logger.warning("%s sent an unreadable message: %s", self.label, item)
                            continue
                        self._inbox.put_nowait(_to_inbound(item))
        except Exception as exc:
            self.failure_error = _typed_cause(exc)
            self.failure = self._describe(exc)
            if not ready.done():
                ready.set_exception(TransportClosed(self.failure))
                ready.exception()  # retrieved here: start() may have stopped waiting
            else:
                logger.info("connection to %s ended: %s", self.label, self.failure)
        finally:
            self._finished = True
            self._write = None
            if not ready.done():
                ready.set_exception(TransportClosed(f"the connection to {self.label} closed"))
                ready.exception()
            self._inbox.put_nowait(None)

    def _describe(self, exc: BaseException) -> str:
        exc = self.failure_error or exc
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        if isinstance(exc, ReconcilerError):
            return exc.message  # worded for people already, secrets never in it
        text = str(exc) or type(exc).__name__
        hidden = (*self._secret_texts, *(self._bearer.secrets if self._bearer else ()))
        for secret in hidden:
            if secret:
                text = text.replace(secret, "[redacted]")
        return f"{type(exc).__name__}: {text}"


def _typed_cause(exc: BaseException) -> ReconcilerError | None:
    """The first of our own errors in `exc` (a task group nests them in exception groups)."""
    if isinstance(exc, ReconcilerError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _typed_cause(inner)
            if found is not None:
                return found
    return None


def _to_inbound(item: SessionMessage) -> Inbound:
    message: Message = item.message.model_dump(by_alias=True, mode="json", exclude_unset=True)
    related = None
    if isinstance(item.metadata, ServerMessageMetadata):
        related = item.metadata.related_request_id
    return message, related


class _RelatedStreamableHTTP(StreamableHTTPTransport):
    """The SDK's streamable HTTP transport, marking what arrives on a call's response stream."""

    async def _handle_sse_event(
        self,
        sse: ServerSentEvent,
        read_stream_writer: StreamWriter,
        original_request_id: RequestId | None = None,
        resumption_callback: Callable[[str], Awaitable[None]] | None = None,
    ) -> bool:
        writer: Any = read_stream_writer
        if original_request_id is not None:
            writer = _MarkingWriter(read_stream_writer, original_request_id)
        return await super()._handle_sse_event(
            sse, writer, original_request_id, resumption_callback
        )


class _MarkingWriter:
    """Stamps each message passed on with the request whose response stream carried it."""

    def __init__(self, inner: StreamWriter, request_id: RequestId) -> None:
        self._inner = inner
        self._request_id = request_id

    async def send(self, item: SessionMessage | Exception) -> None:
        if isinstance(item, SessionMessage) and item.metadata is None:
            item.metadata = ServerMessageMetadata(related_request_id=self._request_id)
        await self._inner.send(item)


@asynccontextmanager
async def _streamable_http_streams(
    url: str, headers: Mapping[str, str], auth: httpx2.Auth | None
) -> AsyncIterator[TransportStreams]:
    """`mcp.client.streamable_http.streamable_http_client`, with `_RelatedStreamableHTTP`."""
    transport = _RelatedStreamableHTTP(url)
    async with create_mcp_http_client(headers=dict(headers), auth=auth) as client:
        read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
        write_stream, write_reader = create_context_streams[SessionMessage](0)
        async with (
            read_writer,
            read_stream,
            write_stream,
            write_reader,
            anyio.create_task_group() as tg,
        ):

            def start_get_stream() -> None:
                tg.start_soon(transport.handle_get_stream, client, read_writer)

            tg.start_soon(
                transport.post_writer,
                client,
                write_reader,
                read_writer,
                write_stream,
                start_get_stream,
                tg,
            )
            try:
                yield read_stream, write_stream
            finally:
                if transport.session_id:
                    await transport.terminate_session(client)
                tg.cancel_scope.cancel()


def streamable_http_transport(
    url: str, *, headers: Mapping[str, str] | None = None, bearer: BearerSource | None = None
) -> SdkStreamsTransport:
    """A transport to a streamable HTTP server at `url`, sending `headers` (and a token
    from `bearer`) on every request."""
    sent = dict(headers or {})
    auth = BearerAuth(bearer) if bearer is not None else None
    return SdkStreamsTransport(
        redacted_url(url),
        lambda: _streamable_http_streams(url, sent, auth),
        links_requests=True,
        secret_texts=(url, *sent.values()),
        bearer=bearer,
    )


def sse_transport(
    url: str, *, headers: Mapping[str, str] | None = None, bearer: BearerSource | None = None
) -> SdkStreamsTransport:
    """A transport to a (legacy) HTTP+SSE server whose event stream is at `url`."""
    sent = dict(headers or {})
    auth = BearerAuth(bearer) if bearer is not None else None
    return SdkStreamsTransport(
        redacted_url(url),
        lambda: sse_client(url, headers=sent, auth=auth),
        links_requests=False,
        secret_texts=(url, *sent.values()),
        bearer=bearer,
    )
