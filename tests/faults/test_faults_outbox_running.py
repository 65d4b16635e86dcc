"""Issue 9, cases 2-4: the outbox breaks under the running daemon.

2. The disk fills, then systemd stops the service: the held sales are in the spill file on
   the runtime tmpfs, and the next run commits and delivers them (5 of 5).
3. `outbox.db` is overwritten in place: noticed, moved aside, a fresh one takes the sales;
   the watchdog never stops, SIGTERM and the restart work.
4. The outbox files are deleted (a cleanup script): the file is rebuilt from the still-open
   database within a health period, and after a restart all 11 sales are delivered.
"""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fake_printer import FakeTcpPrinter
from faultrig import (
    Till,
    daemon_config,
    fill,
    free_port,
    job,
    once_each,
    payments,
    pos_print,
    run_daemon,
    stop_daemon,
    until,
)

from agent.daemon.health import read_status, status_file
from agent.delivery.outbox import Outbox
from agent.standin.server import FakeHellotext

ZONE = ZoneInfo("America/Montevideo")


def now() -> datetime:
    return datetime.now(ZONE)


@pytest.mark.slow  # a daemon filled, stopped and restarted: ~16 s; .ci/run runs it after
def test_sales_held_on_a_full_disk_survive_sigterm_and_are_delivered_after(
    tmp_path: Path, fake: FakeHellotext, disk: Path
) -> None:
    printer = FakeTcpPrinter().start()
    port = free_port()
    runtime = tmp_path / "run"  # the service's RuntimeDirectory (tmpfs, preserved)
    config = daemon_config(
        tmp_path,
        outbox=disk / "outbox.db",
        runtime=runtime,
        api_url=fake.url,
        port=port,
        printer=printer.target,
    )
    live = status_file(str(runtime), disk / "outbox.db")
    log = tmp_path / "daemon.log"
    try:
        daemon = run_daemon(config, log)
        pos_print(port, job(1, when=now()))
        assert until(lambda: once_each(fake, range(1, 2)))
        assert until(lambda: _counts(disk / "outbox.db")["sent"] == 2)  # acked before the fill
        fake.set_faults(offline=True)
        ballast = fill(disk)
        jobs = [job(n, when=now()) for n in range(2, 7)]
        for data in jobs:
            pos_print(port, data)
        assert until(lambda: (read_status(live) or {}).get("outbox", {}).get("held_sales") == 5)
        assert "outbox full" in (read_status(live) or {})["status"]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
        assert all(data in printer.received() for data in jobs)  # printing never stopped

        ballast.unlink()
        fake.set_faults(offline=False)
        daemon = run_daemon(config, log)
        assert until(lambda: once_each(fake, range(1, 7)), 30), payments(fake)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
        assert "a previous run could not store are back" in log.read_text()
        assert not list(runtime.glob("*.held.jsonl")), "the spill file is gone once committed"
    finally:
        stop_daemon(daemon, printer)


def test_an_outbox_overwritten_in_place_is_noticed_and_replaced(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    path = tmp_path / "state" / "outbox.db"
    till = Till(tmp_path, outbox=path, fake=fake)
    tills.append(till)
    till.start()
    for n in (1, 2):
        till.print(job(n, when=now()))
    assert until(lambda: once_each(fake, range(1, 3)))
    mark = len(till.notices.got)
    with open(path, "r+b") as fh:  # `cat something > outbox.db`: same file, new content
        fh.write(b"\x00garbage" * (path.stat().st_size // 8))
    for n in (3, 4):
        till.print(job(n, when=now()))
    assert till.printed_unchanged()
    assert until(lambda: once_each(fake, range(1, 5)))
    assert till.service is not None
    box = till.service.snapshot()["outbox"]
    assert box["quarantined"] and box["state"] == "ok"
    assert Path(box["quarantined"][0]["moved_to"]).exists()
    assert until(lambda: till.notices.pings_after(mark) >= 2), "the watchdog kept pinging"
    till.stop()  # what SIGTERM does: it must not raise

    (tmp_path / "again").mkdir()
    again = Till(tmp_path / "again", outbox=path, fake=fake, runtime=till.runtime)
    tills.append(again)
    again.start()
    again.print(job(5, when=now()))
    assert until(lambda: once_each(fake, range(1, 6)))


def test_outbox_files_deleted_under_the_daemon_are_rebuilt_and_nothing_is_lost(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    path = tmp_path / "state" / "outbox.db"
    fake.set_faults(offline=True)  # the sales wait in the outbox
    till = Till(tmp_path, outbox=path, fake=fake)
    tills.append(till)
    till.start()
    for n in range(1, 9):
        till.print(job(n, when=now()))
    assert till.service is not None
    assert until(lambda: till.service is not None and till.service.pipeline is not None
                 and till.service.pipeline.stats.receipts == 8)  # fmt: skip
    old = path.stat().st_ino
    for suffix in ("", "-wal", "-shm"):  # a cleanup script, an operator
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert until(lambda: path.exists() and path.stat().st_ino != old, 5), "rebuilt in a period"
    for n in range(9, 12):
        till.print(job(n, when=now()))
    assert until(lambda: till.service is not None
                 and till.service.snapshot()["outbox"]["rebuilt"] == 1)  # fmt: skip
    assert until(lambda: _pending(path) == 22), "11 sales, 2 events each, in the new file"
    till.stop()

    fake.set_faults(offline=False)
    (tmp_path / "again").mkdir()
    again = Till(tmp_path / "again", outbox=path, fake=fake, runtime=till.runtime)
    tills.append(again)
    again.start()
    assert until(lambda: once_each(fake, range(1, 12)), 30), payments(fake)
    assert fake.duplicates == 0


def _counts(path: Path) -> dict[str, int]:
    with Outbox(path) as outbox:
        return outbox.counts()


def _pending(path: Path) -> int:
    counts = _counts(path)
    return counts["pending"] + counts["inflight"]
