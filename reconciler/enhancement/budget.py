"""Spending caps: a provider's `budget` (per UTC day and calendar month) is never exceeded.

Before a call, its estimated cost is reserved against what the store says was spent today
and this month plus what calls in flight have reserved; a call that would cross a cap is
not made, and the guard says why in a sentence fit for a status message. After the call the
reservation is replaced by the real cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ..core.models.provider import LLMProviderSpec
from .store import EnhancementStore


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass
class _Spending:
    day: date
    today: float
    month: float
    reserved: float = 0.0


class BudgetGuard:
    """Tracks spending of every provider during one enhancement run."""

    def __init__(self, store: EnhancementStore, *, today: Callable[[], date] = utc_today) -> None:
        self.store = store
        self._today = today
        self._spending: dict[str, _Spending] = {}
        self._lock = asyncio.Lock()

    async def reserve(self, provider: str, spec: LLMProviderSpec, estimate: float) -> str | None:
        """Reserve `estimate`; or, without reserving, why the provider's budget is spent."""
        budget = spec.budget
        if budget is None or (budget.daily is None and budget.monthly is None):
            return None
        async with self._lock:
            spending = await self._current(provider)
            committed = spending.reserved
            if budget.daily is not None and _over(
                spending.today + committed, estimate, budget.daily
            ):
                return (
                    f"daily budget {budget.daily:g} of LLMProvider {provider} is spent "
                    f"({spending.today:.4g} used today); enhancement resumes after midnight "
                    "UTC, or raise spec.budget.daily"
                )
            if budget.monthly is not None and _over(
                spending.month + committed, estimate, budget.monthly
            ):
                return (
                    f"monthly budget {budget.monthly:g} of LLMProvider {provider} is spent "
                    f"({spending.month:.4g} used this month); enhancement resumes next month, "
                    "or raise spec.budget.monthly"
                )
            spending.reserved += estimate
            return None

    def settle(self, provider: str, *, reserved: float, actual: float) -> None:
        """Replace a reservation by the call's real cost (0 for a failed call)."""
        spending = self._spending.get(provider)
        if spending is None:
            return
        spending.reserved = max(0.0, spending.reserved - reserved)
        spending.today += actual
        spending.month += actual

    async def _current(self, provider: str) -> _Spending:
        today = self._today()
        known = self._spending.get(provider)
        if known is not None and known.day == today:
            return known
        day = today.isoformat()
        month_start = today.replace(day=1).isoformat()
        spent_today = await asyncio.to_thread(self.store.spent, provider, since_day=day)
        spent_month = await asyncio.to_thread(self.store.spent, provider, since_day=month_start)
        spending = _Spending(today, spent_today, spent_month, known.reserved if known else 0.0)
        self._spending[provider] = spending
        return spending


def _over(committed: float, estimate: float, cap: float) -> bool:
    return committed >= cap or committed + estimate > cap
