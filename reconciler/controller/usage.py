"""Usage analytics and audit: the gateway's call records, written to the store in batches.

The gateway reports every call synchronously on its hot path; this recorder only appends
to a list and flushes it to SQLite at most once per `FLUSH_SECONDS` (or at `BATCH_SIZE`),
so a burst of calls costs one transaction, not one per call. With `log_calls`, the flush
also writes each call as one log line (`event: call`; JSON with `--log-format json`), so a
cluster's log collector keeps the audit trail of a gateway pod whose store is lost on
restart. Arguments appear only as their hash. When the logs are JSON, the lines of a flush
are built directly and written to the log handler's stream in one write (the fields, the
level filter and the redaction of every string are those of the structlog pipeline, which
costs several times more per line); otherwise they go through structlog.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from ..core.redaction import redact
from ..store import Store
from ..store.calls import CallRow
from ..store.records import CallRecord, CallStats
from ..upstream import wire

call_log = structlog.get_logger("reconciler.gateway.calls")
_call_logger = logging.getLogger("reconciler.gateway.calls")
_json_handler: logging.StreamHandler[Any] | None = None


def write_calls_as_json(handler: logging.StreamHandler[Any] | None) -> None:
    """Have call lines written as JSON straight to `handler` (the logging setup passes its
    handler when the logs are JSON lines); None: through structlog."""
    global _json_handler
    _json_handler = handler


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
                log_calls(pending)


def log_calls(records: list[CallRecord]) -> None:
    """Each call as one log line: `{"event": "call", "subject": ..., ...}`."""
    handler = _json_handler
    if handler is None or handler not in logging.getLogger().handlers:
        for record in records:
            log_call(record)
        return
    if not _call_logger.isEnabledFor(logging.INFO):
        return
    now = datetime.datetime.now(tz=datetime.UTC).isoformat().replace("+00:00", "Z")
    lines = b"".join(_json_line(record, now) for record in records).decode()
    handler.acquire()
    try:
        handler.stream.write(lines)
        handler.flush()
    finally:
        handler.release()


_REDACTED: dict[str, str] = {}
"""String -> `redact(string)`, as worked out before: the suite, server, tool and subject of
every call come from a small set of configured names."""


def _redacted(value: str) -> str:
    masked = _REDACTED.get(value)
    if masked is None:
        if len(_REDACTED) >= 4096:
            _REDACTED.clear()
        masked = _REDACTED[value] = redact(value)
    return masked


def _text(value: str | None) -> str | None:
    return _redacted(value) if value else None


def _json_line(record: CallRecord, timestamp: str) -> bytes:
    """The line structlog's JSON renderer would write, with the same redaction of strings."""
    return (
        wire.dumps(
            {
                "ts": record.ts,
                "subject": _redacted(record.subject) if record.subject is not None else None,
                "tokenSub": _text(record.token_sub),
                "suite": _redacted(record.suite),
                "server": _text(record.server),
                "tool": _text(record.tool),
                "outcome": record.outcome,
                "durationMs": round(record.duration_ms, 3),
                "errorCode": record.error_code,
                "argsSha256": record.args_hash or None,
                "event": "call",
                "level": "info",
                "timestamp": timestamp,
            }
        )
        + b"\n"
    )


def log_call(record: CallRecord) -> None:
    """One call as one log line through structlog (console logs)."""
    call_log.info(
        "call",
        ts=record.ts,
        subject=record.subject,
        tokenSub=record.token_sub,
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
    """Calls, error rate and latency over one window: in total, per tool, per subject, and
    per caller (subject and OIDC token `sub`: which account of a subject called)."""
    since = now - WINDOWS[window]
    totals = store.call_stats(since=since, by=())
    per_tool = store.call_stats(since=since, by=("suite", "server", "tool"))
    per_subject = store.call_stats(since=since, by=("subject",))
    per_caller = store.call_stats(since=since, by=("subject", "token_sub"))

    def row(stats: CallStats) -> dict[str, Any]:
        group = dict(stats.group)
        if "token_sub" in group:
            group["tokenSub"] = group.pop("token_sub")
        return {
            **group,
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
        "callers": [row(s) for s in sorted(per_caller, key=lambda s: -s.count)][:top],
    }


@dataclass(frozen=True, slots=True)
class UsageSeries:
    """Calls of one window, per tool and per time bucket (a bucket without calls: None)."""

    since: float
    bucket_seconds: float
    buckets: int
    tools: dict[tuple[str, str], CallStats] = field(default_factory=dict)
    """(server, tool) -> its figures over the whole window."""
    tool_buckets: dict[tuple[str, str], list[CallStats | None]] = field(default_factory=dict)
    """(server, tool) -> its figures per bucket."""
    total: list[CallStats | None] = field(default_factory=list)
    """Every call together, per bucket."""


def percentile(ordered: list[float], percent: int) -> float:
    """Nearest rank, as `Store.call_stats` computes it: the smallest value with at least
    `percent`% of the values at or below it (`ordered` sorted, not empty)."""
    return ordered[(len(ordered) * percent + 99) // 100 - 1]


def _stats(durations: list[float], errors: int, group: dict[str, str | None]) -> CallStats:
    ordered = sorted(durations)
    return CallStats(
        count=len(ordered),
        errors=errors,
        mean_ms=sum(ordered) / len(ordered),
        p50_ms=percentile(ordered, 50),
        p95_ms=percentile(ordered, 95),
        group=group,
    )


def usage_series(
    rows: Iterable[CallRow], *, since: float, until: float, buckets: int
) -> UsageSeries:
    """Aggregate `Store.call_rows(since, until)` into `buckets` equal time buckets: per tool
    over the window and per bucket, and all tools per bucket (errors: outcome not ok).

    One dictionary update per call (per tool and bucket); the tool's and the bucket's
    figures are merged from those afterwards."""
    width = (until - since) / buckets
    last = buckets - 1
    cells: dict[tuple[str, str, int], tuple[list[float], list[int]]] = {}
    for ts, server, tool, duration, ok in rows:
        index = int((ts - since) // width)
        key = (server, tool, index if 0 <= index <= last else (last if index > last else 0))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = ([], [0])
        cell[0].append(duration)
        if not ok:
            cell[1][0] += 1
    series = UsageSeries(since=since, bucket_seconds=width, buckets=buckets,
                         total=[None] * buckets)  # fmt: skip
    per_tool: dict[tuple[str, str], tuple[list[float], int]] = {}
    per_bucket: dict[int, tuple[list[float], int]] = {}
    for (server, tool, index), (durations, counted) in sorted(cells.items()):
        group: dict[str, str | None] = {"server": server, "tool": tool}
        series.tool_buckets.setdefault((server, tool), [None] * buckets)[index] = _stats(
            durations, counted[0], group
        )
        whole, failed = per_tool.get((server, tool), ([], 0))
        whole.extend(durations)
        per_tool[(server, tool)] = (whole, failed + counted[0])
        together, failed = per_bucket.get(index, ([], 0))
        together.extend(durations)
        per_bucket[index] = (together, failed + counted[0])
    for (server, tool), (durations, errors) in per_tool.items():
        series.tools[(server, tool)] = _stats(durations, errors, {"server": server, "tool": tool})
    for index, (durations, errors) in per_bucket.items():
        series.total[index] = _stats(durations, errors, {})
    return series
