"""The outbox's schema, as migrations recorded in a table (the sqlite-utils way), its SQL
statements, and the helpers below the Outbox class (file creation, error classification, a
cache of parsed events).

Each migration runs once, in order, inside the caller's write transaction, and is recorded in
`migrations` with the time it ran. Never edit a released migration: append a new one.

Rows live in `events` in insertion order (`seq`, the rowid): the index on `state` is ordered by
rowid within a state, so "oldest pending first" is an index walk, not a sort.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the caller imports sqlite-utils only to migrate; Event only to read rows
    import sqlite_utils

    from agent.delivery.events import Event

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


def _partial_due_index(db: sqlite_utils.Database) -> None:
    # Only pending rows have a due time that matters: a partial index is not touched when a
    # row goes inflight -> sent, which cut about a fifth of the CPU per delivered event.
    db.execute("DROP INDEX events_due")
    db.execute("CREATE INDEX events_due ON events (next_attempt_at) WHERE state = 'pending'")


def _body_digest(db: sqlite_utils.Database) -> None:
    # The ingest endpoint's request body hash, kept with the event its Idempotency-Key named:
    # the same key with another body is refused, not answered with the first event's id.
    db.execute("ALTER TABLE events ADD COLUMN digest TEXT")


def _objects(db: sqlite_utils.Database) -> None:
    # Hellotext ids of the orders and products this till created (events.model = "orders"),
    # by kind and "source|reference": a retry reuses the order instead of creating another.
    db.execute(
        "CREATE TABLE objects (kind TEXT NOT NULL, key TEXT NOT NULL,"
        " object_id TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (kind, key))"
    )


Migration = tuple[str, Callable[["sqlite_utils.Database"], None]]
MIGRATIONS: tuple[Migration, ...] = (
    ("0001_initial", _initial),
    ("0002_partial_due_index", _partial_due_index),
    ("0003_body_digest", _body_digest),
    ("0004_objects", _objects),
)


def ensure_migrations_table(db: sqlite_utils.Database) -> None:
    db.table("migrations").create(
        {"name": str, "applied_at": float},
        pk="name",
        not_null={"applied_at"},
        if_not_exists=True,
    )


def up_to_date(conn: sqlite3.Connection) -> bool:
    """Every migration recorded (plain SQL: opening an existing outbox needs no sqlite-utils)."""
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    if conn.execute(sql).fetchone() is None:
        return False
    done = {name for (name,) in conn.execute("SELECT name FROM migrations")}
    return all(name in done for name, _ in MIGRATIONS)


def pending_migrations(db: sqlite_utils.Database) -> list[Migration]:
    done = {row["name"] for row in db["migrations"].rows}
    return [m for m in MIGRATIONS if m[0] not in done]


def apply(db: sqlite_utils.Database, migrations: list[Migration], *, now: float) -> None:
    """Run and record each migration; the caller holds the write transaction."""
    for name, step in migrations:
        step(db)
        db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, now])


# --- rows as the Outbox hands them out ------------------------------------------------

@dataclass(frozen=True)
class OutboxRow:
    id: str
    event: Event
    state: str
    attempts: int
    created_at: float
    next_attempt_at: float
    lease_until: float | None
    last_status: int | None
    last_error: str | None
    sent_at: float | None


@dataclass(frozen=True)
class AddResult:
    added: tuple[str, ...]
    duplicates: tuple[str, ...]  # already in the outbox (a receipt seen twice): not added again
    # Positions in the batch of duplicates stored with another digest (a key reused).
    conflicts: tuple[int, ...] = ()


def sort_duplicates(
    conn: sqlite3.Connection, ids: Sequence[str], fresh: set[str], digests: Sequence[str | None]
) -> AddResult:
    """A batch's ids as added (in `fresh`) or duplicates; a duplicate given a digest that
    differs from the stored one (an Idempotency-Key with another body) is a conflict."""
    added: list[str] = []
    duplicates: list[str] = []
    conflicts: list[int] = []
    for at, id in enumerate(ids):
        if id in fresh:
            added.append(id)
            fresh.discard(id)  # the same id twice in one batch: the second is a duplicate
            continue
        duplicates.append(id)
        if digests[at] is not None:
            (had,) = conn.execute(DIGEST, (id,)).fetchone()
            if had is not None and had != digests[at]:
                conflicts.append(at)
    return AddResult(tuple(added), tuple(duplicates), tuple(conflicts))


def _row(v: Sequence[Any], event: Event | None = None) -> OutboxRow:
    from agent.delivery.events import Event

    def opt(x: Any) -> float | None:
        return None if x is None else float(x)

    return OutboxRow(
        v[0],
        event or Event.from_json(v[1]),
        v[2],
        v[3],
        float(v[4]),
        float(v[5]),
        opt(v[6]),
        v[7],
        v[8],
        opt(v[9]),
    )


# --- events already parsed ---------------------------------------------------------------


class RecentEvents:
    """Events this process stored, with their stored text, shared by every Outbox of the
    process. A claim takes one only when the text read back is the same, so a replaced
    database file or a row changed elsewhere can never yield a stale event."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[str, tuple[str, Event]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def put(self, items: Iterable[tuple[str, str, Event]]) -> None:
        with self._lock:
            for id, text, event in items:
                self._items[id] = (text, event)
                self._items.move_to_end(id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def take(self, id: str, text: str) -> Event | None:
        with self._lock:
            found = self._items.pop(id, None)
        return found[1] if found is not None and found[0] == text else None


# --- files and errors ------------------------------------------------------------------


def is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def is_full(exc: BaseException, directory: Path) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc):
        return True
    # Growing the -shm file or a checkpoint reports a generic I/O error on a full disk.
    if code is not None and (code & 0xFF) == sqlite3.SQLITE_IOERR:
        try:
            return os.statvfs(directory).f_bavail == 0
        except OSError:
            return False
    return False


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file, None when it is gone."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def create_private(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite does (it would use the umask),
    owned by the state directory's owner: root running `track` before the service's first
    start must leave a file the service user can open. SQLite gives the -wal and -shm files
    the database file's mode, and, when it runs as root, its owner."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        if os.geteuid() == 0:
            folder = os.stat(path.parent)
            os.fchown(fd, folder.st_uid, folder.st_gid)
    finally:
        os.close(fd)


def connect(path: Path, *, readonly: bool, timeout: float) -> sqlite3.Connection:
    """The outbox's one connection; `readonly` opens an existing file and creates nothing."""
    if not readonly:
        create_private(path)
    return sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro" if readonly else path,
        timeout=timeout,
        isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE)
        check_same_thread=False,  # guarded by the Outbox's lock
        uri=readonly,
    )


def denied(exc: BaseException, path: Path) -> str | None:
    """What to do when `exc` is a permission error (the OS's, or SQLite's "unable to open",
    "readonly database" for another user's file), as salvage.diagnose words it; else None."""
    if isinstance(exc, OSError):
        if exc.errno not in (errno.EACCES, errno.EPERM):
            return None
    elif "unable to open" not in str(exc) and "readonly database" not in str(exc):
        return None
    from agent.delivery.salvage import diagnose  # only on this error path

    found = diagnose(path, probe_write=False, read_file=False)
    return str(found) if found.kind == "denied" else None


# --- statements (prepared once per connection by sqlite3's statement cache) -------------

COLUMNS = (
    "id, body, state, attempts, created_at, next_attempt_at, lease_until, last_status,"
    " last_error, sent_at, seq"
)
INSERT = (
    "INSERT INTO events (id, body, state, attempts, created_at, next_attempt_at, digest)"
    " VALUES (?, ?, ?, 0, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)  # not OR IGNORE: that would also swallow CHECK failures as "duplicates"
IDS_IN_SEQ_RANGE = "SELECT id FROM events WHERE seq > ? AND seq <= ?"
DIGEST = "SELECT digest FROM events WHERE id = ?"
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
