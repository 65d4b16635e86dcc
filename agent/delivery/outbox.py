"""The SQLite outbox: every event waits here, durably, until Hellotext has it.

    add ─▶ pending ─claim─▶ inflight (lease) ─ack─▶ sent ─prune (after retention)─▶ gone
              ▲                  │  retry (temporary failure: attempts+1, next_attempt_at)
              └──────────────────┤  release (sending paused: unchanged)
                                 │  recover_leases (lease expired: the agent died mid-send)
                                 └─park─▶ parked (permanent failure) ─requeue─▶ pending
    add(hold=True) ─▶ local (kept on this till, never sent)

One class owns the database. Writes are `BEGIN IMMEDIATE` transactions, so a writer waits for
the write lock up front (busy timeout) instead of failing on upgrade; SQLITE_BUSY that still
gets through is retried until a deadline. One connection serves every thread, behind a lock.
Other processes (`track` while the daemon runs) share the file through WAL. sqlite3 errors are
translated at this boundary: a full disk is StorageFullError (the failed transaction is rolled
back, everything committed before stays, and the object works again once space returns).
The hot path (add, claim, ack) is prepared SQL on the connection; sqlite-utils builds the
schema (schema.py), imported only when a migration is due, and the Event model only when a row
is read back: opening the outbox stays cheap for `track` and `status`.
"""

from __future__ import annotations

import builtins
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agent.delivery import schema as stmt
from agent.delivery.schema import AddResult, OutboxRow, _row
from agent.errors import OutboxError, StorageFullError

if TYPE_CHECKING:  # imported when a row is read: pydantic is not needed to store or count
    from agent.delivery.events import Event

__all__ = ["STATES", "AddResult", "Outbox", "OutboxRow"]

log = logging.getLogger("agent.outbox")
T = TypeVar("T")

STATES = stmt.STATES
SYNCHRONOUS = ("off", "normal", "full", "extra")
# Events this process just stored: the daemon's pipeline adds a sale and its sync engine
# (through another Outbox) claims it moments later without parsing back what was written.
_RECENT = stmt.RecentEvents(2048)  # at most ~6 MB: a burst of sales awaiting the next sync
MAX_ERROR_CHARS = 4000  # an error body is for review, not an archive
LEASE_NOTE = "lease expired: the agent stopped mid-send; Hellotext may already have it"


class Outbox:
    """The durable queue of events. Safe from several threads and several processes."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "full",
        busy_timeout_ms: int = 5000,
        readonly: bool = False,
    ) -> None:
        """`readonly`: for commands that only look (`status`, `outbox list`): the file must
        exist and is neither created nor migrated, so root running one leaves nothing the
        service user cannot open."""
        if synchronous not in SYNCHRONOUS:
            raise OutboxError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.path = Path(path)
        self._lock = threading.RLock()
        self._busy_seconds = max(busy_timeout_ms, 0) / 1000
        self._db: sqlite3.Connection | None = None
        with self._errors("opening it"):
            conn = stmt.connect(self.path, readonly=readonly, timeout=self._busy_seconds)
            try:
                self._db = conn
                if not readonly:
                    conn.execute(f"PRAGMA synchronous = {synchronous}")
                    conn.execute("PRAGMA journal_size_limit = 4194304")  # shrink the WAL
                    self._retry_busy(self._enable_wal)
                    self._migrate()
                else:
                    self._retry_busy(lambda: conn.execute("SELECT 1 FROM events LIMIT 1"))
                self.identity = stmt.file_identity(self.path)  # to notice a file replaced
            except BaseException:
                self._db = None
                conn.close()
                raise

    # --- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError(f"outbox {self.path} is closed")
        return self._db

    def _enable_wal(self) -> None:
        conn = self._conn()
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = wal")

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            if stmt.is_full(exc, self.path.parent):
                raise StorageFullError(
                    f"the disk holding the outbox {self.path} is full: {what} failed and was"
                    " undone (everything stored before is intact); free some space"
                ) from exc
            if (denied := stmt.denied(exc, self.path)) is not None:
                raise OutboxError(denied) from exc  # whom to run as, never "damaged"
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise OutboxError(f"outbox {self.path}: {what} failed: {detail}") from exc

    def _retry_busy(self, fn: Callable[[], T]) -> T:
        """Run fn again while another process holds the lock beyond the busy timeout."""
        deadline = time.monotonic() + max(self._busy_seconds, 1.0)
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not stmt.is_busy(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(random.uniform(0.002, 0.02))

    def _write(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn inside one write transaction: all of it is committed, or none of it."""

        def attempt() -> T:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    # SQLite may have rolled back already (e.g. on SQLITE_FULL).
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
            return result

        with self._lock, self._errors(what):
            return self._retry_busy(attempt)

    def transaction(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn in one write transaction: maintenance (agent/delivery/repair.py) and salvage."""
        return self._write(what, fn)

    def backup_into(self, path: Path) -> None:
        """Copy the whole database, as this connection sees it, into a new file (SQLite's
        backup API): a file deleted or replaced under the daemon is rebuilt from here."""
        with self._lock, self._errors("copying it"):
            dest = sqlite3.connect(path)
            try:
                self._conn().backup(dest)
            finally:
                dest.close()

    def _read(self, what: str, sql: str, params: Sequence[Any] = ()) -> builtins.list[Any]:
        with self._lock, self._errors(what):
            conn = self._conn()
            return self._retry_busy(lambda: conn.execute(sql, params).fetchall())

    def _migrate(self) -> None:
        conn = self._conn()

        def run(conn: sqlite3.Connection) -> None:
            import sqlite_utils  # only here: the schema is built once per database

            db = sqlite_utils.Database(conn, execute_plugins=False)
            stmt.ensure_migrations_table(db)
            todo = stmt.pending_migrations(db)
            if todo:
                stmt.apply(db, todo, now=time.time())
                log.debug("outbox %s: applied %s", self.path, ", ".join(n for n, _ in todo))

        def up_to_date() -> bool:
            return stmt.up_to_date(conn)

        # Up to date (the usual case): no write lock, so `status` never waits for the daemon.
        if not self._retry_busy(up_to_date):
            self._write("opening it", run)

    # --- the queue ------------------------------------------------------------------------

    def add(
        self, events: Sequence[Event], *, now: float, hold: bool = False,
        digests: Sequence[str | None] = (),
    ) -> AddResult:
        """Store a batch (one sale) in ONE transaction. Ids already present are duplicates;
        `digests` (one per event, the ingest request's body hash) are kept with the rows, and
        a duplicate whose stored digest differs is reported in `conflicts`."""
        stored = [(event.id, event.to_json()) for event in events]
        result = self._insert(stored, now=now, hold=hold, digests=digests)
        if not hold:
            fresh = set(result.added)
            pairs = zip(stored, events, strict=True)
            _RECENT.put((id, text, e) for (id, text), e in pairs if id in fresh)
        return result

    def add_checked(
        self, items: Sequence[tuple[str, str]], *, now: float, hold: bool = False
    ) -> AddResult:
        """Store (id, JSON) rows built without the Event model: `track`'s fast path, checked
        with the same rules (agent.delivery.checks). A claim still validates each row with
        the model, and parks one that fails: nothing malformed is ever sent."""
        return self._insert(items, now=now, hold=hold)

    def _insert(
        self, items: Sequence[tuple[str, str]], *, now: float, hold: bool,
        digests: Sequence[str | None] = (),
    ) -> AddResult:
        state = "local" if hold else "pending"
        keep = list(digests) or [None] * len(items)
        rows = [(id, text, state, now, now, d) for (id, text), d in zip(items, keep, strict=True)]
        ids = [row[0] for row in rows]

        def run(conn: sqlite3.Connection) -> AddResult:
            inserted = conn.executemany(stmt.INSERT, rows).rowcount
            if inserted == len(rows):  # the usual case: no duplicate
                return AddResult(tuple(ids), ())
            # Some ids were known (a receipt seen twice). This transaction holds the write
            # lock, so its new rows have consecutive rowids ending at last_insert_rowid().
            fresh: set[str] = set()
            if inserted:
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                span = (last - inserted, last)
                fresh = {i for (i,) in conn.execute(stmt.IDS_IN_SEQ_RANGE, span)}
            return stmt.sort_duplicates(conn, ids, fresh, keep)

        if not rows:
            return AddResult((), ())
        return self._write(f"storing {len(rows)} event(s)", run)

    def claim(self, *, limit: int, now: float, lease_seconds: float) -> builtins.list[OutboxRow]:
        """Lease up to `limit` due pending rows, oldest first, as inflight."""
        if limit <= 0:
            return []

        def run(conn: sqlite3.Connection) -> builtins.list[OutboxRow]:
            raw = sorted(conn.execute(stmt.CLAIM, (now + lease_seconds, now, limit)), key=_seq)
            rows: builtins.list[OutboxRow] = []
            for values in raw:
                try:
                    rows.append(_row(values, _RECENT.take(values[0], values[1])))
                except ValueError as exc:  # pydantic ValidationError and friends
                    # A row nobody can send must not block the queue: park it for review.
                    error = f"stored event is invalid: {exc}"[:MAX_ERROR_CHARS]
                    conn.execute(stmt.PARK, (None, error, values[0]))
                    log.error("outbox: parked unreadable event %s", values[0])
            return rows

        return self._write("claiming events", run)

    def ack(self, ids: Sequence[str], *, now: float) -> None:
        """Mark delivered (2xx). Never sent again."""
        if ids:
            params = [(now, id) for id in ids]
            self._write("an acknowledgement", lambda c: c.executemany(stmt.ACK, params))

    def retry(self, id: str, *, now: float, delay: float, status: int | None, error: str) -> None:
        """Temporary failure: back to pending, due at now + delay."""
        params = (now + delay, status, error[:MAX_ERROR_CHARS], id)
        self._write("a retry", lambda c: c.execute(stmt.RETRY, params))

    def park(self, id: str, *, now: float, status: int | None, error: str) -> None:
        """Permanent failure: kept with its status and error body for review."""
        params = (status, error[:MAX_ERROR_CHARS], id)
        self._write("parking an event", lambda c: c.execute(stmt.PARK, params))

    def release(self, ids: Sequence[str], *, now: float) -> None:
        """Give leased rows back untouched (sending paused); attempts are not counted."""
        if ids:
            self._write("a release", lambda c: c.executemany(stmt.RELEASE, [(i,) for i in ids]))

    def recover_leases(self, *, now: float) -> int:
        """Inflight rows whose lease expired (a crash mid-send) go back to pending."""
        params = (LEASE_NOTE, now)
        return self._write("recovering leases", lambda c: c.execute(stmt.RECOVER, params).rowcount)

    def prune(self, *, now: float, retention_days: int) -> int:
        """Delete sent rows older than the retention. Nothing unsent is ever deleted."""
        sql = "DELETE FROM events WHERE state = 'sent' AND sent_at < ?"
        cutoff = now - retention_days * 86400
        return self._write("pruning", lambda c: c.execute(sql, (cutoff,)).rowcount)

    def requeue(self, ids: Sequence[str] = (), *, parked: bool = False, now: float) -> int:
        """`outbox retry`: the given ids (parked or pending) and/or every parked row, due now."""

        def run(conn: sqlite3.Connection) -> int:
            count = 0
            if parked:
                sql = stmt.REQUEUE.format(where="state = 'parked'")
                count += conn.execute(sql, (now,)).rowcount
            sql = stmt.REQUEUE.format(where="id = ? AND state IN ('parked', 'pending')")
            for id in ids:
                count += conn.execute(sql, (now, id)).rowcount
            return count

        return self._write("requeueing", run)

    # --- reading --------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        found = dict(self._read("counting", "SELECT state, count(*) FROM events GROUP BY state"))
        return {state: int(found.get(state, 0)) for state in STATES}

    def oldest_pending_at(self) -> float | None:
        """created_at of the oldest event not yet delivered (pending or inflight)."""
        query = (
            "SELECT created_at FROM events INDEXED BY events_state"
            " WHERE state = ? ORDER BY seq LIMIT 1"
        )
        found = [self._read("reading", query, (s,)) for s in ("pending", "inflight")]
        values = [float(rows[0][0]) for rows in found if rows]
        return min(values) if values else None

    def next_due_at(self) -> float | None:
        sql = (
            "SELECT min(next_attempt_at) FROM events INDEXED BY events_due WHERE state = 'pending'"
        )
        value = self._read("reading", sql)[0][0]
        return None if value is None else float(value)

    def list(self, *, state: str | None = None, limit: int = 100) -> builtins.list[OutboxRow]:
        """Newest first."""
        if state is not None and state not in STATES:
            raise OutboxError(f"unknown state {state!r}; one of {', '.join(STATES)}")
        where, params = ("WHERE state = ?", [state]) if state else ("", [])
        sql = f"SELECT {stmt.COLUMNS} FROM events {where} ORDER BY seq DESC LIMIT ?"
        return [self._parse(v) for v in self._read("listing", sql, [*params, limit])]

    def get(self, id: str) -> OutboxRow | None:
        found = self._read("reading", f"SELECT {stmt.COLUMNS} FROM events WHERE id = ?", (id,))
        return self._parse(found[0]) if found else None

    def ids_starting(self, prefix: str, *, limit: int = 2) -> builtins.list[str]:
        """Ids beginning with `prefix` (a person types the first characters, as with git)."""
        sql = "SELECT id FROM events WHERE id >= ? AND id < ? ORDER BY id LIMIT ?"
        return [r[0] for r in self._read("reading", sql, (prefix, prefix + "\uffff", limit))]

    def _parse(self, values: Sequence[Any]) -> OutboxRow:
        try:
            return _row(values)
        except ValueError as exc:
            detail = f"outbox {self.path}: event {values[0]} is unreadable: {exc}"
            raise OutboxError(detail) from exc

    # --- small tables ---------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        found = self._read("reading status", "SELECT value FROM meta WHERE key = ?", (key,))
        return str(found[0][0]) if found else None

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            sql = "DELETE FROM meta WHERE key = ?"
            params: tuple[str, ...] = (key,)
        else:
            sql = (
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            )
            params = (key, value)
        self._write("saving status", lambda c: c.execute(sql, params))

    def get_profile(self, phone: str) -> str | None:
        sql = "SELECT profile_id FROM profiles WHERE phone = ?"
        found = self._read("reading a profile", sql, (phone,))
        return str(found[0][0]) if found else None

    def put_profile(self, phone: str, profile_id: str, *, now: float) -> None:
        sql = (
            "INSERT INTO profiles (phone, profile_id, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (phone) DO UPDATE SET profile_id = excluded.profile_id,"
            " updated_at = excluded.updated_at"
        )
        self._write("saving a profile", lambda c: c.execute(sql, (phone, profile_id, now)))


def _seq(values: Sequence[Any]) -> int:
    return int(values[10])
