"""Maintenance of the outbox's times after the wall clock was wrong or jumped.

Due times and leases are wall-clock seconds (the file outlives the process, and `sync`/`status`
run in other processes), so the daemon re-bases them when it sees the wall clock jump: a jump
either way never delays a waiting event beyond the backoff it had. `clamp_due` is the same
promise for a jump nobody saw (the agent was stopped): nothing waits longer than the largest
backoff. `redate` gives events that only had a capture time, taken while the clock was wrong,
the time the monotonic clock says they happened, and releases them for sending.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from agent.delivery.events import Event
from agent.delivery.outbox import Outbox

REBASE = (
    "UPDATE events SET next_attempt_at = next_attempt_at + ?1,"
    " lease_until = CASE WHEN lease_until IS NULL THEN NULL ELSE lease_until + ?1 END"
    " WHERE state IN ('pending', 'inflight')"
)
CLAMP = "UPDATE events SET next_attempt_at = ?1 WHERE state = 'pending' AND next_attempt_at > ?1"


def rebase(outbox: Outbox, delta: float) -> int:
    """The wall clock jumped by `delta` seconds: shift every due time and lease with it."""
    return outbox.transaction("re-basing due times", lambda c: c.execute(REBASE, (delta,)).rowcount)


def clamp_due(outbox: Outbox, *, now: float, max_delay: float) -> int:
    """No pending event waits more than `max_delay` from `now` (the largest backoff)."""
    limit = now + max_delay
    return outbox.transaction("capping due times", lambda c: c.execute(CLAMP, (limit,)).rowcount)


def redate(outbox: Outbox, items: Iterable[tuple[str, float]], *, now: float) -> int:
    """(event id, corrected Unix time): set tracked_at, and send the held ('local') row."""
    pairs = list(items)

    def run(conn: sqlite3.Connection) -> int:
        done = 0
        for id, when in pairs:
            row = conn.execute(
                "SELECT body FROM events WHERE id = ? AND state = 'local'", (id,)
            ).fetchone()
            if row is None:
                continue
            event = Event.from_json(row[0])
            fixed = event.model_copy(update={"tracked_at": datetime.fromtimestamp(when, UTC)})
            conn.execute(
                "UPDATE events SET body = ?, state = 'pending', next_attempt_at = ?"
                " WHERE id = ? AND state = 'local'",
                (fixed.to_json(), now, id),
            )
            done += 1
        return done

    return outbox.transaction("re-dating events", run) if pairs else 0
