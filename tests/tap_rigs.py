"""One rig per tap mode for the contract suite: a started tap, its fake POS and printer.

A rig knows how the POS sends one finished job in its mode (a TCP connection, an open ->
write -> close of the pty, a spool file, a FIFO writer, bytes on a sniffed wire) and what
the printer received (None for the read-only modes).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fake_printer import FakePtyPrinter, FakeTcpPrinter, wait_until

from drivers.taps import Tap, TapOptions, open_tap
from drivers.taps.files import SpoolTap
from drivers.taps.serialport import PtyLink
from drivers.taps.tcp import TcpTap

MODES = ["tcp", "serial", "usb", "spool-dir", "spool-fifo", "sniff"]


class RecordingSink:
    """A parser stand-in: records calls; can be told to raise or to be slow."""

    def __init__(self, *, fail: bool = False, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.events: list[tuple[str, str, bytes]] = []
        self._lock = threading.Lock()

    def data(self, stream: str, chunk: bytes) -> None:
        if self.delay:
            threading.Event().wait(self.delay)
        if self.fail:
            raise ValueError("parser exploded")
        with self._lock:
            self.events.append(("data", stream, chunk))

    def end(self, stream: str) -> None:
        with self._lock:
            self.events.append(("end", stream, b""))

    def ends(self) -> int:
        with self._lock:
            return sum(1 for kind, _, _ in self.events if kind == "end")

    def received(self) -> bytes:
        with self._lock:
            return b"".join(c for kind, _, c in self.events if kind == "data")

    def jobs(self) -> list[tuple[str, bytes]]:
        """(stream, bytes) per `end`, in order; data after the last end is left out."""
        open_: dict[str, bytearray] = {}
        done: list[tuple[str, bytes]] = []
        with self._lock:
            for kind, stream, chunk in self.events:
                if kind == "data":
                    open_.setdefault(stream, bytearray()).extend(chunk)
                else:
                    done.append((stream, bytes(open_.pop(stream, b""))))
        return done


@dataclass
class Rig:
    mode: str
    tap: Tap
    sink: RecordingSink
    send_job: Callable[[bytes], None]
    printer: Callable[[], bytes] | None  # None: read-only mode, nothing is forwarded
    ends_per_job: bool = True  # sniff has no job boundaries: its stream ends on stop
    hold_pos: Callable[[], contextlib.AbstractContextManager[object]] | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)


def _tcp_job(tap: TcpTap) -> Callable[[bytes], None]:
    def send(data: bytes) -> None:
        with socket.create_connection(tap.address, timeout=5) as pos:
            pos.sendall(data)
    return send


def _pty_job(link: str) -> Callable[[bytes], None]:
    def send(data: bytes) -> None:
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            # Wait until the tap has read it all before closing, as a POS does (tcdrain).
            wait_until(lambda: _pending(fd) == 0)
        finally:
            os.close(fd)
    return send


def _pending(fd: int) -> int:
    import fcntl
    import termios
    buf = fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0")
    return int.from_bytes(buf, "little")


@contextlib.contextmanager
def _holding_tcp(tap: TcpTap) -> Iterator[object]:
    with socket.create_connection(tap.address, timeout=5) as pos:
        pos.sendall(b"held")
        yield pos


@contextlib.contextmanager
def _holding_pty(link: str) -> Iterator[object]:
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, b"held")
        yield fd
    finally:
        os.close(fd)


def build(mode: str, tmp: Path, sink: RecordingSink) -> Rig:
    rig: Rig
    if mode == "tcp":
        fake = FakeTcpPrinter().start()
        tap = TcpTap(TapOptions("caja", "tcp", listen="127.0.0.1:0", target=fake.target), sink)
        tap.start()
        rig = Rig(mode, tap, sink, _tcp_job(tap), fake.received,
                  hold_pos=lambda: _holding_tcp(tap))
        rig.cleanups.append(fake.stop)
    elif mode in ("serial", "usb"):
        fake_pty = FakePtyPrinter(str(tmp / "printer")).plug()
        link = str(tmp / "run" / "ttyPOS")
        options = TapOptions("caja", mode, link=link, target=fake_pty.link, baudrate=115200)
        tap = open_tap(options, sink)
        tap.start()
        rig = Rig(mode, tap, sink, _pty_job(link), fake_pty.received,
                  hold_pos=lambda: _holding_pty(link))
        rig.cleanups.append(fake_pty.unplug)
    elif mode == "spool-dir":
        spool = tmp / "spool"
        spool.mkdir()
        counter = iter(range(1, 1000))

        def write_file(data: bytes) -> None:
            (spool / f"job{next(counter)}.prn").write_bytes(data)

        tap = SpoolTap(TapOptions("caja", "spool", path=str(spool)), sink,
                       settle=0.15, scan_interval=0.05)
        tap.start()
        rig = Rig(mode, tap, sink, write_file, None)
    elif mode == "spool-fifo":
        fifo = tmp / "pos.fifo"
        os.mkfifo(fifo)

        def write_fifo(data: bytes) -> None:
            with open(fifo, "wb") as writer:
                writer.write(data)

        tap = open_tap(TapOptions("caja", "spool", path=str(fifo)), sink)
        tap.start()
        rig = Rig(mode, tap, sink, write_fifo, None)
    elif mode == "sniff":
        wire = PtyLink(str(tmp / "wire"))

        def on_the_wire(data: bytes) -> None:
            os.write(wire.master, data)

        tap = open_tap(TapOptions("caja", "sniff", port=wire.link, baudrate=115200), sink)
        tap.start()
        rig = Rig(mode, tap, sink, on_the_wire, None, ends_per_job=False)

        def nothing_written_then_close() -> None:
            p = select.poll()
            p.register(wire.master, select.POLLIN)
            readable = [ev for _, ev in p.poll(0) if ev & select.POLLIN]
            wire.close()
            assert not readable, "the sniff tap wrote to the wire"

        rig.cleanups.append(nothing_written_then_close)
    else:
        raise AssertionError(mode)
    return rig


def teardown(rig: Rig) -> None:
    rig.tap.stop(2)
    for cleanup in rig.cleanups:
        cleanup()
