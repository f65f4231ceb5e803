"""The standalone controller's state store: SQLite in `<state-dir>/state.db`.

    database.py    Store: open (writer, under the controller lock) or open_readonly; the
                   inventory, capabilities, health, events, revisions and statuses
    calls.py       the gateway's call log and its usage analytics (mixed into Store)
    records.py     the typed rows every table reads and writes (a call's row is the
                   gateway's own CallRecord)
    schema.py      the tables, their migrations, opening a connection
    sqlitefile.py  what every SQLite store shares (the enhancement cache too): one
                   connection under one lock, guarded reads, transactions, batches

Only the controller writes; `status`, `events`, `diff` and `stats` read while it runs.
"""

from __future__ import annotations

from .database import ControllerLock, Store, acquire_controller_lock

__all__ = ["ControllerLock", "Store", "acquire_controller_lock"]
