"""A circuit breaker per provider: stop calling an endpoint that keeps failing.

Closed: calls go through; `failure_threshold` consecutive failures open it. Open: calls
fail at once with `ProviderCircuitOpen` (so a fallback takes over without waiting) until
`reset_after` seconds have passed. Then half-open: one trial call goes through; its success
closes the breaker, its failure opens it again for another `reset_after`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from .base import CIRCUIT_OPEN, provider_error

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Counts consecutive failures of one provider and refuses calls while it is open."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_after:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        """Raise `ProviderError(ProviderCircuitOpen)` unless a call may go through now."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self._trial_running:
            self._trial_running = True
            return
        assert self._opened_at is not None
        wait = max(0.0, self.reset_after - (self._clock() - self._opened_at))
        raise provider_error(
            self.name,
            CIRCUIT_OPEN,
            f"{self._failures} consecutive failures; not called for {wait:.0f} s more",
            retry_after=wait,
        )

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._trial_running = False
