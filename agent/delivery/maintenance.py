"""The outbox's nightly maintenance: prune old sent rows, checkpoint the WAL, measure the file.

Sent rows are kept `outbox.sent_retention_days` (`keep_sent_days`) for idempotency keys and
`outbox list`; nothing unsent (pending, inflight, parked, local) is ever deleted. The WAL is
checkpointed with TRUNCATE so a busy day's log does not stay on disk at its peak size. Time is
passed in (`now`), so a test or the year benchmark runs it on a simulated clock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agent.delivery.outbox import Outbox

log = logging.getLogger("agent.maintenance")

META_MAINTAINED_AT = "daemon.maintained_at"  # clock time of the last maintenance
CHECKPOINT_WAIT_SECONDS = 5.0  # a checkpoint waits this long for a writer, then reports busy


@dataclass(frozen=True)
class MaintenanceReport:
    pruned: int
    checkpointed: bool  # False: a reader or writer kept part of the WAL (tried again tomorrow)
    size_bytes: int  # the database and its WAL, after the checkpoint


def file_bytes(path: Path) -> int:
    """The outbox's size on disk: the database and its WAL (0 for what is missing)."""
    total = 0
    for part in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(OSError):
            total += os.stat(part).st_size
    return total


def checkpoint(path: Path) -> bool:
    """PRAGMA wal_checkpoint(TRUNCATE) from a connection of its own; True when complete."""
    conn = sqlite3.connect(path, timeout=CHECKPOINT_WAIT_SECONDS, isolation_level=None)
    try:
        busy, _log_frames, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return int(busy) == 0
    finally:
        conn.close()


def maintain(outbox: Outbox, *, now: float, keep_sent_days: int) -> MaintenanceReport:
    pruned = outbox.prune(now=now, retention_days=keep_sent_days)
    outbox.set_meta(META_MAINTAINED_AT, repr(now))  # before the checkpoint: the WAL ends empty
    try:
        done = checkpoint(outbox.path)
    except sqlite3.Error as exc:
        log.warning("outbox maintenance: WAL checkpoint failed: %s", exc)
        done = False
    report = MaintenanceReport(pruned, done, file_bytes(outbox.path))
    log.info(
        "outbox maintenance: %d sent events older than %d days pruned, WAL %s, %s on disk",
        pruned, keep_sent_days, "checkpointed" if done else "busy (tried again next time)",
        _size(report.size_bytes),
    )  # fmt: skip
    return report


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
