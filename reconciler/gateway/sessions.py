"""Client sessions of the gateway: who is connected to which suite, and what is waiting for them.

A session is created by `initialize` (or by opening a legacy SSE stream) and bound to its
suite and to the subject that authenticated it, and, for an OIDC caller, to its token's
`sub`: a request carrying the session id under another subject or another account is
treated as naming no session. Messages that belong to no request
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

from ..core.models import SessionLimits
from ..tokenbucket import TokenBucket

Message = dict[str, Any]
RequestId = str | int

OUTBOX_LIMIT = 512
"""Messages kept for a session with no open stream; the oldest are dropped beyond this."""


@dataclass(eq=False)
class CallerSession:
    """One MCP client connected to one suite."""

    id: str
    suite: str
    subject: str
    legacy: bool = False
    """Opened over the legacy HTTP+SSE transport: every message, answers too, goes to the stream."""
    caller: str = ""
    """Who holds the session for its limits: the subject, or the client address on a suite
    without ToolPermissions."""
    token_sub: str | None = None
    """The `sub` of the OIDC token that opened the session (None for static tokens): every
    call of the session is recorded with it, and only tokens of that account may use it."""
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

    @property
    def evictable(self) -> bool:
        """Idle: no open stream and no call in flight (ending it loses nothing running)."""
        return not self._stream and not self.in_flight and not self.pending

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


@dataclass(frozen=True, slots=True)
class Refused:
    """Why no session was created: `rate` (too many initialize) or `full`; when to retry."""

    reason: str
    retry_after: float


class SessionStore:
    """Every open session, with limits per caller, per suite and overall.

    `create` takes the suite's `SessionLimits`: a caller (token subject, or client address)
    may open `initialize_per_minute` sessions a minute and hold `max_sessions_per_caller`;
    the suite holds `max_sessions`, the store `limit`. At a cap, the least recently active
    idle session (no stream, no call in flight) of the caller itself, or of the suite's
    busiest caller, is ended to make room: a caller flooding `initialize` only ever evicts
    its own sessions while it is the one holding most.
    """

    def __init__(
        self,
        *,
        limit: int = 10000,
        idle_seconds: float = 3600.0,
        on_remove: Callable[[CallerSession], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.idle_seconds = idle_seconds
        self.on_remove = on_remove
        """Called for every session removed (ended, expired, evicted, or its suite gone)."""
        self.evicted = 0
        """Sessions ended to make room for new ones."""
        self._clock = clock
        self._sessions: dict[str, CallerSession] = {}
        self._callers: dict[tuple[str, str], dict[str, CallerSession]] = {}
        """(suite, caller) -> that caller's sessions on the suite."""
        self._per_suite: dict[str, int] = {}
        self._idle: dict[str, float] = {}
        """Suite -> its idle timeout, as last given to `create`."""
        self._opened: dict[tuple[str, str], TokenBucket] = {}
        """(suite, caller) -> the bucket of its initialize requests."""
        self._last_sweep = clock()

    def create(
        self,
        suite: str,
        subject: str,
        *,
        caller: str = "",
        limits: SessionLimits | None = None,
        legacy: bool = False,
        token_sub: str | None = None,
    ) -> CallerSession | Refused:
        """A new session, or why none was created."""
        limits = limits or DEFAULT_LIMITS
        now = self._clock()
        self._idle[suite] = float(limits.idle_seconds)
        self.sweep()
        key = (suite, caller or subject)
        wait = self._take_initialize(key, limits, now)
        if wait > 0:
            return Refused("rate", wait)
        mine = self._callers.get(key, {})
        if len(mine) >= limits.max_sessions_per_caller and not self._evict_from(key):
            return Refused("full", 1.0)
        if self._per_suite.get(suite, 0) >= limits.max_sessions and not self._evict_busiest(suite):
            return Refused("full", 1.0)
        if len(self._sessions) >= self.limit:
            self.sweep(force=True)
            if len(self._sessions) >= self.limit and not self._evict_busiest(None):
                return Refused("full", 1.0)
        session = CallerSession(
            secrets.token_urlsafe(24),
            suite,
            subject,
            legacy=legacy,
            caller=key[1],
            token_sub=token_sub,
        )
        self._sessions[session.id] = session
        self._callers.setdefault(key, {})[session.id] = session
        self._per_suite[suite] = self._per_suite.get(suite, 0) + 1
        return session

    def _take_initialize(self, key: tuple[str, str], limits: SessionLimits, now: float) -> float:
        per_minute = limits.initialize_per_minute
        bucket = self._opened.get(key)
        if bucket is None:
            bucket = TokenBucket.full(per_minute=per_minute, capacity=per_minute, now=now)
            self._opened[key] = bucket
        else:
            bucket.reshape(per_minute=per_minute, capacity=per_minute)
        wait = bucket.wait(now)
        if wait == 0:
            bucket.take()
        return wait

    def _evict_from(self, key: tuple[str, str]) -> bool:
        """End the caller's least recently active idle session; False when it has none."""
        idle = [s for s in self._callers.get(key, {}).values() if s.evictable]
        if not idle:
            return False
        self.remove(min(idle, key=lambda s: s.last_active).id)
        self.evicted += 1
        return True

    def _evict_busiest(self, suite: str | None) -> bool:
        """Evict from the caller holding most sessions (on `suite`, or anywhere)."""
        callers = sorted(
            (k for k in self._callers if suite is None or k[0] == suite),
            key=lambda k: len(self._callers[k]),
            reverse=True,
        )
        return any(self._evict_from(k) for k in callers)

    def get(self, session_id: str | None) -> CallerSession | None:
        if not session_id:
            return None
        return self._sessions.get(session_id)

    def remove(self, session_id: str) -> CallerSession | None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            key = (session.suite, session.caller)
            mine = self._callers.get(key)
            if mine is not None:
                mine.pop(session_id, None)
                if not mine:
                    del self._callers[key]
            self._per_suite[session.suite] = self._per_suite.get(session.suite, 1) - 1
            session.close()
            if self.on_remove is not None:
                self.on_remove(session)
        return session

    def __iter__(self) -> Iterator[CallerSession]:
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)

    def count(self, suite: str) -> int:
        return self._per_suite.get(suite, 0)

    def callers(self, suite: str) -> int:
        """How many callers hold sessions on the suite."""
        return sum(1 for k in self._callers if k[0] == suite)

    def sweep(self, *, force: bool = False) -> None:
        """Drop sessions idle longer than their suite's idle timeout (no stream, no call in
        flight), and forget initialize buckets that refilled."""
        now = self._clock()
        if not force and now - self._last_sweep < min(60.0, self.idle_seconds):
            return
        self._last_sweep = now
        for session in list(self._sessions.values()):
            limit = self._idle.get(session.suite, self.idle_seconds)
            if now - session.last_active > limit and session.evictable:
                self.remove(session.id)
        for key, bucket in list(self._opened.items()):
            if bucket.wait(now) == 0 and bucket.tokens >= bucket.capacity:
                del self._opened[key]

    def close_all(self) -> None:
        for session_id in list(self._sessions):
            self.remove(session_id)


DEFAULT_LIMITS = SessionLimits()
