"""Client sessions of the gateway: who is connected to which suite, and what is waiting for them.

A session is created by `initialize` (or by opening a legacy SSE stream) and bound to its
suite and to the subject that authenticated it: a request carrying the session id under
another subject is treated as naming no session. Messages that belong to no request
(list_changed, resource updates) wait in the session's outbox until its stream takes them.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]
RequestId = str | int

OUTBOX_LIMIT = 512
"""Messages kept for a session with no open stream; the oldest are dropped beyond this."""


@dataclass(eq=False)
class ClientSession:
    """One MCP client connected to one suite."""

    id: str
    suite: str
    subject: str
    legacy: bool = False
    """Opened over the legacy HTTP+SSE transport: every message, answers too, goes to the stream."""
    protocol_version: str = "2025-03-26"
    capabilities: dict[str, Any] = field(default_factory=dict)
    client_info: dict[str, Any] = field(default_factory=dict)
    initialized: bool = False
    log_level: str | None = None
    visible: object = None
    """Fingerprint of the tools the subject sees; a change sends tools/list_changed."""
    discovered: set[str] = field(default_factory=set)
    """On a suite in search mode: the tools `find_tools` returned, listed from then on."""
    subscriptions: set[tuple[str, str]] = field(default_factory=set)
    """(server, uri) of resources subscribed to."""
    in_flight: dict[RequestId, asyncio.Task[Any]] = field(default_factory=dict)
    pending: dict[RequestId, asyncio.Future[Message]] = field(default_factory=dict)
    """Requests sent to the client (sampling, elicitation, roots) awaiting its answer."""
    progress_routes: dict[RequestId, str] = field(default_factory=dict)
    """Progress token of a pending request to the client -> the server that asked."""
    last_active: float = field(default_factory=time.monotonic)
    closed: bool = False
    _outbox: deque[Message] = field(default_factory=lambda: deque(maxlen=OUTBOX_LIMIT))
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stream: int = 0
    """Generation of the stream currently taking the outbox; 0 when none is open."""
    _streams: int = 0
    _next_id: int = 0

    def touch(self) -> None:
        self.last_active = time.monotonic()

    def push(self, message: Message) -> None:
        """Queue a message for the session's stream (GET stream, or the legacy SSE stream)."""
        if self.closed:
            return
        self._outbox.append(message)
        self._wake.set()

    def next_request_id(self) -> str:
        """A fresh id for a request the gateway sends to this client."""
        self._next_id += 1
        return f"gw-{self._next_id}"

    def open_stream(self) -> int:
        """Attach a new stream; it replaces any stream open before (which then ends)."""
        self._streams += 1
        self._stream = self._streams
        self._wake.set()
        return self._stream

    def close_stream(self, generation: int) -> None:
        if self._stream == generation:
            self._stream = 0
            self.touch()

    @property
    def streaming(self) -> bool:
        return self._stream != 0

    async def next_message(self, generation: int, *, wait: float) -> Message | None:
        """The next queued message for the stream `generation`; None after `wait` seconds.

        Raises EOFError when the stream was replaced or the session closed.
        """
        while True:
            if self.closed or self._stream != generation:
                raise EOFError
            if self._outbox:
                return self._outbox.popleft()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                return None

    def close(self) -> None:
        """End the session: its streams end, its calls are cancelled, waits are released."""
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        for task in self.in_flight.values():
            task.cancel()
        for future in self.pending.values():
            if not future.done():
                future.cancel()
        self.in_flight.clear()
        self.pending.clear()


class SessionStore:
    """Every open session, with a cap on their number and expiry of idle ones."""

    def __init__(
        self,
        *,
        limit: int = 10000,
        idle_seconds: float = 3600.0,
        on_remove: Callable[[ClientSession], None] | None = None,
    ) -> None:
        self.limit = limit
        self.idle_seconds = idle_seconds
        self.on_remove = on_remove
        """Called for every session removed (ended, expired, or its suite gone)."""
        self._sessions: dict[str, ClientSession] = {}
        self._last_sweep = time.monotonic()

    def create(self, suite: str, subject: str, *, legacy: bool = False) -> ClientSession | None:
        """A new session, or None when the store is full even after expiring idle sessions."""
        self.sweep()
        if len(self._sessions) >= self.limit:
            self.sweep(force=True)
            if len(self._sessions) >= self.limit:
                return None
        session = ClientSession(secrets.token_urlsafe(24), suite, subject, legacy=legacy)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> ClientSession | None:
        if not session_id:
            return None
        return self._sessions.get(session_id)

    def remove(self, session_id: str) -> ClientSession | None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.close()
            if self.on_remove is not None:
                self.on_remove(session)
        return session

    def __iter__(self) -> Iterator[ClientSession]:
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)

    def count(self, suite: str) -> int:
        return sum(1 for s in self._sessions.values() if s.suite == suite)

    def sweep(self, *, force: bool = False) -> None:
        """Drop sessions idle longer than `idle_seconds` (no stream, no call in flight)."""
        now = time.monotonic()
        if not force and now - self._last_sweep < min(60.0, self.idle_seconds):
            return
        self._last_sweep = now
        for session in list(self._sessions.values()):
            idle = now - session.last_active
            if idle > self.idle_seconds and not session.streaming and not session.in_flight:
                self.remove(session.id)

    def close_all(self) -> None:
        for session_id in list(self._sessions):
            self.remove(session_id)
