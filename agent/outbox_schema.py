"""The outbox's schema, as migrations recorded in a table (the sqlite-utils way).

Each migration runs once, in order, inside the caller's write transaction, and is recorded in
`migrations` with the time it ran. Never edit a released migration: append a new one.

Rows live in `events` in insertion order (`seq`, the rowid): the index on `state` is ordered by
rowid within a state, so "oldest pending first" is an index walk, not a sort.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

STATES = ("pending", "inflight", "sent", "parked", "local")

_EVENTS = f"""
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64),
    body TEXT NOT NULL CHECK (json_valid(body)),
    state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    lease_until REAL,
    last_status INTEGER,
    last_error TEXT,
    sent_at REAL
)
"""


def _initial(db: sqlite_utils.Database) -> None:
    db.execute(_EVENTS)
    db.table("events").create_index(["state"], index_name="events_state")
    db.table("events").create_index(["state", "next_attempt_at"], index_name="events_due")
    db.table("meta").create({"key": str, "value": str}, pk="key", not_null={"value"})
    db.table("profiles").create(
        {"phone": str, "profile_id": str, "updated_at": float},
        pk="phone",
        not_null={"profile_id", "updated_at"},
    )


Migration = tuple[str, Callable[[sqlite_utils.Database], None]]
MIGRATIONS: tuple[Migration, ...] = (("0001_initial", _initial),)


def ensure_migrations_table(db: sqlite_utils.Database) -> None:
    db.table("migrations").create(
        {"name": str, "applied_at": float},
        pk="name",
        not_null={"applied_at"},
        if_not_exists=True,
    )


def pending_migrations(db: sqlite_utils.Database) -> list[Migration]:
    done = {row["name"] for row in db["migrations"].rows}
    return [m for m in MIGRATIONS if m[0] not in done]


def apply(db: sqlite_utils.Database, migrations: list[Migration], *, now: float) -> None:
    """Run and record each migration; the caller holds the write transaction."""
    for name, step in migrations:
        step(db)
        db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, now])


# --- statements (prepared once per connection by sqlite3's statement cache) -------------

COLUMNS = (
    "id, body, state, attempts, created_at, next_attempt_at, lease_until, last_status,"
    " last_error, sent_at, seq"
)
INSERT = (
    "INSERT INTO events (id, body, state, attempts, created_at, next_attempt_at)"
    " VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING"
)  # not OR IGNORE: that would also swallow CHECK failures as "duplicates"
# INDEXED BY: walk pending rows in insertion order and stop after `limit` due ones, so a
# 100,000-event backlog drains in O(limit) per claim instead of sorting every due row.
CLAIM = (
    "UPDATE events SET state = 'inflight', lease_until = ? WHERE seq IN ("
    " SELECT seq FROM events INDEXED BY events_state"
    " WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT ?)"
    f" RETURNING {COLUMNS}"
)
ACK = (
    "UPDATE events SET state = 'sent', sent_at = ?, lease_until = NULL"
    " WHERE id = ? AND state IN ('inflight', 'pending')"
)
RETRY = (
    "UPDATE events SET state = 'pending', attempts = attempts + 1, next_attempt_at = ?,"
    " lease_until = NULL, last_status = ?, last_error = ?"
    " WHERE id = ? AND state IN ('inflight', 'pending')"
)
PARK = (
    "UPDATE events SET state = 'parked', attempts = attempts + 1, lease_until = NULL,"
    " last_status = ?, last_error = ? WHERE id = ? AND state IN ('inflight', 'pending')"
)
REQUEUE = (
    "UPDATE events SET state = 'pending', attempts = 0, next_attempt_at = ?, lease_until = NULL"
    " WHERE {where}"
)


RELEASE = (
    "UPDATE events SET state = 'pending', lease_until = NULL WHERE id = ? AND state = 'inflight'"
)
RECOVER = (
    "UPDATE events SET state = 'pending', lease_until = NULL, attempts = attempts + 1,"
    " last_error = ? WHERE state = 'inflight' AND lease_until < ?"
)
