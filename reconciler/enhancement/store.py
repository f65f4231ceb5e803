"""Enhancement results and LLM usage, in SQLite (the controller's `state.db`, shared).

Only tables prefixed `enhancement_` are created here (`CREATE TABLE IF NOT EXISTS`, WAL
mode); the controller's own tables and its schema version are left alone.

- `enhancement_results`: one row per cache key (see `prompt.cache_key`): the server and
  tool, which provider and model wrote it, the style and prompt version, the description
  and metadata, and its status (`enhanced`, `failed` with reason and error and when to try
  again, `pending` when a budget stopped it).
- `enhancement_usage`: per provider, server and UTC day: calls, failed calls, input and
  output tokens, cost.

The API is synchronous and thread-safe (one connection behind a lock); async callers use
`asyncio.to_thread`. Times are Unix seconds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, Literal

from ..core.errors import StateError
from ..store.sqlitefile import SqliteFile

ResultStatus = Literal["enhanced", "failed", "pending"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS enhancement_results (
    key            TEXT PRIMARY KEY,
    server         TEXT NOT NULL,
    tool           TEXT NOT NULL,
    schema_hash    TEXT NOT NULL,
    provider       TEXT,                 -- provider that wrote it (may be a fallback)
    model          TEXT,
    style          TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    original       TEXT,                 -- the server's description
    description    TEXT,
    metadata       TEXT,                 -- JSON: keywords, categories, useCases, hints
    status         TEXT NOT NULL CHECK (status IN ('enhanced', 'failed', 'pending')),
    reason         TEXT,                 -- CamelCase, for failed and pending
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    retry_at       REAL,                 -- a failed result is not retried before this
    input_tokens   INTEGER NOT NULL DEFAULT 0,
    output_tokens  INTEGER NOT NULL DEFAULT 0,
    cost           REAL NOT NULL DEFAULT 0,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS enhancement_results_by_tool
    ON enhancement_results (server, tool, updated_at);
CREATE TABLE IF NOT EXISTS enhancement_usage (
    provider      TEXT NOT NULL,
    server        TEXT NOT NULL,
    day           TEXT NOT NULL,         -- UTC, YYYY-MM-DD
    calls         INTEGER NOT NULL DEFAULT 0,
    failed_calls  INTEGER NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost          REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, server, day)
);
"""


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """One stored enhancement result."""

    key: str
    server: str
    tool: str
    schema_hash: str
    style: str
    prompt_version: str
    status: ResultStatus
    provider: str | None = None
    model: str | None = None
    original: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    reason: str | None = None
    error: str | None = None
    attempts: int = 0
    retry_at: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    created_at: float = 0.0
    """Set by the store when the key is first written."""
    updated_at: float = 0.0
    """Set by the store on every write."""


_COLUMNS: Final = tuple(f.name for f in fields(ResultRecord))


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """LLM usage of one provider for one server on one UTC day."""

    provider: str
    server: str
    day: str
    calls: int
    failed_calls: int
    input_tokens: int
    output_tokens: int
    cost: float


class EnhancementStore(SqliteFile):
    """The enhancement tables of a SQLite database (created on first use)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StateError(
                f"enhancement store {self.path} is unusable: {error}; pass a writable --state-dir"
            ) from None
        self._lock = threading.Lock()

    # -- results

    def results(self, keys: Iterable[str]) -> dict[str, ResultRecord]:
        """The stored results of these keys (missing keys are absent), in one query per 500."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, ResultRecord] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._read(
                f"SELECT * FROM enhancement_results WHERE key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((row["key"], _result(row)) for row in rows)
        return found

    def put(self, record: ResultRecord) -> None:
        """Insert or replace the result of `record.key` (`created_at` of a known key kept)."""
        now = time.time()
        values = {name: getattr(record, name) for name in _COLUMNS}
        values["metadata"] = (
            json.dumps(record.metadata, ensure_ascii=False) if record.metadata is not None else None
        )
        values["created_at"] = now
        values["updated_at"] = now
        updates = ", ".join(
            f"{n} = excluded.{n}" for n in _COLUMNS if n not in ("key", "created_at")
        )
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO enhancement_results ({', '.join(_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(_COLUMNS))})"
                f" ON CONFLICT (key) DO UPDATE SET {updates}",
                [values[n] for n in _COLUMNS],
            )

    def latest(self, *, server: str | None = None) -> list[ResultRecord]:
        """The newest result of every (server, tool), by server and tool."""
        rows = self._read(
            "SELECT * FROM enhancement_results AS r WHERE r.rowid = ("
            " SELECT o.rowid FROM enhancement_results AS o"
            " WHERE o.server = r.server AND o.tool = r.tool"
            " ORDER BY o.updated_at DESC, o.rowid DESC LIMIT 1)"
            + (" AND r.server = ?" if server is not None else "")
            + " ORDER BY r.server, r.tool",
            [server] if server is not None else [],
        )
        return [_result(row) for row in rows]

    def lookup(self, server: str, tool: str, schema_hash: str) -> ResultRecord | None:
        """The newest enhanced result of a tool with this schema hash (for the gateway)."""
        rows = self._read(
            "SELECT * FROM enhancement_results WHERE server = ? AND tool = ? AND schema_hash = ?"
            " AND status = 'enhanced' ORDER BY updated_at DESC, rowid DESC LIMIT 1",
            [server, tool, schema_hash],
        )
        return _result(rows[0]) if rows else None

    # -- usage

    def record_usage(
        self,
        provider: str,
        server: str,
        *,
        day: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost: float = 0.0,
        calls: int = 1,
        failed_calls: int = 0,
    ) -> None:
        """Add one or more calls to the totals of (provider, server, day)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO enhancement_usage (provider, server, day, calls, failed_calls,"
                " input_tokens, output_tokens, cost) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (provider, server, day) DO UPDATE SET"
                " calls = calls + excluded.calls,"
                " failed_calls = failed_calls + excluded.failed_calls,"
                " input_tokens = input_tokens + excluded.input_tokens,"
                " output_tokens = output_tokens + excluded.output_tokens,"
                " cost = cost + excluded.cost",
                (provider, server, day, calls, failed_calls, input_tokens, output_tokens, cost),
            )

    def spent(self, provider: str, *, since_day: str, until_day: str | None = None) -> float:
        """Cost of a provider's calls from `since_day` to `until_day` (inclusive, UTC)."""
        row = self._read(
            "SELECT COALESCE(SUM(cost), 0) FROM enhancement_usage"
            " WHERE provider = ? AND day >= ? AND day <= ?",
            [provider, since_day, until_day or "9999-12-31"],
        )[0]
        return float(row[0])

    def usage(
        self, *, provider: str | None = None, since_day: str | None = None
    ) -> list[UsageRecord]:
        """Usage rows, by day, provider and server."""
        clauses, args = [], []
        if provider is not None:
            clauses.append("provider = ?")
            args.append(provider)
        if since_day is not None:
            clauses.append("day >= ?")
            args.append(since_day)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._read(
            f"SELECT * FROM enhancement_usage{where} ORDER BY day, provider, server", args
        )
        return [UsageRecord(**dict(row)) for row in rows]

    # -- plumbing

    def _unusable(self, error: sqlite3.Error) -> StateError:
        return _unusable(self.path, error)


def _result(row: sqlite3.Row) -> ResultRecord:
    values = dict(row)
    if values["metadata"] is not None:
        values["metadata"] = json.loads(values["metadata"])
    return ResultRecord(**values)


def _unusable(path: Path, error: sqlite3.Error) -> StateError:
    return StateError(
        f"enhancement store {path} is unusable: {error}; check the disk, or move the "
        "state directory away to start afresh"
    )
