"""serial, usb and sniff taps on real ptys: unplug and replug, the POS coming and going."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from fake_printer import FakePtyPrinter, wait_until
from tap_rigs import RecordingSink

from drivers.taps import TapOptions, open_tap
from drivers.taps.serialport import PtyLink


def _errors(caplog: pytest.LogCaptureFixture, device: str) -> list[logging.LogRecord]:
    """This test's tap's errors about `device` (threads left by other tests log too)."""
    return [
        r for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("drivers.") and device in r.getMessage()
    ]


@pytest.mark.parametrize("mode", ["serial", "usb"])
def test_printer_unplugged_and_plugged_back_is_reopened_and_reported(
    mode: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakePtyPrinter(str(tmp_path / "printer")).plug()
    link = str(tmp_path / "run" / "ttyPOS")
    sink = RecordingSink()
    tap = open_tap(TapOptions("caja", mode, link=link, target=fake.link), sink)
    tap.start()
    pos = os.open(link, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(pos, b"before\n")
        assert wait_until(lambda: fake.received() == b"before\n")

        fake.unplug()
        assert wait_until(lambda: not tap.status().printer_connected)
        os.write(pos, b"while unplugged\n")  # held in the pty, as by an offline printer
        # Not a margin (nothing has to happen in it): time for several reopen attempts to fail.
        time.sleep(0.8)
        status = tap.status()
        assert status.last_error and not status.printer_connected and tap.alive()
        outage = _errors(caplog, fake.link)
        assert len(outage) == 1, "the outage must be logged once, not per retry"

        plugged = time.monotonic()
        fake.plug()
        assert wait_until(lambda: tap.status().printer_connected)
        assert time.monotonic() - plugged < 2.0  # the promise: back within 2 s of the replug
        assert wait_until(lambda: fake.received() == b"before\nwhile unplugged\n")
        assert _errors(caplog, fake.link) == outage, "coming back is not an error"
        os.write(pos, b"\x10\x04\x01")  # the new device answers the POS too
        assert os.read(pos, 1) == b"\x16"
        status = tap.status()
        assert status.reopens == 1 and status.last_error is not None
    finally:
        os.close(pos)
        tap.stop(2)
        fake.unplug()
    assert sink.received() == b"before\nwhile unplugged\n\x10\x04\x01"


def test_pos_closing_and_reopening_the_pty_makes_jobs(tmp_path: Path) -> None:
    fake = FakePtyPrinter(str(tmp_path / "printer")).plug()
    link = str(tmp_path / "ttyPOS")
    sink = RecordingSink()
    tap = open_tap(TapOptions("caja", "serial", link=link, target=fake.link), sink)
    tap.start()
    try:
        for n in range(1, 4):
            fd = os.open(link, os.O_WRONLY | os.O_NOCTTY)
            os.write(fd, f"receipt {n}\n".encode())
            assert wait_until(lambda n=n: fake.received().endswith(f"receipt {n}\n".encode()))
            os.close(fd)
            assert wait_until(lambda n=n: sink.ends() == n)
        assert [data for _, data in sink.jobs()] == [b"receipt 1\n", b"receipt 2\n", b"receipt 3\n"]
        assert tap.status().jobs == 3
    finally:
        tap.stop(2)
        fake.unplug()


def test_a_stale_link_from_a_crash_is_replaced(tmp_path: Path) -> None:
    link = tmp_path / "run" / "ttyPOS"
    link.parent.mkdir()
    link.symlink_to("/dev/pts/does-not-exist")
    fake = FakePtyPrinter(str(tmp_path / "printer")).plug()
    tap = open_tap(TapOptions("caja", "serial", link=str(link), target=fake.link), RecordingSink())
    tap.start()
    try:
        fd = os.open(link, os.O_WRONLY | os.O_NOCTTY)
        os.write(fd, b"ok")
        os.close(fd)
        assert wait_until(lambda: fake.received() == b"ok")
    finally:
        tap.stop(2)
        fake.unplug()
    assert not link.exists(), "stop() removes the link it made"


def test_sniffed_port_unplugged_ends_the_stream_and_comes_back(tmp_path: Path) -> None:
    wire = PtyLink(str(tmp_path / "wire"))
    sink = RecordingSink()
    tap = open_tap(TapOptions("caja", "sniff", port=wire.link), sink)
    tap.start()
    try:
        os.write(wire.master, b"one")
        assert wait_until(lambda: sink.received() == b"one")
        wire.close()
        assert wait_until(lambda: sink.ends() == 1)
        assert not tap.status().printer_connected
        wire = PtyLink(wire.link)
        assert wait_until(lambda: tap.status().printer_connected)
        os.write(wire.master, b"two")
        assert wait_until(lambda: sink.received() == b"onetwo")
        assert tap.status().reopens == 1 and tap.status().jobs == 2
    finally:
        tap.stop(2)
        wire.close()
    assert [data for _, data in sink.jobs()] == [b"one", b"two"]
