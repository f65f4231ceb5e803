"""Usage analytics and audit: the gateway's call records, written to the store in batches.

The gateway reports every call synchronously on its hot path; this recorder only appends
to a list and flushes it to SQLite at most once per `FLUSH_SECONDS` (or at `BATCH_SIZE`),
so a burst of calls costs one transaction, not one per call. With `log_calls`, the flush
also writes each call as one log line (`event: call`; JSON with `--log-format json`), so a
cluster's log collector keeps the audit trail of a gateway pod whose store is lost on
restart. Arguments appear only as their hash.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from ..store import Store
from ..store.records import CallRecord, CallStats

call_log = structlog.get_logger("reconciler.gateway.calls")

FLUSH_SECONDS = 1.0
BATCH_SIZE = 500


class UsageRecorder:
    """Callable handed to the gateway as its recorder."""

    def __init__(self, store: Store, *, log_calls: bool = False) -> None:
        self.store = store
        self.log_calls = log_calls
        self._pending: list[CallRecord] = []
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, call: CallRecord) -> None:
        self._pending.append(call)
        if len(self._pending) >= BATCH_SIZE:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        if pending:
            self.store.record_calls(pending)
            if self.log_calls:
                for record in pending:
                    log_call(record)


def log_call(record: CallRecord) -> None:
    """One call as one log line: `{"event": "call", "subject": ..., ...}`."""
    call_log.info(
        "call",
        ts=record.ts,
        subject=record.subject,
        suite=record.suite,
        server=record.server or None,
        tool=record.tool or None,
        outcome=record.outcome,
        durationMs=round(record.duration_ms, 3),
        errorCode=record.error_code,
        argsSha256=record.args_hash or None,
    )


WINDOWS: dict[str, float] = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
"""The windows `mcp-reconciler stats` reports over."""


def usage_report(store: Store, *, window: str, now: float, top: int = 10) -> dict[str, Any]:
    """Calls, error rate and latency over one window: in total, per tool, per subject."""
    since = now - WINDOWS[window]
    totals = store.call_stats(since=since, by=())
    per_tool = store.call_stats(since=since, by=("suite", "server", "tool"))
    per_subject = store.call_stats(since=since, by=("subject",))

    def row(stats: CallStats) -> dict[str, Any]:
        return {
            **stats.group,
            "calls": stats.count,
            "errors": stats.errors,
            "errorRate": round(stats.errors / stats.count, 4) if stats.count else 0.0,
            "p50Ms": round(stats.p50_ms, 2),
            "p95Ms": round(stats.p95_ms, 2),
        }

    total = row(totals[0]) if totals else {"calls": 0, "errors": 0, "errorRate": 0.0}
    return {
        "window": window,
        "since": since,
        "total": total,
        "topTools": [row(s) for s in sorted(per_tool, key=lambda s: -s.count)[:top]],
        "failingTools": [
            row(s) for s in sorted(per_tool, key=lambda s: (-s.errors, -s.count)) if s.errors
        ][:top],
        "subjects": [row(s) for s in sorted(per_subject, key=lambda s: -s.count)],
    }
