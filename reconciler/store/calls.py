"""The usage-analytics table of the state store: the gateway's calls, written in batches."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any, Final, Literal

from .records import AuditOutcome, CallRecord, CallStats
from .sqlitefile import SqliteFile

CallRow = tuple[float, str, str, float, bool]
"""(ts, server, tool, duration_ms, outcome is ok) of one call."""
CallGroup = Literal["suite", "server", "tool", "subject", "token_sub", "outcome"]
"""Columns calls can be grouped by."""
_CALL_GROUPS: Final = frozenset({"suite", "server", "tool", "subject", "token_sub", "outcome"})
_CALL_COLUMNS: Final = ", ".join(f.name for f in fields(CallRecord))
"""The calls table's columns, one per field of a CallRecord, in the same order."""
_CALL_INSERT: Final = (
    f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES ({', '.join(['?'] * len(fields(CallRecord)))})"
)
_CALL_VALUES = operator.attrgetter(*(f.name for f in fields(CallRecord)))
"""A record's column values in order, without astuple's deep copy (hot: every call)."""


class CallTables(SqliteFile):
    """Gateway calls: append in batches, prune by age, aggregate per group."""

    def record_calls(self, calls: Iterable[CallRecord]) -> int:
        """Append a batch of calls in one transaction; how many."""
        rows = [_CALL_VALUES(call) for call in calls]
        with self._transaction() as db:
            db.executemany(_CALL_INSERT, rows)
        return len(rows)

    def newest_call(self) -> int:
        """The id of the newest recorded call (0 when none): grows with every batch."""
        rows = self._read("SELECT MAX(id) FROM calls")
        return int(rows[0][0] or 0)

    def prune_calls(self, older_than: float) -> int:
        """Delete calls before the time `older_than`; how many."""
        with self._transaction() as db:
            return db.execute("DELETE FROM calls WHERE ts < ?", (older_than,)).rowcount

    def audit_calls(
        self,
        *,
        subject: str | None = None,
        token_sub: str | None = None,
        suite: str | None = None,
        tool: str | None = None,
        outcome: AuditOutcome | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[CallRecord]:
        """The newest `limit` calls matching every filter given, oldest first.

        `tool` is a glob over the tool's name, or over `server.tool` when it has a dot;
        `outcome` `error` means any failure other than `denied` and `unauthenticated`.
        """
        clauses: list[str] = []
        args: list[object] = []
        for column, value in (("subject", subject), ("token_sub", token_sub), ("suite", suite)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if tool is not None:
            clauses.append("(server || '.' || tool) GLOB ?" if "." in tool else "tool GLOB ?")
            args.append(tool)
        if outcome == "error":
            clauses.append("outcome NOT IN ('ok', 'denied', 'unauthenticated')")
        elif outcome is not None:
            clauses.append("outcome = ?")
            args.append(outcome)
        if since is not None:
            clauses.append("ts >= ?")
            args.append(since)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._read(
            f"SELECT {_CALL_COLUMNS} FROM calls{where} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        )
        return [CallRecord(**dict(row)) for row in reversed(rows)]

    def call_stats(
        self,
        *,
        since: float,
        until: float | None = None,
        by: Sequence[CallGroup] = ("server", "tool"),
    ) -> list[CallStats]:
        """Count, errors (outcome other than `ok`), mean, p50 and p95 per group of calls.

        Percentiles are nearest-rank: the smallest duration with at least p% of the calls
        at or below it.
        """
        unknown = set(by) - _CALL_GROUPS
        if unknown:
            raise ValueError(f"cannot group calls by {sorted(unknown)}")
        cols = ", ".join(by)
        partition = f"PARTITION BY {cols}" if by else ""
        query = f"""
            WITH ranked AS (
                SELECT {cols + ", " if by else ""}duration_ms, outcome,
                       ROW_NUMBER() OVER ({partition} ORDER BY duration_ms) AS rank,
                       COUNT(*) OVER ({partition}) AS n
                FROM calls WHERE ts >= ? AND ts < ?
            )
            SELECT {cols + ", " if by else ""}COUNT(*) AS count,
                   SUM(outcome != 'ok') AS errors, AVG(duration_ms) AS mean_ms,
                   MAX(CASE WHEN rank = (n * 50 + 99) / 100 THEN duration_ms END) AS p50_ms,
                   MAX(CASE WHEN rank = (n * 95 + 99) / 100 THEN duration_ms END) AS p95_ms
            FROM ranked {"GROUP BY " + cols + " ORDER BY " + cols if by else ""}
        """
        rows = self._read(query, (since, until if until is not None else float("inf")))
        return [
            CallStats(
                count=row["count"],
                errors=row["errors"],
                mean_ms=row["mean_ms"],
                p50_ms=row["p50_ms"],
                p95_ms=row["p95_ms"],
                group={name: row[name] for name in by},
            )
            for row in rows
            if row["count"]
        ]

    def call_rows(self, *, since: float, until: float) -> Sequence[CallRow]:
        """(ts, server, tool, duration_ms, ok) of every call in [since, until), in one scan:
        what `usage.usage_series` aggregates (cheaper than a percentile query per figure).
        Rows unpack as tuples; `ok` is 1 or 0."""
        rows: Sequence[Any] = self._read(
            "SELECT ts, server, tool, duration_ms, outcome = 'ok' FROM calls"
            " WHERE ts >= ? AND ts < ?",
            (since, until),
        )
        return rows
