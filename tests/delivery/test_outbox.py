"""The SQLite outbox on real files: states, batches, leases, retention, concurrency."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.delivery.events import Event, stable_event_id
from agent.delivery.outbox import STATES, Outbox
from agent.errors import OutboxError

T0 = 1_800_000_000.0
ROOT = Path(__file__).resolve().parents[2]


def make(n: int, *, prefix: str = "sale") -> list[Event]:
    at = datetime.fromtimestamp(T0, UTC)
    return [
        Event(
            id=stable_event_id(prefix, str(i)),
            action="product.purchased",
            session="s",
            tracked_at=at,
        )
        for i in range(n)
    ]


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    box = Outbox(tmp_path / "state" / "outbox.db")
    yield box  # type: ignore[misc]
    box.close()


def ids(events: list[Event]) -> list[str]:
    return [e.id for e in events]


def test_file_is_private_wal_and_migrations_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "outbox.db"
    with Outbox(path) as box:
        box.add(make(1), now=T0)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        wal = path.with_name("outbox.db-wal")
        assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in conn.execute("SELECT name FROM migrations")]
    assert names == [
        "0001_initial", "0002_partial_due_index", "0003_body_digest", "0004_objects",
    ]
    conn.close()
    with Outbox(path) as again:  # reopening applies nothing twice and keeps the data
        assert again.counts()["pending"] == 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM migrations").fetchone()[0] == 4
    conn.close()


def test_add_reports_duplicates_and_stores_each_id_once(outbox: Outbox) -> None:
    events = make(3)
    first = outbox.add(events, now=T0)
    assert first.added == tuple(ids(events)) and first.duplicates == ()
    again = outbox.add([*events[:2], *make(1, prefix="other")], now=T0 + 1)
    assert again.duplicates == tuple(ids(events[:2]))
    assert len(again.added) == 1
    assert outbox.counts()["pending"] == 4
    twice_in_one_batch = outbox.add([make(1, prefix="x")[0], make(1, prefix="x")[0]], now=T0)
    assert len(twice_in_one_batch.added) == 1 and len(twice_in_one_batch.duplicates) == 1


def test_a_batch_with_one_bad_row_adds_nothing(outbox: Outbox) -> None:
    good = make(3)
    # model_construct skips validation: the database CHECK refuses the empty id mid-batch.
    bad = Event.model_construct(**{**good[0].__dict__, "id": ""})
    with pytest.raises(OutboxError):
        outbox.add([good[0], good[1], bad, good[2]], now=T0)
    assert outbox.counts()["pending"] == 0
    assert outbox.add(good, now=T0).added == tuple(ids(good))  # still usable


def test_claim_oldest_first_ack_retry_park(outbox: Outbox) -> None:
    events = make(5)
    outbox.add(events[:3], now=T0)
    outbox.add(events[3:], now=T0 + 1)
    claimed = outbox.claim(limit=3, now=T0 + 2, lease_seconds=60)
    assert [r.id for r in claimed] == ids(events[:3])
    assert all(r.state == "inflight" and r.lease_until == T0 + 62 for r in claimed)
    assert claimed[0].event == events[0]

    outbox.ack([claimed[0].id], now=T0 + 3)
    outbox.retry(claimed[1].id, now=T0 + 3, delay=30, status=503, error="upstream down")
    outbox.park(claimed[2].id, now=T0 + 3, status=422, error='{"errors":[{"type":"invalid"}]}')

    sent, retried, parked = (outbox.get(r.id) for r in claimed)
    assert sent is not None and sent.state == "sent" and sent.sent_at == T0 + 3
    assert retried is not None and retried.state == "pending"
    assert (retried.attempts, retried.next_attempt_at, retried.last_status) == (1, T0 + 33, 503)
    assert parked is not None and parked.state == "parked" and parked.last_status == 422
    assert parked.last_error is not None and "invalid" in parked.last_error

    # The retried row waits for its time; the ones behind it are not held up.
    assert [r.id for r in outbox.claim(limit=10, now=T0 + 4, lease_seconds=60)] == ids(events[3:])
    assert outbox.claim(limit=10, now=T0 + 4, lease_seconds=60) == []
    assert outbox.next_due_at() == T0 + 33
    assert [r.id for r in outbox.claim(limit=10, now=T0 + 33, lease_seconds=60)] == [retried.id]
    outbox.ack([retried.id], now=T0 + 34)
    assert outbox.get(retried.id).state == "sent"  # type: ignore[union-attr]


def test_ack_is_final(outbox: Outbox) -> None:
    events = make(1)
    outbox.add(events, now=T0)
    [row] = outbox.claim(limit=1, now=T0, lease_seconds=60)
    outbox.ack([row.id], now=T0 + 1)
    # A late failure report (another thread, a timeout raced by a 200) does not resend it.
    outbox.retry(row.id, now=T0 + 2, delay=0, status=None, error="timeout")
    outbox.park(row.id, now=T0 + 2, status=422, error="x")
    assert outbox.get(row.id).state == "sent"  # type: ignore[union-attr]
    assert outbox.requeue([row.id], now=T0 + 3) == 0


def test_release_returns_leases_without_counting_an_attempt(outbox: Outbox) -> None:
    outbox.add(make(2), now=T0)
    rows = outbox.claim(limit=2, now=T0, lease_seconds=60)
    outbox.release([r.id for r in rows], now=T0 + 1)
    again = outbox.claim(limit=5, now=T0 + 1, lease_seconds=60)
    assert [r.id for r in again] == [r.id for r in rows]
    assert all(r.attempts == 0 and r.last_error is None for r in again)


def test_expired_leases_come_back_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = Outbox(path)
    box.add(make(3), now=T0)
    box.claim(limit=2, now=T0, lease_seconds=60)
    box.close()  # as if the process died holding the lease
    with Outbox(path) as box:
        assert box.recover_leases(now=T0 + 30) == 0  # lease still valid
        assert box.counts()["inflight"] == 2
        assert box.recover_leases(now=T0 + 61) == 2
        counts = box.counts()
        assert (counts["pending"], counts["inflight"]) == (3, 0)
        rows = box.claim(limit=3, now=T0 + 61, lease_seconds=60)
        assert [r.attempts for r in rows] == [1, 1, 0]
        assert rows[0].last_error is not None and "may already have it" in rows[0].last_error


def test_prune_deletes_only_old_sent_rows(outbox: Outbox) -> None:
    events = make(4)
    outbox.add(events, now=T0)
    rows = outbox.claim(limit=4, now=T0, lease_seconds=60)
    outbox.ack([rows[0].id], now=T0)
    outbox.ack([rows[1].id], now=T0 + 20 * 86400)
    outbox.park(rows[2].id, now=T0, status=404, error="unknown action")
    outbox.add(make(1, prefix="held"), now=T0, hold=True)
    assert outbox.prune(now=T0 + 31 * 86400, retention_days=30) == 1
    assert outbox.get(rows[0].id) is None
    assert outbox.counts() == {"pending": 0, "inflight": 1, "sent": 1, "parked": 1, "local": 1}


def test_requeue_parked_or_named_rows(outbox: Outbox) -> None:
    events = make(3)
    outbox.add(events, now=T0)
    rows = outbox.claim(limit=3, now=T0, lease_seconds=60)
    for row in rows[:2]:
        outbox.park(row.id, now=T0, status=404, error="unknown action")
    outbox.retry(rows[2].id, now=T0, delay=3600, status=500, error="boom")
    assert outbox.requeue(parked=True, now=T0 + 10) == 2
    assert outbox.requeue([rows[2].id, "no-such-id"], now=T0 + 10) == 1
    due = outbox.claim(limit=10, now=T0 + 10, lease_seconds=60)
    assert [r.id for r in due] == ids(events)
    assert all(r.attempts == 0 for r in due)  # backoff starts over after a manual retry


def test_held_events_are_counted_but_never_claimed(outbox: Outbox) -> None:
    outbox.add(make(2), now=T0, hold=True)
    assert outbox.claim(limit=10, now=T0 + 1e6, lease_seconds=60) == []
    assert outbox.counts()["local"] == 2
    assert [r.state for r in outbox.list(state="local")] == ["local", "local"]


def test_counts_list_oldest_and_next_due(outbox: Outbox) -> None:
    assert outbox.counts() == {state: 0 for state in STATES}
    assert outbox.oldest_pending_at() is None and outbox.next_due_at() is None
    outbox.add(make(2), now=T0)
    outbox.add(make(2, prefix="later"), now=T0 + 5)
    outbox.claim(limit=1, now=T0 + 6, lease_seconds=60)
    assert outbox.oldest_pending_at() == T0  # the inflight one is not delivered yet
    assert outbox.next_due_at() == T0
    listed = outbox.list(limit=3)
    assert [r.created_at for r in listed] == [T0 + 5, T0 + 5, T0]  # newest first
    with pytest.raises(OutboxError, match="unknown state"):
        outbox.list(state="lost")


def test_meta_and_profile_cache(outbox: Outbox) -> None:
    assert outbox.get_meta("paused") is None
    outbox.set_meta("paused", "401: token refused")
    outbox.set_meta("paused", "403: plan")
    assert outbox.get_meta("paused") == "403: plan"
    outbox.set_meta("paused", None)
    assert outbox.get_meta("paused") is None
    assert outbox.get_profile("+59899000001") is None
    outbox.put_profile("+59899000001", "BvYeyVYz", now=T0)
    outbox.put_profile("+59899000001", "Other123", now=T0 + 1)
    assert outbox.get_profile("+59899000001") == "Other123"


def test_a_closed_outbox_says_so(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.close()
    box.close()
    with pytest.raises(OutboxError, match="closed"):
        box.counts()


def test_threads_share_one_outbox(outbox: Outbox) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for batch in range(10):
                outbox.add(make(4, prefix=f"t{n}-{batch}"), now=T0)
                for row in outbox.claim(limit=3, now=T0, lease_seconds=60):
                    outbox.ack([row.id], now=T0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    counts = outbox.counts()
    assert counts["pending"] + counts["sent"] == 160 and counts["inflight"] == 0


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from agent.delivery.events import Event, stable_event_id
    from agent.delivery.outbox import Outbox

    path, name, batches = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    at = datetime.now(UTC)
    with Outbox(path, busy_timeout_ms=2000) as box:
        for b in range(batches):
            events = [
                Event(id=stable_event_id(name, str(b), str(i)), action="a.b", session="s",
                      tracked_at=at)
                for i in range(16)
            ]
            box.add(events, now=float(b))
            box.ack([r.id for r in box.claim(limit=8, now=1e12, lease_seconds=60)], now=1.0)
    print("ok")
    """
)


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"  # not created yet: both race to create and migrate it
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, "30"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("daemon", "track")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    with Outbox(path) as box:
        counts = box.counts()
    # Every batch of both processes is there; each claim of 8 was acknowledged exactly once.
    assert (counts["pending"], counts["sent"], counts["inflight"]) == (480, 480, 0)


def test_an_unreadable_row_is_parked_and_does_not_block_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    events = make(3)
    with Outbox(path) as box:
        box.add(events, now=T0)
    conn = sqlite3.connect(path)  # a hand edit (or a bug) broke the first stored event
    conn.execute(
        "UPDATE events SET body = json_set(body, '$.action', 'Not An Action') WHERE id = ?",
        (events[0].id,),
    )
    conn.commit()
    conn.close()
    with Outbox(path) as box:
        claimed = box.claim(limit=10, now=T0, lease_seconds=60)
        assert [r.id for r in claimed] == ids(events[1:])
        assert box.counts()["parked"] == 1
        with pytest.raises(OutboxError, match="unreadable"):
            box.get(events[0].id)


def test_an_impossible_path_is_an_outbox_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="opening"):
        Outbox(blocker / "outbox.db")


ADDER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from agent.delivery.events import Event, stable_event_id
    from agent.delivery.outbox import Outbox

    path, run = Path(sys.argv[1]), sys.argv[2]
    at = datetime.now(UTC)
    with Outbox(path) as box:
        for b in range(100_000):
            box.add([Event(id=stable_event_id(run, str(b), str(i)), action="a.b", session="s",
                           tracked_at=at) for i in range(16)], now=float(b))
            box.claim(limit=5, now=1e12, lease_seconds=60)
            if b == 0:
                print("ready", flush=True)
    """
)


def test_sigkill_mid_write_leaves_whole_sales_only(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    for run in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", ADDER, str(path), str(run)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(0.05 + 0.1 * run)  # somewhere in the middle of a transaction, or not
        proc.kill()
        proc.wait()
        proc.stdout.close()
        with Outbox(path) as box:
            conn = box._conn()
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            counts = box.counts()
            assert sum(counts.values()) >= 16 * (run + 1)
            assert sum(counts.values()) % 16 == 0  # every sale whole (ids never repeat), or absent
            assert box.recover_leases(now=1e13) == counts["inflight"]


def test_a_huge_batch_is_still_one_transaction(outbox: Outbox) -> None:
    events = make(1200)  # more ids than one look-up statement takes
    outbox.add(events[:5], now=T0)
    result = outbox.add(events, now=T0)
    assert len(result.added) == 1195 and result.duplicates == tuple(ids(events[:5]))
    assert outbox.counts()["pending"] == 1200


def test_an_event_claimed_through_another_outbox_object_is_the_stored_one(
    tmp_path: Path,
) -> None:
    """The pipeline adds through one Outbox and sync claims through another (same process);
    a row whose stored text changed meanwhile is read from the database, not remembered."""
    path = tmp_path / "outbox.db"
    events = make(3)
    with Outbox(path) as pipeline, Outbox(path) as sync:
        pipeline.add(events, now=T0)
        conn = sqlite3.connect(path)
        conn.execute(
            "UPDATE events SET body = json_set(body, '$.metadata.edited', 'yes') WHERE id = ?",
            (events[1].id,),
        )
        conn.commit()
        conn.close()
        rows = sync.claim(limit=3, now=T0, lease_seconds=60)
    assert rows[0].event == events[0] and rows[2].event == events[2]
    assert rows[1].event.metadata == {"edited": "yes"}


def test_a_salvaged_outbox_keeps_its_order_ids_and_ingest_digests(tmp_path: Path) -> None:
    from agent.delivery.salvage import salvage

    old = tmp_path / "old.db"
    with Outbox(old) as box:
        box.add(make(3), now=T0, digests=["d0", "d1", "d2"])
        box.transaction("an order id", lambda c: c.execute(
            "INSERT INTO objects VALUES ('order', 'caja-1|F-0001', 'ord_1', ?)", (T0,)))
    with Outbox(tmp_path / "new.db") as fresh:
        recovered, lost = fresh.transaction("salvaging", lambda c: salvage(old, c))
        assert (recovered, lost) == (3, 0)
        # The next retry of that sale's order finds its order (no second order in Hellotext),
        # and an in-store app's retried request is still matched against its body.
        assert fresh.transaction("reading", lambda c: c.execute(
            "SELECT object_id FROM objects WHERE key = 'caja-1|F-0001'").fetchall()) == [("ord_1",)]
        result = fresh.add(make(3)[:1], now=T0, digests=["other body"])
        assert result.conflicts
