"""What every SQLite-backed store shares: one connection, one lock, a context manager."""

from __future__ import annotations

import sqlite3
import threading
from types import TracebackType
from typing import Self


class SqliteFile:
    """A connection used under a lock; `close()` (or leaving a `with` block) closes it."""

    _db: sqlite3.Connection
    _lock: threading.Lock | threading.RLock

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
