"""Plumbing shared by the state store's tables: reads, transactions, batches.

`StoreBase` holds the connection; the tables are mixed in on top of it (`store_calls`,
`store.Store`), so each stays a module of its own size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import StateError
from ..sqlitefile import SqliteFile
from .store_schema import unusable


class StoreBase(SqliteFile):
    """A state database connection: guarded reads, write transactions, batches."""

    path: Path
    readonly: bool
    _depth: int

    def _read(self, query: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(query, tuple(args)).fetchall()
            except sqlite3.Error as error:
                raise unusable(self.path, error) from None

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
                raise unusable(self.path, error) from None
