"""The standalone controller's state: SQLite in `<state-dir>/state.db`.

What the controller started (so a restarted controller can clean up after a crash), what
each server offers, health checks, events, the last attempted and applied revisions (with
the applied documents, so `diff` and `status` work while the controller is down), the status
of every resource, and the gateway's call log for usage analytics.

One writer: the controller, which holds `<state-dir>/controller.lock` (see
`acquire_controller_lock`). Any number of readers (`status`, `events`) use
`Store.open_readonly` at the same time (WAL mode). The API is synchronous; async callers
wrap calls in `asyncio.to_thread`. Calls are serialized by a lock, so one Store may be used
from several threads. Times are Unix seconds. Secrets are never stored.
"""

from __future__ import annotations

import fcntl
import json
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Final, Self

from ..core.errors import StateError
from ..core.hashing import digest
from ..core.models import Condition, ResourceKey
from .calls import CallTables
from .records import (
    Capability,
    CapabilityChanges,
    CapabilityKind,
    CapabilityRecord,
    EventRecord,
    EventSeverity,
    HealthRecord,
    InventoryRecord,
    Revisions,
    StatusRecord,
    capability_from_row,
    event_from_row,
    health_from_row,
    inventory_from_row,
    revision_from_row,
    status_from_row,
)
from .schema import SCHEMA_VERSION, connect, make_state_dir, migrate, unusable

DB_NAME: Final = "state.db"
LOCK_NAME: Final = "controller.lock"
_INVENTORY_COLUMNS: Final = tuple(f.name for f in fields(InventoryRecord))
_PUT_INSTANCE: Final = (
    f"INSERT INTO inventory ({', '.join(_INVENTORY_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_INVENTORY_COLUMNS))})"
    " ON CONFLICT (server) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _INVENTORY_COLUMNS[1:])
)
"""An upsert, not INSERT OR REPLACE: a replace would cascade-delete the server's rows."""


_INVENTORY_VALUES = operator.attrgetter(*(f.name for f in fields(InventoryRecord)))
"""A record's column values in order, without astuple's deep copy (hot: every call)."""


class ControllerLock:
    """The exclusive lock of one controller on a state directory; released on close."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_controller_lock(state_dir: Path) -> ControllerLock:
    """Become the only controller on `state_dir`, or raise StateError naming the other one."""
    make_state_dir(state_dir)
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise StateError(f"cannot open {path}: {error.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        who = f"another controller (pid {holder})" if holder else "another controller"
        raise StateError(
            f"{who} is running on {state_dir}; stop it first or pass another --state-dir",
            reason="ControllerRunning",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return ControllerLock(path, fd)


class Store(CallTables):
    """Typed access to the state database. Open with `open` (writer) or `open_readonly`."""

    def __init__(
        self,
        db: sqlite3.Connection,
        path: Path,
        *,
        readonly: bool,
        max_events: int,
        health_keep: int,
    ) -> None:
        self._db = db
        self.path = path
        self.readonly = readonly
        self.max_events = max_events
        """Events beyond the newest `max_events` are deleted as new ones arrive."""
        self.health_keep = health_keep
        """Health results kept per server."""
        self._lock = threading.RLock()
        self._depth = 0

    def _unusable(self, error: sqlite3.Error) -> StateError:
        return unusable(self.path, error)

    @classmethod
    def open(cls, state_dir: Path, *, max_events: int = 10_000, health_keep: int = 100) -> Store:
        """Open (creating and migrating as needed) the database for writing.

        Only the holder of the controller lock should write; take it first.
        """
        make_state_dir(state_dir)
        path = state_dir / DB_NAME
        db = connect(path, readonly=False)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            migrate(db, path)
        except sqlite3.Error as error:
            db.close()
            raise unusable(path, error) from None
        except StateError:
            db.close()
            raise
        return cls(db, path, readonly=False, max_events=max_events, health_keep=health_keep)

    @classmethod
    def open_readonly(cls, state_dir: Path) -> Store:
        """Open for reading, while a controller writes or while none runs."""
        path = state_dir / DB_NAME
        if not path.is_file():
            raise StateError(
                f"no controller state in {state_dir} ({DB_NAME} missing): start the "
                "controller with `mcp-reconciler run`, or pass the right --state-dir"
            )
        db = connect(path, readonly=True)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as error:
            db.close()
            raise unusable(path, error) from None
        if version != SCHEMA_VERSION:
            db.close()
            newer = version > SCHEMA_VERSION
            raise StateError(
                f"{path} has schema version {version}, this mcp-reconciler reads "
                f"{SCHEMA_VERSION}: "
                + ("upgrade mcp-reconciler" if newer else "run the controller once to upgrade it")
            )
        return cls(db, path, readonly=True, max_events=0, health_keep=0)

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    # -- inventory: what the controller manages and started

    def put_instance(self, record: InventoryRecord) -> None:
        """Insert or replace the row of `record.server` (its `updated_at` is set now)."""
        values = (*_INVENTORY_VALUES(record)[:-1], time.time())
        with self._transaction() as db:
            db.execute(_PUT_INSTANCE, values)

    def instance(self, server: str) -> InventoryRecord | None:
        rows = self._read("SELECT * FROM inventory WHERE server = ?", (server,))
        return inventory_from_row(rows[0]) if rows else None

    def instances(self) -> list[InventoryRecord]:
        return [
            inventory_from_row(row) for row in self._read("SELECT * FROM inventory ORDER BY server")
        ]

    def forget_server(self, server: str) -> None:
        """Remove a server with its capabilities and health history."""
        with self._transaction() as db:
            db.execute("DELETE FROM inventory WHERE server = ?", (server,))

    # -- capabilities: tools, resources and prompts a server offers

    def replace_capabilities(
        self, server: str, kind: CapabilityKind, items: Iterable[Capability]
    ) -> CapabilityChanges:
        """Record everything of one kind a server offers now; what changed since last time.

        The server must have an inventory row. `first_seen` of a known name is kept.
        """
        now = time.time()
        wanted = {item.name: item for item in items}
        with self._transaction() as db:
            known = {
                row["name"]: (row["description"], row["schema_hash"], bool(row["exposed"]))
                for row in db.execute(
                    "SELECT name, description, schema_hash, exposed FROM capabilities"
                    " WHERE server = ? AND kind = ?",
                    (server, kind),
                )
            }
            removed = sorted(set(known) - set(wanted))
            db.executemany(
                "DELETE FROM capabilities WHERE server = ? AND kind = ? AND name = ?",
                [(server, kind, name) for name in removed],
            )
            added, changed = [], []
            for name, item in wanted.items():
                schema_hash = item.schema_hash or (
                    digest(item.schema) if item.schema is not None else None
                )
                now_seen = (item.description, schema_hash, item.exposed)
                if name not in known:
                    added.append(name)
                elif known[name] != now_seen:
                    changed.append(name)
                else:
                    continue
                db.execute(
                    "INSERT INTO capabilities (server, kind, name, description, schema,"
                    " schema_hash, exposed, first_seen, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (server, kind, name) DO UPDATE SET"
                    " description = excluded.description, schema = excluded.schema,"
                    " schema_hash = excluded.schema_hash, exposed = excluded.exposed,"
                    " updated_at = excluded.updated_at",
                    (server, kind, name, item.description, _json(item.schema), schema_hash,
                     item.exposed, now, now),
                )  # fmt: skip
        return CapabilityChanges(tuple(sorted(added)), tuple(removed), tuple(sorted(changed)))

    def capabilities(
        self, *, server: str | None = None, kind: CapabilityKind | None = None
    ) -> list[CapabilityRecord]:
        query, args = _where(
            "SELECT * FROM capabilities", server=server, kind=kind, order="server, kind, name"
        )
        return [capability_from_row(row) for row in self._read(query, args)]

    # -- health checks

    def record_health(
        self,
        server: str,
        *,
        ok: bool,
        latency_ms: float | None = None,
        error: str | None = None,
        ts: float | None = None,
    ) -> None:
        """Append one check result; only the newest `health_keep` per server are kept."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO health (server, ts, ok, latency_ms, error) VALUES (?, ?, ?, ?, ?)",
                (server, ts if ts is not None else time.time(), ok, latency_ms, error),
            )
            db.execute(
                "DELETE FROM health WHERE server = ? AND id <= (SELECT id FROM health"
                " WHERE server = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (server, server, self.health_keep),
            )

    def health(self, server: str, *, limit: int = 100) -> list[HealthRecord]:
        """The newest results of a server, oldest first."""
        rows = self._read(
            "SELECT * FROM health WHERE server = ? ORDER BY id DESC LIMIT ?", (server, limit)
        )
        return [health_from_row(row) for row in reversed(rows)]

    def latest_health(self) -> dict[str, HealthRecord]:
        """The newest result of every server."""
        rows = self._read(
            "SELECT * FROM health WHERE id IN (SELECT MAX(id) FROM health GROUP BY server)"
        )
        return {row["server"]: health_from_row(row) for row in rows}

    # -- events

    def add_event(
        self,
        severity: EventSeverity,
        category: str,
        reason: str,
        message: str,
        *,
        resource: str | None = None,
        ts: float | None = None,
    ) -> int:
        """Append an event (older ones beyond `max_events` are dropped); its id."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO events (ts, severity, category, resource, reason, message)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (ts if ts is not None else time.time(), severity, category, resource, reason,
                 message),
            )  # fmt: skip
            event_id = cursor.lastrowid
            assert event_id is not None
            db.execute("DELETE FROM events WHERE id <= ?", (event_id - self.max_events,))
        return event_id

    def events(
        self,
        *,
        resource: str | None = None,
        since: float | None = None,
        after_id: int | None = None,
        severity: EventSeverity | None = None,
        category: str | None = None,
        reason: str | None = None,
        limit: int = 100,
    ) -> list[EventRecord]:
        """The newest `limit` matching events, oldest first (`after_id`: to follow)."""
        query, args = _where(
            "SELECT * FROM events",
            resource=resource,
            severity=severity,
            category=category,
            reason=reason,
            since=since,
            after_id=after_id,
            order="id DESC",
        )
        rows = self._read(query + " LIMIT ?", (*args, limit))
        return [event_from_row(row) for row in reversed(rows)]

    def event_categories(self) -> set[str]:
        """Every category the stored events have."""
        return {row[0] for row in self._read("SELECT DISTINCT category FROM events")}

    def prune_events(self, *, keep: int) -> int:
        """Keep only the newest `keep` events; how many were deleted."""
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC"
                " LIMIT 1 OFFSET ?)",
                (keep,),
            ).rowcount

    # -- revisions

    def record_attempt(self, revision: str, *, outcome: str, message: str | None = None) -> None:
        """The revision last tried, with its outcome (a CamelCase reason) and message."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO revisions (slot, revision, ts, outcome, message)"
                " VALUES ('attempted', ?, ?, ?, ?)",
                (revision, time.time(), outcome, message),
            )

    def record_applied(
        self, revision: str, documents: Sequence[dict[str, Any]], *, outcome: str = "Succeeded"
    ) -> None:
        """The revision now applied (also the last attempted), with its resource documents."""
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO revisions (slot, revision, ts, outcome, message,"
                " documents) VALUES (?, ?, ?, ?, NULL, ?)",
                [
                    ("attempted", revision, now, outcome, None),
                    ("applied", revision, now, outcome, json.dumps(list(documents))),
                ],
            )

    def revisions(self) -> Revisions:
        found = {
            row["slot"]: revision_from_row(row) for row in self._read("SELECT * FROM revisions")
        }
        return Revisions(attempted=found.get("attempted"), applied=found.get("applied"))

    def applied_documents(self) -> list[dict[str, Any]] | None:
        """The documents of the applied revision; None before the first apply."""
        rows = self._read("SELECT documents FROM revisions WHERE slot = 'applied'")
        if not rows or rows[0][0] is None:
            return None
        documents: list[dict[str, Any]] = json.loads(rows[0][0])
        return documents

    # -- resource status

    def put_status(
        self,
        key: ResourceKey,
        *,
        phase: str | None = None,
        conditions: Sequence[Condition] = (),
        message: str | None = None,
        observed_generation: int | None = None,
        spec_hash: str | None = None,
        withheld: Sequence[str] = (),
    ) -> None:
        """`withheld`: a server's tools withheld by its ToolLock or the scan."""
        conditions_json = json.dumps(
            [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions]
        )
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO resource_status (kind, namespace, name,"
                " observed_generation, spec_hash, phase, conditions, message, updated_at,"
                " withheld) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, observed_generation, spec_hash, phase, conditions_json, message,
                 time.time(), json.dumps(list(withheld))),
            )  # fmt: skip

    def status(self, key: ResourceKey) -> StatusRecord | None:
        rows = self._read(
            "SELECT * FROM resource_status WHERE kind = ? AND namespace = ? AND name = ?", key
        )
        return status_from_row(rows[0]) if rows else None

    def statuses(self, *, kind: str | None = None) -> list[StatusRecord]:
        query, args = _where(
            "SELECT * FROM resource_status", kind=kind, order="kind, namespace, name"
        )
        return [status_from_row(row) for row in self._read(query, args)]

    def delete_status(self, key: ResourceKey) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM resource_status WHERE kind = ? AND namespace = ? AND name = ?", key
            )


def _where(select: str, *, order: str, **filters: object) -> tuple[str, list[object]]:
    """`select` with an AND of the given filters (None: not filtered), then ORDER BY."""
    tests = {"since": "ts >= ?", "after_id": "id > ?"}
    clauses, args = [], []
    for name, value in filters.items():
        if value is not None:
            clauses.append(tests.get(name, f"{name} = ?"))
            args.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"{select}{where} ORDER BY {order}", args


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
