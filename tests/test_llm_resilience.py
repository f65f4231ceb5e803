"""Rate limits, the circuit breaker and the retry policy, on a clock the test moves."""

from __future__ import annotations

import httpx
import pytest

from reconciler.core.errors import ProviderError
from reconciler.llm.base import CIRCUIT_OPEN, RATE_LIMITED, REJECTED, UNAVAILABLE
from reconciler.llm.breaker import CircuitBreaker
from reconciler.llm.http import retry_after_seconds
from reconciler.llm.ratelimit import ProviderRateLimiter
from reconciler.llm.retry import RetryPolicy


class Clock:
    """Time that passes only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_tokens_per_minute_hold_calls_until_the_bucket_refills() -> None:
    clock = Clock()
    limiter = ProviderRateLimiter(tokens_per_minute=600, clock=clock, sleep=clock.sleep)
    await limiter.acquire(600)
    assert clock.slept == []
    await limiter.acquire(300)  # 10 tokens a second: 30 s
    assert sum(clock.slept) == pytest.approx(30)
    limiter.settle(300, 0)  # the call failed: its tokens come back
    clock.slept.clear()
    await limiter.acquire(300)
    assert clock.slept == []


async def test_a_provider_asking_to_wait_pauses_every_caller() -> None:
    clock = Clock()
    limiter = ProviderRateLimiter(requests_per_minute=1000, clock=clock, sleep=clock.sleep)
    limiter.pause(5)
    await limiter.acquire(1)
    assert sum(clock.slept) == pytest.approx(5)


def test_the_breaker_lets_one_trial_through_after_the_pause() -> None:
    clock = Clock()
    breaker = CircuitBreaker("llm", failure_threshold=2, reset_after=30, clock=clock)
    breaker.failure()
    breaker.before_call()
    breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(ProviderError) as caught:
        breaker.before_call()
    assert caught.value.reason == CIRCUIT_OPEN
    clock.now += 30
    assert breaker.state == "half-open"
    breaker.before_call()  # the trial
    with pytest.raises(ProviderError):
        breaker.before_call()  # only one at a time
    breaker.failure()
    assert breaker.state == "open"
    clock.now += 30
    breaker.before_call()
    breaker.success()
    assert breaker.state == "closed"


def test_retry_policy_backs_off_and_honours_retry_after() -> None:
    policy = RetryPolicy(attempts=4, initial_delay=1, multiplier=2, max_delay=3, jitter=0)
    down = ProviderError("down", reason=UNAVAILABLE)
    assert [policy.delay(n, down) for n in (1, 2, 3, 4)] == [1, 2, 3, None]
    slow = ProviderError("slow", reason=RATE_LIMITED, retry_after=7)
    assert policy.delay(1, slow) == 7
    assert policy.delay(1, ProviderError("bad model", reason=REJECTED)) is None


def test_retry_after_is_read_in_seconds_dates_and_milliseconds() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "12"})) == 12
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    date = httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after_seconds(date, now=1445412470.0) == pytest.approx(10)
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
