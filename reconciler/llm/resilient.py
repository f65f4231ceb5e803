"""A provider client with the protections every call needs.

`ResilientClient` wraps one wire-format adapter: at most `maxConcurrency` calls in flight,
the provider's rate limits, retries with exponential backoff on 429/5xx/timeouts/garbled
answers (honouring `Retry-After`), a circuit breaker, and the call's cost from `pricing`.
It counts what went over the wire, so callers (and tests) can see how many calls were made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from ..core.errors import ProviderError
from ..core.models.provider import Pricing
from .base import CIRCUIT_OPEN, RATE_LIMITED, Completion, CompletionRequest, LLMClient
from .breaker import CircuitBreaker
from .pricing import call_cost, estimate_tokens
from .ratelimit import ProviderRateLimiter
from .retry import RetryPolicy

log = logging.getLogger(__name__)


@dataclass
class CallCounts:
    """What one client sent: attempts over the wire, and how they ended."""

    attempts: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0


class ResilientClient:
    """One provider, rate limited, retried and guarded by a circuit breaker."""

    def __init__(
        self,
        client: LLMClient,
        *,
        pricing: Pricing | None = None,
        max_concurrency: int = 4,
        limiter: ProviderRateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.name = client.name
        self.model = client.model
        self.pricing = pricing or Pricing()
        self.limiter = limiter or ProviderRateLimiter()
        self.breaker = breaker or CircuitBreaker(client.name)
        self.retry = retry or RetryPolicy()
        self.counts = CallCounts()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._sleep = sleep

    async def complete(self, request: CompletionRequest) -> Completion:
        """Ask, retrying what is worth retrying; the last `ProviderError` when all fail."""
        estimate = estimate_tokens(request.system, request.prompt) + request.max_output_tokens // 2
        async with self._slots:
            attempt = 0
            while True:
                attempt += 1
                self.breaker.before_call()
                await self.limiter.acquire(estimate)
                self.counts.attempts += 1
                try:
                    completion = await self.client.complete(request)
                except ProviderError as error:
                    self.counts.failed += 1
                    self.limiter.settle(estimate, 0)
                    if error.reason != CIRCUIT_OPEN:
                        self.breaker.failure()
                    if error.reason == RATE_LIMITED and error.retry_after:
                        self.limiter.pause(min(error.retry_after, self.retry.max_retry_after))
                    delay = self.retry.delay(attempt, error)
                    if delay is None:
                        raise
                    log.info(
                        "LLM provider %s: %s; try %d in %.1f s",
                        self.name,
                        error.reason,
                        attempt + 1,
                        delay,
                    )
                    self.counts.retried += 1
                    await self._sleep(delay)
                    continue
                self.counts.succeeded += 1
                self.breaker.success()
                used = completion.input_tokens + completion.output_tokens
                self.limiter.settle(estimate, used)
                cost = call_cost(self.pricing, completion.input_tokens, completion.output_tokens)
                return replace(completion, cost=cost)

    async def aclose(self) -> None:
        await self.client.aclose()
