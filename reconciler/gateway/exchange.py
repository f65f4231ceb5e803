"""The messages the gateway sends a client while it answers one of the client's requests.

Progress, log messages and the server's own requests (sampling, elicitation, roots) that
arise during a call travel on that call's response: the HTTP layer answers with plain JSON
when nothing arrived before the result, and switches to an SSE stream as soon as something
does, so these messages reach the client before the result. A client that does not accept
SSE (and a legacy SSE session) gets them on its session stream instead.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from .rpc import Message
from .sessions import ClientSession


class Exchange:
    """One client request being answered, and the messages queued for its response stream."""

    def __init__(self, session: ClientSession, *, stream: bool) -> None:
        self.session = session
        self.stream = stream
        """Messages may travel on the request's own response (an SSE response is possible)."""
        self.done = False
        self._queue: deque[Message] = deque()
        self._activity = asyncio.Event()

    def send(self, message: Message) -> None:
        """Deliver a message related to the request."""
        if self.stream and not self.done:
            self._queue.append(message)
            self._activity.set()
        elif not self.done or "id" in message:
            self.session.push(message)

    @property
    def reaches_client(self) -> bool:
        """Whether a request sent now can reach the client (its response or session stream)."""
        return (self.stream and not self.done) or self.session.streaming

    def wake(self, _: object = None) -> None:
        self._activity.set()

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    async def first_activity(self, task: asyncio.Task[Any]) -> None:
        """Wait until the task finished or a message is queued."""
        task.add_done_callback(self.wake)
        while not task.done() and not self._queue:
            self._activity.clear()
            await self._activity.wait()

    async def messages(self, task: asyncio.Task[Message | None]) -> AsyncIterator[Message]:
        """Every queued message, then the response (if the request was not cancelled)."""
        try:
            while True:
                while self._queue:
                    yield self._queue.popleft()
                if task.done():
                    break
                self._activity.clear()
                await self._activity.wait()
            while self._queue:
                yield self._queue.popleft()
            response = None if task.cancelled() else task.result()
            if response is not None:
                yield response
        finally:
            self.done = True
