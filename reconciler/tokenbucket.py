"""The token bucket both rate limiters are built on: the gateway's per-caller limits
(`gateway/ratelimit.py`) and an LLM provider's request and token limits (`llm/ratelimit.py`).

A bucket holds up to `capacity` tokens and refills continuously at `rate` tokens per second.
It is a pure value over a clock reading passed in: the limiters own the clock, and decide
whether a caller waits or is refused.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """A bucket of `capacity` tokens refilled at `rate` per second; `tokens` is its level."""

    rate: float
    capacity: float
    tokens: float
    stamp: float
    """Clock reading of the last refill."""

    @classmethod
    def full(cls, *, per_minute: float, capacity: float, now: float) -> TokenBucket:
        """A full bucket refilled at `per_minute` tokens a minute."""
        return cls(per_minute / 60.0, float(capacity), float(capacity), now)

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self, now: float, amount: float = 1.0) -> float:
        """Seconds until `amount` tokens are available (0.0: available now)."""
        self.refill(now)
        return 0.0 if self.tokens >= amount else (amount - self.tokens) / self.rate

    def take(self, amount: float = 1.0) -> None:
        self.tokens -= amount

    def reshape(self, *, per_minute: float, capacity: float) -> None:
        """Apply a changed limit in place, keeping the level (capped at the new capacity)."""
        rate = per_minute / 60.0
        if (rate, capacity) != (self.rate, self.capacity):
            self.rate, self.capacity = rate, float(capacity)
            self.tokens = min(self.tokens, self.capacity)
