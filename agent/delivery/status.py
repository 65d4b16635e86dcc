"""Delivery status: the notes the sync engine leaves in the outbox's meta table, read back.

`hellotext-agent status` runs in another process than the daemon, so everything it shows
comes from the database: counts per state, the oldest waiting event, and these notes.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from agent.delivery.outbox import Outbox

META_PAUSED = "sync.paused"  # why sending is paused; absent when it is not
META_PAUSED_AT = "sync.paused_at"
META_LAST_SUCCESS = "sync.last_success_at"
META_LAST_ERROR = "sync.last_error"
META_LAST_ERROR_AT = "sync.last_error_at"
META_UNREACHABLE_SINCE = "sync.unreachable_since"  # absent while Hellotext answers
META_UNREACHABLE_CAUSE = "sync.unreachable_cause"
META_DUPLICATES = "sync.possible_duplicates"  # timeouts and drops: the server may have it
META_DAEMON = "daemon.process"  # JSON {pid, started_at, stopped_at} of `run`
META_DEVICES = "daemon.devices"  # JSON of taps, scanners and pipeline counters, on change

NOTES_EVERY_SECONDS = 1.0  # the sync engine's notes are written at most this often


def delivery_status(outbox: Outbox, *, now: float) -> dict[str, Any]:
    """What `status` shows: counts per state, the oldest waiting event, pause, last results.

    Times are Unix seconds (None when unknown); `*_age_seconds` are relative to `now`.
    """

    def moment(key: str) -> float | None:
        value = outbox.get_meta(key)
        try:
            return float(value) if value else None
        except ValueError:
            return None

    oldest = outbox.oldest_pending_at()
    next_due = outbox.next_due_at()
    return {
        "counts": outbox.counts(),
        "oldest_pending_at": oldest,
        "oldest_pending_age_seconds": None if oldest is None else max(0.0, now - oldest),
        "next_attempt_at": next_due,
        "paused": outbox.get_meta(META_PAUSED) or None,
        "paused_at": moment(META_PAUSED_AT),
        "last_success_at": moment(META_LAST_SUCCESS),
        "last_error": outbox.get_meta(META_LAST_ERROR),
        "last_error_at": moment(META_LAST_ERROR_AT),
        "unreachable_since": moment(META_UNREACHABLE_SINCE),
        "unreachable_cause": outbox.get_meta(META_UNREACHABLE_CAUSE),
        "possible_duplicates": int(outbox.get_meta(META_DUPLICATES) or 0),
        "daemon": _daemon(outbox.get_meta(META_DAEMON)),
        "devices": json.loads(outbox.get_meta(META_DEVICES) or "{}"),
    }


def _daemon(text: str | None) -> dict[str, Any]:
    """The daemon's own note, with whether its process is still there (a SIGKILL leaves a
    note saying it runs: the pid check tells the truth)."""
    info: dict[str, Any] = json.loads(text) if text else {}
    pid = info.get("pid")
    running = False
    if isinstance(pid, int):
        try:
            os.kill(pid, 0)
            running = True
        except PermissionError:
            running = True  # exists, another user's
        except OSError:
            running = False
    info["running"] = running
    return info


def add_possible_duplicates(outbox: Outbox, count: int) -> None:
    """Count events that may have reached Hellotext without being acked (a timeout, or a
    lease recovered after a crash mid-send)."""
    if count > 0:
        total = int(outbox.get_meta(META_DUPLICATES) or 0) + count
        outbox.set_meta(META_DUPLICATES, str(total))


class Notes:
    """The sync engine's notes for `status`, gathered by its workers and written at most once
    a second: each write is a transaction of its own."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._lock = threading.Lock()
        self._notes: dict[str, str | None] = {}  # None: the note is removed
        self._new_duplicates = 0
        self._flushed = 0.0

    def note(self, notes: dict[str, str | None]) -> None:
        with self._lock:
            self._notes.update(notes)

    def error(self, error: str, now: float, *, maybe_delivered: bool = False) -> None:
        with self._lock:
            self._notes[META_LAST_ERROR] = error
            self._notes[META_LAST_ERROR_AT] = repr(now)
            self._new_duplicates += maybe_delivered

    def flush(self, now: float, *, force: bool = False) -> None:
        with self._lock:
            if not force and now - self._flushed < NOTES_EVERY_SECONDS:
                return
            self._flushed = now
            notes, self._notes = self._notes, {}
            new_duplicates, self._new_duplicates = self._new_duplicates, 0
        for key, value in notes.items():
            self._outbox.set_meta(key, value)
        add_possible_duplicates(self._outbox, new_duplicates)
