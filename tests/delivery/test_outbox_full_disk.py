"""A full disk: a small real tmpfs holds the outbox. Nothing committed is lost, the failure
is a clear StorageFullError (and a clear CLI message), and writing resumes once space returns.

Mounting needs root (or CAP_SYS_ADMIN); elsewhere these tests skip and say so.
"""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.cli import main
from agent.delivery.events import Event, stable_event_id
from agent.delivery.outbox import Outbox
from agent.errors import StorageFullError

T0 = 1_800_000_000.0


def fill(path: Path, *, leave: int = 0) -> None:
    """Write `path` until the disk is full (or only about `leave` bytes are left)."""
    chunk = b"\0" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while not leave or os.statvfs(path.parent).f_bavail * 4096 > leave:
            os.write(fd, chunk)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def sale(n: int) -> list[Event]:
    at = datetime.fromtimestamp(T0, UTC)
    return [
        Event(
            id=stable_event_id("sale", str(n), str(i)),
            action="product.purchased",
            session="pos-caja-1",
            tracked_at=at,
            object_parameters={"name": "Yerba Canarias 1kg " * 8, "reference": str(i)},
        )
        for i in range(16)
    ]


def add_until_full(box: Outbox, start: int) -> tuple[list[str], int]:
    stored: list[str] = []
    for n in range(start, start + 1000):
        try:
            stored += box.add(sale(n), now=T0).added
        except StorageFullError as exc:
            assert "full" in str(exc) and "intact" in str(exc)
            return stored, n
    raise AssertionError("the disk never filled up")


def test_full_disk_loses_nothing_and_recovers(small_disk: Path) -> None:
    filler = small_disk / "filler"
    fill(filler, leave=192 * 1024)
    box = Outbox(small_disk / "outbox.db")
    try:
        stored, failed_sale = add_until_full(box, 0)
        assert len(stored) >= 16  # some sales made it before the disk filled up
        assert box.counts()["pending"] == len(stored)  # the failed sale left no half
        assert box.get(sale(failed_sale)[0].id) is None
        with Outbox(small_disk / "outbox.db") as reader:  # another connection sees it all
            assert reader.counts()["pending"] == len(stored)
            assert {r.id for r in reader.list(limit=10_000)} == set(stored)

        filler.unlink()  # space returns: the same object stores the refused sale
        again = box.add(sale(failed_sale), now=T0 + 1)
        assert len(again.added) == 16
        claimed = box.claim(limit=10_000, now=T0 + 2, lease_seconds=60)
        assert [r.id for r in claimed] == [*stored, *again.added]  # in order, nothing lost
    finally:
        box.close()


def test_track_on_a_full_disk_says_so_and_loses_nothing(
    small_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[outbox]\npath = "{small_disk / "outbox.db"}"\n', encoding="utf-8")
    track = ["--config", str(config), "track", "evento.asistio", "--meta", "note=" + "y" * 3000]
    daemon = Outbox(small_disk / "outbox.db")  # the daemon keeps it open while track runs
    try:
        assert main(track) == 0
        first = capsys.readouterr().out.strip()
        fill(small_disk / "filler")
        add_until_full(daemon, 0)  # no room left in the WAL either
        before = daemon.counts()

        assert main(track) == 1
        err = capsys.readouterr().err
        assert "is full" in err and "intact" in err and "free some space" in err
        assert daemon.counts() == before
    finally:
        daemon.close()

    # Without the daemon SQLite cannot even set up its WAL index: the same clear refusal.
    assert main(track) == 1
    assert "is full" in capsys.readouterr().err
    (small_disk / "filler").unlink()
    with Outbox(small_disk / "outbox.db") as box:
        assert box.counts() == before
        kept = box.get(first)
        # The event tracked before the disk filled up is still there, whole, waiting to be sent.
        assert kept is not None and kept.state == "pending"
        assert kept.event.action == "evento.asistio"
        assert kept.event.metadata["note"] == "y" * 3000
    assert main(track) == 0  # space is back
