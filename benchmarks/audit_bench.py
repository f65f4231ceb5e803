"""What recording the OIDC token's `sub` beside the subject costs each call.

The gateway reads the sub from the caller's session (set once, at `initialize`, from the
verified claims): a call pays for no decoding, only for carrying one more value. This
measures that value's whole per-call cost, in-process, against the same work without it
in the same run (`before`: a record without the field, the store table without the column):

    record       building the call's `CallRecord` (the gateway does it for every call)
    session      the session check every request makes (suite, subject, and now the sub)
    store        writing calls to SQLite in batches of 500, as the usage recorder does,
                 into the calls table as it was (9 columns) and as it is (10, the sub set)

    .venv/bin/python benchmarks/audit_bench.py [--calls 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import operator
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.gateway.auth import Principal
from reconciler.gateway.records import CallRecord
from reconciler.gateway.sessions import CallerSession
from reconciler.store import Store
from reconciler.store.schema import MIGRATIONS

BATCH = 500


@dataclass(frozen=True, slots=True)
class RecordBefore:
    """CallRecord as it was, without `token_sub`."""

    ts: float
    suite: str
    server: str
    tool: str
    duration_ms: float
    outcome: str
    subject: str | None = None
    error_code: int | None = None
    args_hash: str | None = None


def best_ns(
    before: Callable[[], object], after: Callable[[], object], count: int, rounds: int
) -> tuple[float, float]:
    """The best round's CPU nanoseconds per call of each (this process's CPU time: what the
    machine's other work does not inflate), interleaved in blocks of a tenth of a round."""
    best = [float("inf"), float("inf")]
    block = max(1, count // 10)
    for _ in range(rounds):
        spent = [0, 0]
        for _ in range(max(1, count // block)):
            for index, work in enumerate((before, after)):
                started = time.process_time_ns()
                for _ in range(block):
                    work()
                spent[index] += time.process_time_ns() - started
        done = block * max(1, count // block)
        best = [min(best[i], spent[i] / done) for i in (0, 1)]
    return best[0], best[1]


def record_costs(calls: int, rounds: int) -> tuple[float, float]:
    digest = "5d41402abc4b2a76b9719d911017c592" * 2
    session = CallerSession("id", "dev", "data-team", token_sub="alice")

    def before() -> None:
        RecordBefore(
            ts=1.0, suite="dev", server="everything", tool="echo", duration_ms=1.5,
            outcome="ok", subject=session.subject, error_code=None, args_hash=digest,
        )  # fmt: skip

    def after() -> None:
        CallRecord(
            ts=1.0, suite="dev", server="everything", tool="echo", duration_ms=1.5,
            outcome="ok", subject=session.subject, error_code=None, args_hash=digest,
            token_sub=session.token_sub,
        )  # fmt: skip

    return best_ns(before, after, calls, rounds)


def session_costs(calls: int, rounds: int) -> tuple[float, float]:
    session = CallerSession("id", "dev", "data-team", token_sub="alice")
    caller = Principal("data-team", "alice")

    def before() -> bool:
        return session.suite == "dev" and session.subject == caller.key

    def after() -> bool:
        return (
            session.suite == "dev"
            and session.subject == caller.key
            and session.token_sub == caller.sub
        )

    return best_ns(before, after, calls, rounds)


def store_costs(calls: int, rounds: int) -> tuple[float, float]:
    digest = "5d41402abc4b2a76b9719d911017c592" * 2
    batches = max(1, calls // BATCH // 20)
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        old.mkdir()
        db = sqlite3.connect(old / "state.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.executescript("\n".join(MIGRATIONS[:3]))
        names = [f.name for f in fields(RecordBefore)]
        insert = f"INSERT INTO calls ({', '.join(names)}) VALUES ({', '.join(['?'] * 9)})"
        values = operator.attrgetter(*names)
        records_before = [
            RecordBefore(float(i), "dev", "everything", "echo", 1.5, "ok", "data-team", None,
                         digest)
            for i in range(BATCH)
        ]  # fmt: skip

        def before() -> None:  # what CallTables.record_calls did
            rows = [values(record) for record in records_before]
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert, rows)
            db.execute("COMMIT")

        records = [
            CallRecord(float(i), "dev", "everything", "echo", 1.5, "ok", "data-team", None,
                       digest, token_sub="alice")
            for i in range(BATCH)
        ]  # fmt: skip
        new = Path(tmp) / "new"
        with Store.open(new) as store:

            def after() -> None:
                store.record_calls(records)

            pair = best_ns(before, after, batches, rounds)
        db.close()
        return pair[0] / BATCH, pair[1] / BATCH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'per call':<10}{'before ns':>12}{'with sub ns':>14}{'added ns':>11}")
    total = 0.0
    for name, measure in (
        ("record", record_costs),
        ("session", session_costs),
        ("store", store_costs),
    ):
        before, after = measure(args.calls, args.rounds)
        total += after - before
        print(f"{name:<10}{before:>12.0f}{after:>14.0f}{after - before:>+11.0f}")
    print(f"added per call: {total / 1000:+.3f} µs (best of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
