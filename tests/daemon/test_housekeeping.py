"""Timed housekeeping: APScheduler jobs, the nightly maintenance and the printer probes.

Real parts: a BackgroundScheduler running its own thread, a real SQLite outbox, a real tcp
tap in front of the fake printer. Time is passed in (the maintenance's `now`, the scheduler's
wall clock), never patched.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fake_printer import FakeTcpPrinter, free_port, wait_until

from agent.config import AgentConfig, load_config
from agent.daemon.housekeeping import Housekeeping
from agent.daemon.service import Service
from agent.delivery.events import Event, new_event_id
from agent.delivery.maintenance import maintain
from agent.delivery.outbox import Outbox
from agent.errors import ConfigError

DAY = 86400.0
NOW = datetime(2026, 12, 7, 6, 30, tzinfo=UTC).timestamp()  # 03:30 in Montevideo


def event() -> Event:
    return Event(id=new_event_id(), action="tienda_fisica.pago", amount=Decimal("10"),
                 currency="UYU", tracked_at=datetime(2026, 12, 1, tzinfo=UTC),
                 session="sess-1")  # fmt: skip


def test_a_job_fires_on_its_interval() -> None:
    house = Housekeeping(None, wall=lambda: datetime.now(UTC).timestamp())
    fired = threading.Semaphore(0)
    house.add_every("tick", 0.2, fired.release, at_start=False)
    house.start()
    try:
        assert all(fired.acquire(timeout=5) for _ in range(3)), "ran three times"
    finally:
        house.stop()


def test_a_till_booted_in_1970_runs_its_jobs_once_when_ntp_answers() -> None:
    """A job last planned in 1970 (the clock before NTP) runs once, at once, and is next due
    from now: APScheduler's own interval would list every 10 s since 1970 first (a hang)."""
    house = Housekeeping(None)
    fired = threading.Semaphore(0)
    house.add_every("tick", 10, fired.release, at_start=False)
    job = house.scheduler.get_job("tick")
    job.modify(next_run_time=datetime(1970, 1, 1, 0, 16, tzinfo=UTC))
    house.start()
    try:
        assert fired.acquire(timeout=5)
        assert not fired.acquire(timeout=0.5), "once, not once per missed run"
        when = house.next_run("tick")
        assert when is not None and when.timestamp() > datetime.now(UTC).timestamp()
    finally:
        house.stop()


def test_maintenance_prunes_exactly_the_old_sent_rows_never_pending_or_parked(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.db", synchronous="normal")
    try:
        old = [event() for _ in range(4)]
        outbox.add(old, now=NOW - 40 * DAY)
        outbox.add(recent := [event() for _ in range(2)], now=NOW - 40 * DAY)
        outbox.add(waiting := [event() for _ in range(3)], now=NOW - 40 * DAY)
        claimed = outbox.claim(limit=10, now=NOW - 40 * DAY, lease_seconds=60)
        by_id = {row.id: row for row in claimed}
        outbox.ack([e.id for e in old], now=NOW - 31 * DAY)  # sent 31 days ago: pruned
        outbox.ack([e.id for e in recent], now=NOW - 29 * DAY)  # 29 days: kept
        outbox.park(waiting[0].id, now=NOW - 40 * DAY, status=422, error="{}")
        outbox.retry(waiting[1].id, now=NOW - 40 * DAY, delay=0, status=None, error="x")
        outbox.release([waiting[2].id], now=NOW - 40 * DAY)
        assert set(by_id) == {e.id for e in old + recent + waiting}

        report = maintain(outbox, now=NOW, keep_sent_days=30)

        assert report.pruned == 4
        assert all(outbox.get(e.id) is None for e in old)
        assert all(outbox.get(e.id) is not None for e in recent + waiting)
        assert outbox.counts() == {"pending": 2, "inflight": 0, "sent": 2, "parked": 1,
                                   "local": 0}  # fmt: skip
        assert report.checkpointed
        wal = tmp_path / "outbox.db-wal"
        assert not wal.exists() or wal.stat().st_size == 0, "TRUNCATE left the WAL empty"
        assert report.size_bytes == (tmp_path / "outbox.db").stat().st_size
    finally:
        outbox.close()


def test_a_bad_maintenance_time_refuses_to_start_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('[maintenance]\nat = "25:70"\n')
    with pytest.raises(ConfigError, match=r"maintenance\.at"):
        load_config(path)
    path.write_text('[maintenance]\nat = "4:05"\n[outbox]\nkeep_sent_days = 7\n')
    config = load_config(path)
    assert config.maintenance.at == "04:05" and config.outbox.sent_retention_days == 7


def test_the_daemon_schedules_maintenance_at_the_local_time_and_probes_the_printer(
    tmp_path: Path,
) -> None:
    """printer_up is right after a restart before the first print (before: 0 until a job)."""
    printer = FakeTcpPrinter().start()
    config = AgentConfig(
        store={"timezone": "America/Montevideo"},
        outbox={"path": tmp_path / "outbox.db", "runtime_dir": str(tmp_path / "run")},
        maintenance={"at": "03:30"},
        printer=[{"name": "caja", "mode": "tcp", "listen": f"127.0.0.1:{free_port()}",
                  "target": printer.target}],
    )  # fmt: skip
    service = Service(config)
    service.start()
    try:
        up = lambda: [p.up for p in service.metrics_snapshot().printers]  # noqa: E731
        assert wait_until(lambda: up() == [True], 10), "probed at start, nothing printed"
        assert service.taps[0].status().jobs == 0
        assert service.housekeeping is not None
        when = service.housekeeping.next_run("outbox maintenance")
        assert when is not None
        # Never maintained: caught up a minute after start, then nightly at 03:30 local.
        assert (when.timestamp() - datetime.now(UTC).timestamp()) < 120
        printer.stop()
        service.housekeeping.scheduler.get_job("printer probes").modify(
            next_run_time=datetime.now(UTC)
        )
        assert wait_until(lambda: up() == [False], 10), "a switched-off printer shows"
    finally:
        service.stop()
        printer.stop()
