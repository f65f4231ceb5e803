"""The messages the gateway sends a client while it answers one of the client's requests,
and the HTTP response that carries them.

Progress, log messages and the server's own requests (sampling, elicitation, roots) that
arise during a call travel on that call's response: the response is plain JSON when
nothing arrived before the result, and becomes an SSE stream as soon as something does, so
these messages reach the client before the result. A client that does not accept SSE
(and a legacy SSE session) gets them on its session stream instead.

The request is handled in the task that serves the HTTP request: `answer` writes the JSON
response (or the one-event SSE response) directly. Only a message arriving before the
result starts a task (`_pump`) that streams; the result then follows on that stream.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..upstream import wire
from .rpc import Message
from .sessions import CallerSession

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
"""An ASGI `send`."""

SESSION_HEADER = "mcp-session-id"
SSE_HEADERS = {"cache-control": "no-cache, no-transform", "x-accel-buffering": "no"}
_JSON = (b"content-type", b"application/json")
_SSE = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    *((name.encode(), value.encode()) for name, value in SSE_HEADERS.items()),
]


def sse_event(message: Message) -> bytes:
    return b"event: message\ndata: " + wire.dumps(message) + b"\n\n"


class Exchange:
    """One client request being answered, and the messages queued for its response stream.

    `send` is the HTTP response's ASGI send (None: the answer goes elsewhere, as on the
    legacy transport); `stream`: the response may be an SSE stream.
    """

    def __init__(self, session: CallerSession, *, stream: bool, send: Send | None = None) -> None:
        self.session = session
        self.stream = stream and send is not None
        """Messages may travel on the request's own response (an SSE response is possible)."""
        self.done = False
        self._send = send
        self._queue: deque[Message] = deque()
        self._activity: asyncio.Event | None = None
        self._pump: asyncio.Task[None] | None = None

    def send(self, message: Message) -> None:
        """Deliver a message related to the request."""
        if self.stream and not self.done:
            self._queue.append(message)
            if self._pump is None:
                self._activity = asyncio.Event()
                self._pump = asyncio.create_task(self._stream())
            else:
                assert self._activity is not None
                self._activity.set()
        elif not self.done or "id" in message:
            self.session.push(message)

    @property
    def reaches_client(self) -> bool:
        """Whether a request sent now can reach the client (its response or session stream)."""
        return (self.stream and not self.done) or self.session.streaming

    async def answer(self, response: Message | None, *, json: bool) -> None:
        """Write the response: JSON when `json` and nothing was streamed, else the end of the
        SSE stream (or a stream of one event); None (cancelled) -> 202, or the stream ends."""
        self.done = True
        send = self._send
        assert send is not None
        session = (SESSION_HEADER.encode(), self.session.id.encode())
        if self._pump is not None:
            if response is not None:
                self._queue.append(response)
            assert self._activity is not None
            self._activity.set()
            await self._pump
        elif response is None:
            headers = [(b"content-length", b"0"), session]
            await send({"type": "http.response.start", "status": 202, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
        elif json:
            body = wire.dumps(response)
            headers = [_JSON, (b"content-length", b"%d" % len(body)), session]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, session]})
            await send({"type": "http.response.body", "body": sse_event(response)})

    async def _stream(self) -> None:
        """The SSE response: every queued message, until `answer` has queued the last."""
        send = self._send
        activity = self._activity
        assert send is not None
        assert activity is not None
        session = (SESSION_HEADER.encode(), self.session.id.encode())
        await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, session]})
        while True:
            while self._queue:
                body = sse_event(self._queue.popleft())
                await send({"type": "http.response.body", "body": body, "more_body": True})
            if self.done:
                break
            activity.clear()
            await activity.wait()
        await send({"type": "http.response.body", "body": b""})
