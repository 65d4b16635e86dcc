"""Issue 9, case 1: the outbox is unusable when the agent starts (garbage, cut in half, a
directory in its place, a read-only state directory, a full disk). The tap listens within
5 s and prints every byte; the watchdog keeps pinging; status says what is wrong; once the
outbox can be used every sale reaches Hellotext exactly once. doctor tells the faults apart.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import mount_tmpfs, remount
from faultrig import Till, fill, job, once_each, payments, until

from agent.cli import main
from agent.cli.doctor import check_outbox
from agent.cli.doctor_devices import Identity
from agent.delivery.events import Event, stable_event_id
from agent.delivery.outbox import Outbox
from agent.standin.server import FakeHellotext

ZONE = ZoneInfo("America/Montevideo")


def backlog(path: Path, n: int) -> None:
    """An outbox a previous run left with `n` events waiting."""
    with Outbox(path) as outbox:
        now = datetime.now(ZONE)
        events = [
            Event(
                id=stable_event_id("backlog", str(i)),
                action="tienda_fisica.pago",
                session="pos-caja-1",
                amount=Decimal(1),
                currency="UYU",
                tracked_at=now,
            )
            for i in range(n)
        ]
        outbox.add(events, now=time.time())


def sell(till: Till, numbers: range) -> None:
    for n in numbers:
        till.print(job(n, when=datetime.now(ZONE)))


@pytest.mark.parametrize("damage", ["garbage", "cut in half", "a directory"])
def test_a_damaged_outbox_is_quarantined_and_printing_never_waits(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till], damage: str
) -> None:
    path = tmp_path / "state" / "outbox.db"
    path.parent.mkdir()
    backlog(path, 600)
    if damage == "garbage":
        path.write_bytes(b"\x8b" * path.stat().st_size)
    elif damage == "cut in half":
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 2)
    else:
        path.unlink()
        (path / "something").mkdir(parents=True)
    till = Till(tmp_path, outbox=path, fake=fake)
    tills.append(till)
    assert till.start() < 5
    sell(till, range(1, 4))
    assert till.printed_unchanged()
    assert until(lambda: once_each(fake, range(1, 4)))

    # Moved aside (with its -wal/-shm), never deleted.
    (moved,) = (
        p for p in path.parent.iterdir() if re.fullmatch(r"outbox\.db\.damaged-[\d-]+", p.name)
    )
    assert service_of(till)["quarantined"][0]["moved_to"] == str(moved)
    recovered = service_of(till)["quarantined"][0]["recovered"]
    if damage == "cut in half":
        # What could still be read was copied over, and delivered like the rest.
        assert 0 < recovered < 600
        assert until(lambda: fake.event_count == recovered + 6)
    else:
        assert recovered == 0
    assert till.service is not None and till.service.healthy()


def service_of(till: Till) -> dict[str, Any]:
    assert till.service is not None
    return till.service.snapshot()["outbox"]


def test_a_read_only_state_directory_is_degraded_service_until_it_is_writable(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till], capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    mount_tmpfs(state)
    try:
        remount(state, "ro")
        till = Till(tmp_path, outbox=state / "outbox.db", fake=fake)
        tills.append(till)
        assert till.start() < 5
        mark = len(till.notices.got)
        sell(till, range(1, 3))
        assert till.printed_unchanged()
        assert until(lambda: service_of(till)["held_sales"] == 2)
        assert until(lambda: till.notices.pings_after(mark) >= 3), "the watchdog keeps pinging"
        assert any("outbox read-only" in s for s in till.notices.statuses())
        assert main(["--config", str(till.write_config()), "status"]) == 1
        out = capsys.readouterr().out
        assert "READ-ONLY" in out and "remount" in out and "DEGRADED (read-only)" in out
        assert "2 sales" in out
        assert fake.event_count == 0

        remount(state, "rw")  # the operator fixes the mount: nothing else is needed
        assert until(lambda: once_each(fake, range(1, 3)))
        assert service_of(till)["state"] == "ok"
    finally:
        shutil.rmtree(tmp_path / "run", ignore_errors=True)
        remount(state, "rw")
        subprocess.run(["umount", "-l", str(state)], check=False)


def test_a_full_disk_at_start_holds_sales_until_there_is_room(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till], disk: Path
) -> None:
    ballast = fill(disk)
    till = Till(tmp_path, outbox=disk / "outbox.db", fake=fake)
    tills.append(till)
    assert till.start() < 5
    sell(till, range(1, 6))
    assert till.printed_unchanged()
    assert until(lambda: service_of(till)["held_sales"] == 5)
    assert service_of(till)["problem"] == "full"
    assert "outbox full" in till.status() and "free some space" in till.status()
    assert till.service is not None and till.service.healthy()
    ballast.unlink()
    assert until(lambda: once_each(fake, range(1, 6)))
    assert service_of(till)["held_sales"] == 0


def test_doctor_tells_damaged_read_only_full_and_unwritable_apart(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged" / "outbox.db"
    damaged.parent.mkdir()
    damaged.write_bytes(b"not a database" * 500)
    found = check_outbox(damaged)
    assert found.status == "FAIL" and found.detail.startswith("damaged")
    assert "moves it aside" in found.detail

    # The agent's user cannot create files in a root-owned 0700 directory (root is exempt).
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o700)
    stranger = Identity("hellotext-agent", 64000, frozenset({64000}), False)
    found = check_outbox(empty / "outbox.db", stranger)
    assert (
        found.status == "FAIL" and found.detail.startswith("unwritable") and "chown" in found.detail
    )

    ro = tmp_path / "ro"
    mount_tmpfs(ro)
    try:
        backlog(ro / "outbox.db", 3)
        ballast = fill(ro)
        found = check_outbox(ro / "outbox.db")
        assert found.status == "FAIL" and found.detail.startswith("full") and "free" in found.detail
        ballast.unlink()
        remount(ro, "ro")
        found = check_outbox(ro / "outbox.db")
        assert found.status == "FAIL" and found.detail.startswith("read-only")
        assert "remount" in found.detail
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


def test_a_full_buffer_says_what_it_lost(
    tmp_path: Path,
    fake: FakeHellotext,
    tills: list[Till],
    disk: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """outbox.memory_buffer_events bounds what waits: past it a sale is logged (with its
    receipt number) and counted as lost (never silently), and printing goes on."""
    ballast = fill(disk)
    options = {"memory_buffer_events": 4}
    till = Till(tmp_path, outbox=disk / "outbox.db", fake=fake, outbox_options=options)
    tills.append(till)
    till.start()
    sell(till, range(1, 4))  # 2 events each: one sale does not fit
    assert till.printed_unchanged()
    assert until(lambda: service_of(till)["dropped_events"] == 2)
    assert service_of(till)["held_sales"] == 2
    # Each job is its own connection, so the sales may be read in any order: the one that
    # did not fit is the one the log names.
    lost = re.findall(r"a sale \(receipt 0001-0*(\d+)\) of 2 events is lost", caplog.text)
    assert len(lost) == 1, caplog.text[-2000:]
    kept = [n for n in range(1, 4) if n != int(lost[0])]
    ballast.unlink()
    assert until(lambda: payments(fake) == {f"0001-{n:08d}": 1 for n in kept}), payments(fake)
