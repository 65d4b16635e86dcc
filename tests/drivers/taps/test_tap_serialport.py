"""drivers/serialport: URLs, stable pty links, and devices that come and go."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from drivers.errors import DeviceError
from drivers.taps.serialport import PtyLink, RawDevice, ReopeningDevice, SerialDevice, open_serial


def test_pyserial_urls_open_and_bad_ones_raise_device_error() -> None:
    loop = SerialDevice("loop://")
    loop.write(b"ping")
    assert loop.read(0.5) == b"ping"
    loop.close()
    with pytest.raises(DeviceError, match="/dev/nonexistent-tty"):
        open_serial("/dev/nonexistent-tty")


def test_pty_link_replaces_leftovers_and_removes_only_its_own(tmp_path: Path) -> None:
    link = tmp_path / "run" / "hellotext-agent" / "ttyPOS"
    link.parent.mkdir(parents=True)
    link.write_text("left by a crash")
    first = PtyLink(str(link))
    assert os.readlink(link) == first.slave_name and not first.peer_open()
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
    assert first.peer_open()
    os.write(fd, b"\n\x00\xff")  # raw: no CR/LF translation
    assert os.read(first.master, 10) == b"\n\x00\xff"
    os.close(fd)
    second = PtyLink(str(link))  # someone else took the name
    first.close()
    assert os.readlink(link) == second.slave_name
    second.close()
    assert not link.exists()


def test_a_device_absent_at_start_is_picked_up_when_it_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "lp0")
    dev = ReopeningDevice(lambda: RawDevice(path), label="printer lp0", retry=0.05)
    assert dev.read(0.2) == b"" and not dev.connected
    assert not dev.write(b"x", 0.1)
    assert dev.last_error and "No such file" in dev.last_error
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    pty = PtyLink(path)
    try:
        assert dev.write(b"hello", 1.0)
        assert os.read(pty.master, 10) == b"hello"
        assert dev.connected and dev.reopens == 1
    finally:
        dev.close()
        pty.close()


def test_pty_link_is_openable_by_the_pos_user(tmp_path: Path) -> None:
    """The POS software runs as another user than the agent: the link's mode says who may
    open it (0666 unless the installer narrows it)."""
    wide = PtyLink(str(tmp_path / "ttyPOS"))
    narrow = PtyLink(str(tmp_path / "ttyPOS2"), mode=0o660)
    try:
        assert os.stat(tmp_path / "ttyPOS").st_mode & 0o777 == 0o666
        assert os.stat(tmp_path / "ttyPOS2").st_mode & 0o777 == 0o660
    finally:
        wide.close()
        narrow.close()
