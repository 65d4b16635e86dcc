"""One contract, two scanners: the serial scanner on a real pty, the HID scanner on replayed
evdev events.

The HID side uses `FakeInputDevice`, a stand-in for evdev.InputDevice: /dev/uinput does not
exist on the machines these tests run on and no real keyboard may be grabbed, so no real
input device can be used here. The fake is a real pipe (select works on it as on an evdev
fd) carrying event tuples produced by drivers.scanners.keymaps.encode; `read()` raises ENODEV
after an unplug, as evdev does. tests/drivers/scanners/test_hid.py runs the same scanner on
uinput where it exists.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from fake_printer import wait_until

from drivers.scanners.base import Scan, ScannerThread
from drivers.scanners.hid import HidScanner
from drivers.scanners.keymaps import EV_KEY, encode
from drivers.scanners.serial import SerialScanner

MAX = 32
KEY_F1 = 59


class Collector:
    def __init__(self) -> None:
        self.scans: list[Scan] = []
        self.threads: set[int] = set()  # who called: the scanner's own thread
        self.fail_first = False
        self._lock = threading.Lock()

    def __call__(self, scan: Scan) -> None:
        with self._lock:
            self.scans.append(scan)
            self.threads.add(threading.get_ident())
            if self.fail_first and len(self.scans) == 1:
                raise RuntimeError("consumer bug")

    def wait(self, n: int) -> list[Scan]:
        wait_until(lambda: len(self.scans) >= n)
        return list(self.scans)


def mine(caplog: pytest.LogCaptureFixture, got: Collector) -> list[str]:
    """What this test's scanner logged (its thread is the one that delivered the scans):
    threads other tests left behind log to the same process."""
    assert got.threads, "no scan arrived: the scanner thread is unknown"
    return [
        r.getMessage() for r in caplog.records
        if r.name == "drivers.scanner" and r.thread in got.threads
    ]


class Rig(Protocol):
    """How the contract drives one kind of scanner."""

    def make(self, on_scan: Callable[[Scan], None]) -> ScannerThread: ...
    def send(self, text: str) -> None: ...  # one scan, terminator included
    def send_garbage(self) -> None: ...
    def unplug(self) -> None: ...
    def plug(self) -> None: ...
    def close(self) -> None: ...


class SerialRig:
    def __init__(self, tmp: Path) -> None:
        self.link = tmp / "ttyScanner"
        self.master: int | None = None
        self.plug()

    def make(self, on_scan: Callable[[Scan], None]) -> ScannerThread:
        return SerialScanner(name="caja", port=str(self.link), max_length=MAX, on_scan=on_scan)

    def send(self, text: str) -> None:
        assert self.master is not None
        os.write(self.master, text.encode() + b"\r")

    def send_garbage(self) -> None:
        assert self.master is not None
        os.write(self.master, b"\x00\x91\xfe\x1b[2J\r")

    def unplug(self) -> None:
        self.close()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)
        self.link.unlink(missing_ok=True)
        self.link.symlink_to(name)

    def close(self) -> None:
        if self.master is not None:
            os.close(self.master)
            self.master = None
        self.link.unlink(missing_ok=True)


@dataclass
class FakeEvent:
    type: int
    code: int
    value: int
    sec: float

    def timestamp(self) -> float:
        return self.sec


class FakeInputDevice:
    """The evdev.InputDevice methods HidScanner uses, over a pipe (see module docstring)."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        self._pending: list[FakeEvent] = []
        self._lock = threading.Lock()
        self.gone = False
        self.grabbed = False
        self.closed = False

    def push(self, events: Iterable[tuple[int, int, int]]) -> None:
        now = time.time()
        with self._lock:
            self._pending += [FakeEvent(t, c, v, now) for t, c, v in events]
        os.write(self._w, b"!")

    def unplug(self) -> None:
        self.gone = True
        os.write(self._w, b"!")

    def fileno(self) -> int:
        return self._r

    def read(self) -> Iterator[FakeEvent]:
        os.read(self._r, 4096)
        if self.gone:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
        with self._lock:
            events, self._pending = self._pending, []
        return iter(events)

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.closed = True
        for fd in (self._r, self._w):
            os.close(fd)


class HidRig:
    def __init__(self, layout: str = "latam") -> None:
        self.layout = layout
        self.present = True
        self.devices: list[FakeInputDevice] = []

    def open(self, path: str) -> FakeInputDevice:
        if not self.present:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        self.devices.append(FakeInputDevice())
        return self.devices[-1]

    def make(self, on_scan: Callable[[Scan], None]) -> ScannerThread:
        return HidScanner(
            name="caja",
            device="/dev/input/by-id/usb-scanner-event-kbd",
            layout=self.layout,
            max_length=MAX,
            on_scan=on_scan,
            opener=self.open,
        )

    def send(self, text: str) -> None:
        self.devices[-1].push(encode(text, self.layout))

    def send_garbage(self) -> None:
        keys = [(EV_KEY, KEY_F1, 1), (EV_KEY, KEY_F1, 0)]
        self.devices[-1].push(keys + encode("abc", self.layout))

    def unplug(self) -> None:
        self.present = False
        if self.devices:
            self.devices[-1].unplug()

    def plug(self) -> None:
        self.present = True

    def close(self) -> None:
        pass


@pytest.fixture(params=["serial", "hid"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    r: Rig = SerialRig(tmp_path) if request.param == "serial" else HidRig()
    yield r
    r.close()


Running = tuple[ScannerThread, Collector]


@pytest.fixture
def running(rig: Rig) -> Iterator[Running]:
    got = Collector()
    scanner = rig.make(got)
    scanner.start()
    assert wait_until(lambda: scanner.status().connected), scanner.status()
    yield scanner, got
    scanner.stop()


def test_scans_arrive_in_order_with_symbology_and_time(running: Running, rig: Rig) -> None:
    scanner, got = running
    before = time.time()
    for text in ["]E07790001000019", "]Q1https://h.uy/?hello_session=a-1", "SKU_9"]:
        rig.send(text)
    scans = got.wait(3)
    after = time.time()
    assert [(s.code, s.symbology, s.aim) for s in scans] == [
        ("7790001000019", "EAN13", "]E0"),
        ("https://h.uy/?hello_session=a-1", "QR", "]Q1"),
        ("SKU_9", None, None),
    ]
    assert all(before <= s.at <= after for s in scans)
    assert scans == sorted(scans, key=lambda s: s.at)
    assert {s.source for s in scans} == {"caja"}
    status = scanner.status()
    assert (status.name, status.scans, status.errors, status.reopens) == ("caja", 3, 0, 0)
    assert status.mode in ("serial", "hid") and status.last_error is None


def test_garbage_and_overlong_are_counted_logged_once_and_survived(
    running: Running, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    scanner, got = running
    caplog.set_level(logging.WARNING, logger="drivers.scanner")
    for _ in range(3):
        rig.send_garbage()
        rig.send("9" * (MAX + 1))
    rig.send("7790001000019")
    assert [s.code for s in got.wait(1)] == ["7790001000019"]
    status = scanner.status()
    assert (status.garbage, status.overlong, status.scans) == (3, 3, 1)
    # The drops are logged just after the scans of the same read are handed over: wait for
    # both lines, then check each came once.
    assert wait_until(
        lambda: all(any(kind in m for m in mine(caplog, got)) for kind in ("garbage", "over-long"))
    ), mine(caplog, got)
    messages = mine(caplog, got)
    assert sum("garbage" in m for m in messages) == 1
    assert sum("over-long" in m for m in messages) == 1


def test_stop_is_prompt_and_final(running: Running, rig: Rig) -> None:
    scanner, got = running
    assert scanner.alive()
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 0.5
    assert not scanner.alive()
    assert not scanner.status().connected


def test_replug_is_reopened_within_2s_and_logged_once(
    running: Running, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    scanner, got = running
    caplog.set_level(logging.INFO, logger="drivers.scanner")
    rig.unplug()
    assert wait_until(lambda: not scanner.status().connected)
    time.sleep(0.6)  # a few failed reopen attempts while it is away
    down = scanner.status()
    assert down.errors == 1 and down.last_error
    rig.plug()
    replugged = time.monotonic()
    assert wait_until(lambda: scanner.status().connected)
    assert time.monotonic() - replugged < 2.0  # the promise: back within 2 s of the replug
    rig.send("AFTER-1")
    assert [s.code for s in got.wait(1)] == ["AFTER-1"]
    status = scanner.status()
    assert (status.reopens, status.errors, status.scans) == (1, 1, 1)
    assert wait_until(lambda: any("reopened" in m for m in mine(caplog, got)))
    messages = mine(caplog, got)
    lost = [m for m in messages if "retrying" in m]
    back = [m for m in messages if "reopened" in m]
    assert (len(lost), len(back)) == (1, 1)


def test_a_failing_consumer_does_not_stop_the_scanner(running: Running, rig: Rig) -> None:
    scanner, got = running
    got.fail_first = True
    rig.send("FIRST")
    rig.send("SECOND")
    assert [s.code for s in got.wait(2)] == ["FIRST", "SECOND"]
    assert scanner.status().errors == 1 and scanner.alive()


def test_a_device_missing_at_start_is_opened_when_it_appears(rig: Rig) -> None:
    rig.unplug()
    got = Collector()
    scanner = rig.make(got)
    scanner.start()
    try:
        assert wait_until(lambda: scanner.status().last_error is not None)
        assert not scanner.status().connected and scanner.alive()
        rig.plug()
        assert wait_until(lambda: scanner.status().connected)
        rig.send("LATE")
        assert [s.code for s in got.wait(1)] == ["LATE"]
    finally:
        scanner.stop()


def test_hid_device_is_grabbed_while_running_and_released_on_stop() -> None:
    rig = HidRig(layout="es")
    scanner = rig.make(Collector())
    scanner.start()
    assert wait_until(lambda: scanner.status().connected)
    device = rig.devices[-1]
    assert device.grabbed
    scanner.stop()
    assert not device.grabbed and device.closed
