"""The SQLite state store on real files: persistence, WAL, migrations, locking, queries."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.controller.usage import usage_series
from reconciler.core.errors import StateError
from reconciler.core.models import Condition, ResourceKey
from reconciler.store import Store, acquire_controller_lock
from reconciler.store.records import (
    CallRecord,
    Capability,
    CapabilityChanges,
    InventoryRecord,
)
from reconciler.store.schema import MIGRATIONS, SCHEMA_VERSION

PY = sys.executable
SERVER = "default/time"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path) as opened:
        yield opened


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    key = ResourceKey("MCPServer", "default", "time")
    with Store.open(tmp_path) as store:
        store.put_instance(InventoryRecord(SERVER, "Ready", pid=42, start_time=7, restarts=2))
        store.replace_capabilities(SERVER, "tool", [Capability("now", "Current time", {})])
        store.add_event("info", "server", "Started", "started", resource="MCPServer/time")
        store.put_status(
            key,
            phase="Ready",
            conditions=[Condition(type="Ready", status="True", reason="Healthy")],
            spec_hash="abc",
        )
        store.record_applied("sha256:1", [{"kind": "MCPServer", "metadata": {"name": "time"}}])

    with Store.open(tmp_path) as store:
        [instance] = store.instances()
        assert (instance.pid, instance.start_time, instance.restarts) == (42, 7, 2)
        assert [c.name for c in store.capabilities(server=SERVER)] == ["now"]
        assert [e.reason for e in store.events()] == ["Started"]
        status = store.status(key)
        assert status is not None
        assert status.phase == "Ready"
        assert status.conditions[0].reason == "Healthy"
        assert store.applied_documents() == [{"kind": "MCPServer", "metadata": {"name": "time"}}]


def test_database_is_in_wal_mode(store: Store) -> None:
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_old_database_is_migrated_forward_keeping_its_data(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    db.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO events (ts, severity, category, reason, message)"
        " VALUES (1.0, 'info', 'source', 'Fetched', 'old event')"
    )
    db.close()

    with Store.open(tmp_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert [e.message for e in store.events()] == ["old event"]
        store.record_calls([CallRecord(5.0, "dev", SERVER, "now", 3.0, "ok")])
        assert store.call_stats(since=0)[0].count == 1


def test_calls_of_a_database_before_token_subs_keep_their_rows_and_gain_the_column(
    tmp_path: Path,
) -> None:
    db = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    db.executescript("\n".join(MIGRATIONS[:3]) + "\nPRAGMA user_version = 3;")
    db.execute(
        "INSERT INTO calls (ts, subject, suite, server, tool, duration_ms, outcome, args_hash)"
        " VALUES (1.0, 'data-team', 'dev', 'default/time', 'now', 2.0, 'ok', 'ab12')"
    )
    db.close()
    with pytest.raises(StateError, match="run the controller once to upgrade it"):
        Store.open_readonly(tmp_path)

    with Store.open(tmp_path) as store:
        store.record_calls(
            [
                CallRecord(2.0, "dev", SERVER, "now", 3.0, "ok", "data-team", token_sub="alice"),
                CallRecord(3.0, "dev", SERVER, "now", 4.0, "denied", "data-team", 403,
                           token_sub="bob"),
                CallRecord(4.0, "dev", SERVER, "now", 5.0, "ok", "ci-bot"),
            ]
        )  # fmt: skip
    with Store.open_readonly(tmp_path) as store:
        calls = store.audit_calls()
        assert [(c.subject, c.token_sub) for c in calls] == [
            ("data-team", None),  # recorded before the column existed
            ("data-team", "alice"),
            ("data-team", "bob"),
            ("ci-bot", None),
        ]
        assert calls[0].args_hash == "ab12"
        assert [c.outcome for c in store.audit_calls(token_sub="bob")] == ["denied"]
        callers = {
            (s.group["subject"], s.group["token_sub"]): s.count
            for s in store.call_stats(since=0, by=("subject", "token_sub"))
        }
        assert callers == {
            ("ci-bot", None): 1,
            ("data-team", None): 1,
            ("data-team", "alice"): 1,
            ("data-team", "bob"): 1,
        }


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateError, match="newer than this mcp-reconciler"):
        Store.open(tmp_path)
    with pytest.raises(StateError, match="upgrade mcp-reconciler"):
        Store.open_readonly(tmp_path)


def test_a_file_that_is_not_a_database_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_text("not a database, just text " * 100)
    with pytest.raises(StateError, match="unusable"):
        Store.open(tmp_path)


TRY_LOCK = """
import sys
from pathlib import Path
from reconciler.store import acquire_controller_lock
from reconciler.core.errors import StateError
try:
    acquire_controller_lock(Path(sys.argv[1]))
except StateError as error:
    print(error)
    raise SystemExit(1)
print("locked")
"""


def test_a_second_controller_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    with acquire_controller_lock(tmp_path):
        refused = run_python(TRY_LOCK, str(tmp_path))
        assert refused.returncode == 1, refused.stderr
        assert f"another controller (pid {os.getpid()}) is running on {tmp_path}" in refused.stdout

    allowed = run_python(TRY_LOCK, str(tmp_path))
    assert allowed.stdout.strip() == "locked", allowed.stderr


def test_the_lock_of_a_killed_controller_is_free_again(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [PY, "-c", TRY_LOCK.replace('print("locked")', 'print("locked", flush=True); input()'),
         str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StateError, match=f"another controller \\(pid {holder.pid}\\)"):
            acquire_controller_lock(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    with acquire_controller_lock(tmp_path) as lock:
        assert lock.path == tmp_path / "controller.lock"


READ_EVENTS = """
import sys
from pathlib import Path
from reconciler.store import Store
with Store.open_readonly(Path(sys.argv[1])) as store:
    print(len(store.events()), store.instances()[0].phase)
"""


def test_readers_see_the_state_while_the_controller_writes(tmp_path: Path) -> None:
    with acquire_controller_lock(tmp_path), Store.open(tmp_path) as store:
        store.put_instance(InventoryRecord(SERVER, "Starting"))
        store.add_event("info", "server", "Starting", "starting")
        reader = Store.open_readonly(tmp_path)
        store.put_instance(InventoryRecord(SERVER, "Ready"))
        store.add_event("info", "server", "Ready", "ready")

        other_process = run_python(READ_EVENTS, str(tmp_path))
        assert other_process.stdout.split() == ["2", "Ready"], other_process.stderr
        assert [e.reason for e in reader.events()] == ["Starting", "Ready"]
        with pytest.raises(StateError, match="read-only"):
            reader.add_event("info", "server", "Nope", "readers do not write")
        reader.close()


def test_readonly_open_without_state_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="mcp-reconciler run"):
        Store.open_readonly(tmp_path)


def test_forgetting_a_server_removes_its_capabilities_and_health(store: Store) -> None:
    store.put_instance(InventoryRecord(SERVER, "Ready"))
    store.put_instance(InventoryRecord("default/other", "Ready"))
    for server in (SERVER, "default/other"):
        store.replace_capabilities(server, "tool", [Capability("a")])
        store.record_health(server, ok=True, latency_ms=1.0)

    store.forget_server(SERVER)

    assert [i.server for i in store.instances()] == ["default/other"]
    assert {c.server for c in store.capabilities()} == {"default/other"}
    assert set(store.latest_health()) == {"default/other"}


def test_updating_an_instance_keeps_its_capabilities(store: Store) -> None:
    store.put_instance(InventoryRecord(SERVER, "Starting"))
    store.replace_capabilities(SERVER, "tool", [Capability("a")])
    store.put_instance(InventoryRecord(SERVER, "Ready", restarts=1))
    assert [c.name for c in store.capabilities(server=SERVER)] == ["a"]


def test_discovery_reports_added_removed_and_changed_capabilities(store: Store) -> None:
    store.put_instance(InventoryRecord(SERVER, "Ready"))
    schema = {"type": "object", "properties": {"tz": {"type": "string"}}}
    first = store.replace_capabilities(
        SERVER, "tool", [Capability("now", "Time", schema), Capability("convert")]
    )
    assert first == CapabilityChanges(added=("convert", "now"))
    [before] = store.capabilities(server=SERVER, kind="tool")[1:]

    unchanged = store.replace_capabilities(
        SERVER, "tool", [Capability("now", "Time", dict(reversed(schema.items()))),
                         Capability("convert")]
    )  # fmt: skip
    assert not unchanged

    second = store.replace_capabilities(
        SERVER,
        "tool",
        [Capability("now", "Time", {"type": "object"}), Capability("zone", exposed=False)],
    )
    assert second == CapabilityChanges(added=("zone",), removed=("convert",), changed=("now",))
    now, zone = store.capabilities(server=SERVER, kind="tool")
    assert now.first_seen == before.first_seen
    assert now.schema == {"type": "object"}
    assert now.schema_hash != before.schema_hash
    assert not zone.exposed
    assert store.capabilities(kind="prompt") == []


def test_health_keeps_the_newest_results_per_server(tmp_path: Path) -> None:
    with Store.open(tmp_path, health_keep=5) as store:
        for server in (SERVER, "default/other"):
            store.put_instance(InventoryRecord(server, "Ready"))
        for i in range(12):
            store.record_health(SERVER, ok=i % 2 == 0, latency_ms=float(i), ts=float(i))
        store.record_health("default/other", ok=False, error="timed out", ts=100.0)

        assert [h.latency_ms for h in store.health(SERVER)] == [7.0, 8.0, 9.0, 10.0, 11.0]
        latest = store.latest_health()
        assert latest[SERVER].ts == 11.0
        assert latest["default/other"].error == "timed out"
        assert not latest["default/other"].ok


def test_events_are_capped_and_queryable(tmp_path: Path) -> None:
    with Store.open(tmp_path, max_events=20) as store:
        for i in range(50):
            store.add_event(
                "warning" if i % 10 == 0 else "info",
                "server",
                "Tick",
                f"event {i}",
                resource=f"MCPServer/s{i % 2}",
                ts=1000.0 + i,
            )
        everything = store.events(limit=1000)
        assert [e.message for e in everything] == [f"event {i}" for i in range(30, 50)]
        assert [e.message for e in store.events(limit=3)] == ["event 47", "event 48", "event 49"]
        assert {e.resource for e in store.events(resource="MCPServer/s1")} == {"MCPServer/s1"}
        assert [e.message for e in store.events(since=1045.0)] == [
            f"event {i}" for i in range(45, 50)
        ]
        assert [e.message for e in store.events(severity="warning")] == ["event 30", "event 40"]
        last = everything[-2].id
        assert [e.message for e in store.events(after_id=last)] == ["event 49"]

        assert store.prune_events(keep=5) == 15
        assert len(store.events(limit=1000)) == 5


def test_revisions_keep_the_last_attempt_apart_from_the_last_applied(store: Store) -> None:
    assert store.revisions().applied is None
    assert store.applied_documents() is None
    store.record_applied("main@sha1:aaa", [{"kind": "MCPSuite"}])
    store.record_attempt("main@sha1:bbb", outcome="ValidationFailed", message="a.yaml:3: bad")

    revisions = store.revisions()
    assert revisions.applied is not None
    assert revisions.attempted is not None
    assert (revisions.applied.revision, revisions.applied.outcome) == ("main@sha1:aaa", "Succeeded")
    assert revisions.attempted.revision == "main@sha1:bbb"
    assert revisions.attempted.message == "a.yaml:3: bad"
    assert store.applied_documents() == [{"kind": "MCPSuite"}]


def test_statuses_are_listed_by_kind_and_deleted(store: Store) -> None:
    suite = ResourceKey("MCPSuite", "default", "dev")
    server = ResourceKey("MCPServer", "team", "time")
    store.put_status(suite, phase="Ready", observed_generation=3)
    store.put_status(server, phase="BackOff", message="exited with code 1")

    assert [s.key for s in store.statuses()] == [server, suite]
    assert [s.key for s in store.statuses(kind="MCPSuite")] == [suite]
    store.delete_status(server)
    assert store.status(server) is None


def nearest_rank(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * percent / 100)) - 1]


def test_call_stats_count_errors_and_percentiles_per_tool(store: Store) -> None:
    echo = [float(ms) for ms in range(100, 0, -1)]  # 1..100 ms, inserted out of order
    calls = [
        CallRecord(1000.0 + i, "dev", "default/everything", "echo", ms,
                   "error" if i % 20 == 0 else "ok", subject="ci-bot")
        for i, ms in enumerate(echo)
    ] + [
        CallRecord(1000.0, "dev", SERVER, "now", 20.0, "ok"),
        CallRecord(1001.0, "dev", SERVER, "now", 10.0, "timeout"),
        CallRecord(1002.0, "dev", SERVER, "now", 30.0, "ok"),
        CallRecord(10.0, "dev", SERVER, "now", 9999.0, "ok"),  # outside the window
    ]  # fmt: skip
    assert store.record_calls(calls) == len(calls)

    stats = {s.group["tool"]: s for s in store.call_stats(since=900.0)}

    assert (stats["echo"].count, stats["echo"].errors) == (100, 5)
    assert (stats["echo"].p50_ms, stats["echo"].p95_ms) == (50.0, 95.0)
    assert stats["echo"].mean_ms == pytest.approx(50.5)
    assert (stats["now"].count, stats["now"].errors) == (3, 1)
    assert (stats["now"].p50_ms, stats["now"].p95_ms) == (
        nearest_rank([20, 10, 30], 50),
        nearest_rank([20, 10, 30], 95),
    )
    assert stats["now"].group == {"server": SERVER, "tool": "now"}

    [total] = store.call_stats(since=900.0, until=1050.0, by=())
    assert total.count == 50 + 3
    [bot] = [s for s in store.call_stats(since=0, by=("subject",)) if s.group["subject"]]
    assert bot.count == 100
    with pytest.raises(ValueError, match="cannot group"):
        store.call_stats(since=0, by=("args_hash",))  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1, 2, 3, 19, 20, 21, 57])
def test_call_percentiles_are_nearest_rank(store: Store, size: int) -> None:
    durations = [float((i * 37) % 101) for i in range(size)]
    store.record_calls(CallRecord(1.0, "s", SERVER, "t", ms, "ok") for ms in durations)
    [stats] = store.call_stats(since=0)
    assert stats.p50_ms == nearest_rank(durations, 50)
    assert stats.p95_ms == nearest_rank(durations, 95)


def test_prune_calls_deletes_only_older_calls(store: Store) -> None:
    store.record_calls(CallRecord(float(ts), "dev", SERVER, "now", 1.0, "ok") for ts in range(10))
    assert store.prune_calls(6.0) == 6
    assert store.call_stats(since=0)[0].count == 4


def test_writes_from_several_threads_are_serialized(store: Store) -> None:
    def write(n: int) -> None:
        for i in range(100):
            store.add_event("info", "test", "Tick", f"{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.events(limit=1000)) == 400


def test_usage_series_splits_the_calls_into_time_buckets_as_call_stats_counts(
    store: Store,
) -> None:
    calls = [
        CallRecord(1000.0 + i, "dev", SERVER, "now", float(i + 1), "error" if i == 3 else "ok")
        for i in range(10)  # 1000..1009: buckets of 5 s -> 1000-1004, 1005-1009
    ] + [CallRecord(1012.0, "dev", SERVER, "later", 7.0, "tool_error"),
         CallRecord(99.0, "dev", SERVER, "now", 1.0, "ok")]  # fmt: skip
    store.record_calls(calls)

    rows = store.call_rows(since=1000.0, until=1015.0)
    series = usage_series(rows, since=1000.0, until=1015.0, buckets=3)

    assert len(rows) == 11
    assert series.bucket_seconds == 5.0
    now = series.tool_buckets[(SERVER, "now")]
    assert now[2] is None
    assert now[0] is not None
    assert now[1] is not None
    assert (now[0].count, now[0].errors, now[0].p50_ms, now[0].p95_ms) == (5, 1, 3.0, 5.0)
    assert (now[1].count, now[1].errors, now[1].p50_ms, now[1].p95_ms) == (5, 0, 8.0, 10.0)
    assert [b.count if b else 0 for b in series.total] == [5, 5, 1]
    assert [b.errors if b else 0 for b in series.total] == [1, 0, 1]
    whole = {s.group["tool"]: s for s in store.call_stats(since=1000.0, until=1015.0)}
    for tool in ("now", "later"):
        mine = series.tools[(SERVER, tool)]
        theirs = whole[tool]
        assert (mine.count, mine.errors, mine.p50_ms, mine.p95_ms) == (
            theirs.count, theirs.errors, theirs.p50_ms, theirs.p95_ms,
        )  # fmt: skip
