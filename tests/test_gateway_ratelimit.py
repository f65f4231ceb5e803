"""Token buckets per subject and per subject + tool."""

from __future__ import annotations

import pytest

from reconciler.gateway.config import Limits
from reconciler.gateway.ratelimit import SubjectRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_allowed_then_calls_wait_for_the_refill() -> None:
    clock = Clock()
    limiter = SubjectRateLimiter(clock=clock)
    limits = Limits(requests_per_minute=60, burst=2)
    assert limiter.acquire("dev", "bot", limits, "time", "now") == 0
    assert limiter.acquire("dev", "bot", limits, "time", "now") == 0
    assert limiter.acquire("dev", "bot", limits, "time", "now") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire("dev", "bot", limits, "time", "now") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("dev", "bot", limits, "time", "now") == 0


def test_subjects_and_suites_have_buckets_of_their_own() -> None:
    limiter = SubjectRateLimiter(clock=Clock())
    limits = Limits(requests_per_minute=1, burst=1)
    assert limiter.acquire("dev", "a", limits, "time", "now") == 0
    assert limiter.acquire("dev", "a", limits, "time", "now") > 0
    assert limiter.acquire("dev", "b", limits, "time", "now") == 0
    assert limiter.acquire("prod", "a", limits, "time", "now") == 0


def test_a_per_tool_limit_refuses_that_tool_only_and_takes_nothing_when_refused() -> None:
    clock = Clock()
    limiter = SubjectRateLimiter(clock=clock)
    limits = Limits(requests_per_minute=60, burst=3, per_tool=(("time.*", 6),))
    assert limiter.acquire("dev", "bot", limits, "time", "now") == 0
    clock.now += 1
    assert limiter.acquire("dev", "bot", limits, "time", "now") == 0
    clock.now += 1
    assert limiter.acquire("dev", "bot", limits, "time", "now") == 0
    clock.now += 1
    assert limiter.acquire("dev", "bot", limits, "time", "now") == pytest.approx(7.0)
    assert limiter.acquire("dev", "bot", limits, "everything", "echo") == 0
    assert limiter.acquire("dev", "bot", limits, "everything", "echo") == 0
    assert limiter.acquire("dev", "bot", limits, "everything", "echo") == 0
    assert limiter.acquire("dev", "bot", limits, "everything", "echo") > 0, "burst of 3 used"


def test_no_limits_means_no_waiting() -> None:
    limiter = SubjectRateLimiter(clock=Clock())
    assert all(limiter.acquire("dev", "x", None, "s", "t") == 0 for _ in range(1000))


def test_a_changed_limit_reshapes_the_bucket_in_place() -> None:
    clock = Clock()
    limiter = SubjectRateLimiter(clock=clock)
    assert limiter.acquire("dev", "bot", Limits(60, 10), "s", "t") == 0
    tighter = Limits(60, 1)
    assert limiter.acquire("dev", "bot", tighter, "s", "t") == 0
    assert limiter.acquire("dev", "bot", tighter, "s", "t") > 0
