"""When to try a provider again: capped exponential backoff that honours `Retry-After`."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..core.errors import ProviderError
from .base import is_retryable


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between tries of one call."""

    attempts: int = 4
    """Tries in all, the first included."""
    initial_delay: float = 0.5
    """Seconds before the second try (doubled each time by `multiplier`)."""
    max_delay: float = 20.0
    """Upper bound of a computed delay."""
    multiplier: float = 2.0
    """Factor between consecutive delays."""
    max_retry_after: float = 60.0
    """A provider asking for a longer wait than this is not waited for: the call fails
    (and a fallback provider, if any, takes over)."""
    jitter: float = 0.1
    """Fraction of a computed delay added at random, so concurrent retries spread out."""

    def delay(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before try `attempt + 1`, or None when there is no next try."""
        if attempt >= self.attempts or not is_retryable(error):
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return base * (1 + random.uniform(0, self.jitter))  # jitter, not security
