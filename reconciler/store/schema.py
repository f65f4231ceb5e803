"""The state database file: its schema as forward migrations, and how it is opened.

`MIGRATIONS[i]` brings a database from version `i` to `i + 1` (`PRAGMA user_version`).
Never edit a released migration: append a new one. Times are Unix seconds (REAL). A server
is keyed by `namespace/name` (its capabilities and health rows belong to its inventory
row and go with it); another resource by kind, namespace and name. No table holds
a secret value: environment values and call arguments are never stored (calls keep a hash).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from ..core.errors import StateError

_STATE: Final = """
CREATE TABLE inventory (
    server               TEXT PRIMARY KEY,        -- namespace/name
    runtime_hash         TEXT,                    -- what the running instance was started from
    spec_hash            TEXT,                    -- spec last applied (in place or by a start)
    running              INTEGER NOT NULL DEFAULT 0,
    pid                  INTEGER,                 -- leader of the process group (pgid == pid)
    pgid                 INTEGER,
    start_time           INTEGER,                 -- clock ticks since boot (/proc/pid/stat)
    boot_id              TEXT,
    started_at           REAL,
    restarts             INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    phase                TEXT NOT NULL,
    stalled_reason       TEXT,
    last_error           TEXT,
    updated_at           REAL NOT NULL
);

CREATE TABLE capabilities (
    server      TEXT NOT NULL REFERENCES inventory (server) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('tool', 'resource', 'resource_template', 'prompt')),
    name        TEXT NOT NULL,                    -- tool/prompt name, resource URI or template
    description TEXT,
    schema      TEXT,                             -- JSON: input schema, prompt arguments, ...
    schema_hash TEXT,
    exposed     INTEGER NOT NULL DEFAULT 1,
    first_seen  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (server, kind, name)
);

CREATE TABLE health (
    id         INTEGER PRIMARY KEY,
    server     TEXT NOT NULL REFERENCES inventory (server) ON DELETE CASCADE,
    ts         REAL NOT NULL,
    ok         INTEGER NOT NULL,
    latency_ms REAL,
    error      TEXT
);
CREATE INDEX health_by_server ON health (server, id);

CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    ts       REAL NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    category TEXT NOT NULL,
    resource TEXT,                                -- Kind/name
    reason   TEXT NOT NULL,                       -- CamelCase
    message  TEXT NOT NULL
);
CREATE INDEX events_by_ts ON events (ts);
CREATE INDEX events_by_resource ON events (resource, id);

CREATE TABLE revisions (
    slot      TEXT PRIMARY KEY CHECK (slot IN ('attempted', 'applied')),
    revision  TEXT NOT NULL,
    ts        REAL NOT NULL,
    outcome   TEXT NOT NULL,
    message   TEXT,
    documents TEXT                                -- JSON list: the applied resources
);

CREATE TABLE resource_status (
    kind                TEXT NOT NULL,
    namespace           TEXT NOT NULL,
    name                TEXT NOT NULL,
    observed_generation INTEGER,
    spec_hash           TEXT,
    phase               TEXT,
    conditions          TEXT NOT NULL DEFAULT '[]',
    message             TEXT,
    updated_at          REAL NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
"""

_CALLS: Final = """
CREATE TABLE calls (
    id          INTEGER PRIMARY KEY,
    ts          REAL NOT NULL,
    subject     TEXT,                             -- caller; NULL for unauthenticated suites
    suite       TEXT NOT NULL,
    server      TEXT NOT NULL,
    tool        TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    outcome     TEXT NOT NULL,                    -- ok, error, denied, timeout, cancelled
    error_code  TEXT,
    args_hash   TEXT
);
CREATE INDEX calls_by_ts ON calls (ts);
"""

_WITHHELD: Final = """
ALTER TABLE resource_status ADD COLUMN withheld TEXT NOT NULL DEFAULT '[]';  -- JSON list of tools
"""

_TOKEN_SUB: Final = """
ALTER TABLE calls ADD COLUMN token_sub TEXT;      -- the OIDC token's sub; NULL for static tokens
"""

MIGRATIONS: Final[tuple[str, ...]] = (_STATE, _CALLS, _WITHHELD, _TOKEN_SUB)
"""Forward migrations; the schema version of a database is how many it has applied."""

SCHEMA_VERSION: Final = len(MIGRATIONS)


def make_state_dir(state_dir: Path) -> None:
    """Create the state directory (private to the user) if needed."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StateError(
            f"cannot create state directory {state_dir}: {error.strerror}; "
            "pass a writable --state-dir"
        ) from None


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), rows by column name."""
    uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rwc'}"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as error:
        raise unusable(path, error) from None
    return db


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations a database lacks, each in its own transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path} has schema version {version}, newer than this mcp-reconciler "
            f"({SCHEMA_VERSION}): upgrade mcp-reconciler or pass another --state-dir"
        )
    for index in range(version, SCHEMA_VERSION):
        try:
            db.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[index]}\nPRAGMA user_version = {index + 1};\n"
                "COMMIT;"
            )
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


def unusable(path: Path, error: sqlite3.Error) -> StateError:
    """The error for a database SQLite cannot use."""
    return StateError(
        f"state database {path} is unusable: {error}; check the disk, or move the "
        "state directory away to start afresh"
    )
