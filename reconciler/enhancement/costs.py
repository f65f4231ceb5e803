"""What `mcp-reconciler costs` shows: LLM calls, tokens and spend per provider, server or day.

Usage is kept per (provider, server, UTC day), so a window counts whole days: `24h` is
today and yesterday from the same hour on, rounded out to the day it starts in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal

from .store import EnhancementStore, UsageRecord

COST_WINDOWS: Final = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
CostGroup = Literal["provider", "server", "day"]


def costs_report(
    store: EnhancementStore, *, window: str, by: CostGroup, now: float
) -> dict[str, Any]:
    """Totals and one row per group over the window, biggest spend first (days in order)."""
    since_day = datetime.fromtimestamp(now - COST_WINDOWS[window], UTC).strftime("%Y-%m-%d")
    groups: dict[str, dict[str, Any]] = {}
    total = _empty()
    for usage in store.usage(since_day=since_day):
        key = getattr(usage, by)
        row = groups.setdefault(key, {by: key, **_empty()})
        _add(row, usage)
        _add(total, usage)
    rows = list(groups.values())
    if by == "day":
        rows.sort(key=lambda r: r["day"])
    else:
        rows.sort(key=lambda r: (-r["cost"], -r["calls"], r[by]))
    return {"window": window, "by": by, "sinceDay": since_day, "total": total, "rows": rows}


def _empty() -> dict[str, Any]:
    return {"calls": 0, "failedCalls": 0, "inputTokens": 0, "outputTokens": 0, "cost": 0.0}


def _add(row: dict[str, Any], usage: UsageRecord) -> None:
    row["calls"] += usage.calls
    row["failedCalls"] += usage.failed_calls
    row["inputTokens"] += usage.input_tokens
    row["outputTokens"] += usage.output_tokens
    row["cost"] = round(row["cost"] + usage.cost, 6)


def usage_totals(store: EnhancementStore) -> list[tuple[str, str, int, int, float]]:
    """(provider, server, input tokens, output tokens, cost) over all stored days."""
    totals: dict[tuple[str, str], list[float]] = {}
    for usage in store.usage():
        row = totals.setdefault((usage.provider, usage.server), [0, 0, 0.0])
        row[0] += usage.input_tokens
        row[1] += usage.output_tokens
        row[2] += usage.cost
    return [(p, s, int(i), int(o), c) for (p, s), (i, o, c) in sorted(totals.items())]
