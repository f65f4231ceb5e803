"""What every SQLite-backed store shares: one connection under one lock, guarded reads,
write transactions, batches, a context manager.

A store sets `_db`, `_lock` and `path` when it opens, and says in `_unusable` what a
failing database means for its user.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from ..core.errors import StateError


class SqliteFile:
    """A connection used under a lock; `close()` (or leaving a `with` block) closes it."""

    _db: sqlite3.Connection
    _lock: threading.Lock | threading.RLock
    path: Path
    readonly: bool = False
    """Writes raise StateError (a reader beside the writing controller)."""
    _depth: int = 0
    """How many `batch()` blocks are open."""

    def _unusable(self, error: sqlite3.Error) -> StateError:
        """The error for a database SQLite cannot use."""
        return StateError(
            f"database {self.path} is unusable: {error}; check the disk, or move the "
            "state directory away to start afresh"
        )

    def _read(self, query: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(query, tuple(args)).fetchall()
            except sqlite3.Error as error:
                raise self._unusable(error) from None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group every write inside the block into one transaction (one fsync, not N)."""
        with self._transaction():
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StateError(f"{self.path} is open read-only; only the controller writes it")
        with self._lock:
            if self._depth:  # inside batch(): the outer transaction commits
                yield self._db
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise self._unusable(error) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
