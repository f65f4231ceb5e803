"""Rate limits of the gateway's callers: token buckets per subject and per subject + tool,
in memory (no external store).

A call takes one token from the subject's bucket and, when the tool has a per-tool limit,
one from the subject+tool bucket. A refused call takes nothing and learns how long to
wait. Buckets survive configuration updates; a changed limit adjusts the bucket in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..tokenbucket import TokenBucket
from .config import Limits


class SubjectRateLimiter:
    """The buckets of every subject (and subject + tool) of every suite."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}

    def acquire(
        self, suite: str, subject: str, limits: Limits | None, server: str, tool: str
    ) -> float:
        """Take a token for one call: 0.0 when it may go ahead, else seconds to wait."""
        if limits is None:
            return 0.0
        now = self._clock()
        buckets = [self._bucket((suite, subject), limits.requests_per_minute, limits.burst, now)]
        tool_rpm = limits.tool_limit(server, tool)
        if tool_rpm is not None:
            capacity = min(tool_rpm, limits.burst)
            buckets.append(self._bucket((suite, subject, server, tool), tool_rpm, capacity, now))
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            return wait
        for bucket in buckets:
            bucket.take()
        return 0.0

    def _bucket(
        self, key: tuple[str, ...], per_minute: int, capacity: int, now: float
    ) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(
                per_minute=per_minute, capacity=capacity, now=now
            )
        else:
            bucket.reshape(per_minute=per_minute, capacity=capacity)
        return bucket

    def forget(self, keep: Callable[[tuple[str, ...]], bool]) -> None:
        """Drop the buckets `keep` rejects (subjects or suites that no longer exist)."""
        self._buckets = {k: b for k, b in self._buckets.items() if keep(k)}
