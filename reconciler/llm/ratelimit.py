"""Client-side rate limits of one provider: requests and tokens per minute.

Two token buckets (`reconciler.tokenbucket`), each holding at most one minute's allowance.
A call takes one request and its estimated tokens before it is sent, waiting while either
bucket is short; once the provider reports the real count, the difference is settled. A
provider that answers 429 with `Retry-After` pauses every caller, not only the one that
was refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ..tokenbucket import TokenBucket


class ProviderRateLimiter:
    """Requests-per-minute and tokens-per-minute limits (either may be None: unlimited)."""

    def __init__(
        self,
        *,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        now = clock()
        self._requests = _minute_bucket(requests_per_minute, now)
        self._tokens = _minute_bucket(tokens_per_minute, now)
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self, tokens: int) -> None:
        """Take one request and `tokens` tokens, waiting (first come, first served)."""
        async with self._lock:
            while True:
                now = self._clock()
                wait = self._paused_until - now
                for bucket, amount in ((self._requests, 1), (self._tokens, tokens)):
                    if bucket is not None:
                        wait = max(wait, bucket.wait(now, min(amount, bucket.capacity)))
                if wait <= 0:
                    break
                await self._sleep(wait)
            if self._requests is not None:
                self._requests.take()
            if self._tokens is not None:
                self._tokens.take(min(tokens, self._tokens.capacity))

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the tokens taken for a call once its real count is known."""
        if self._tokens is not None:
            self._tokens.refill(self._clock())
            self._tokens.tokens = min(
                self._tokens.capacity, self._tokens.tokens + estimated - actual
            )

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (the provider asked to wait)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)


def _minute_bucket(per_minute: int | None, now: float) -> TokenBucket | None:
    """A full bucket holding one minute's allowance, or None when unlimited."""
    if not per_minute:
        return None
    return TokenBucket.full(per_minute=per_minute, capacity=per_minute, now=now)
