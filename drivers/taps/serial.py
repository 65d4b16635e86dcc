"""The `serial`, `usb` and `sniff` taps.

serial / usb: we create a raw pty whose slave is the stable symlink `link`; the POS prints to
it as to the printer's port. Its bytes go to the real printer (a pyserial URL for `serial`,
a printer-class device node such as /dev/usb/lp0 for `usb`) and the printer's answers come
back. While the printer is unplugged the tap stops reading from the pty: the POS's writes
then block once the pty buffer fills, as with a printer that is offline, and everything
resumes when the device is back (reopened within 0.25 s of reappearing). One POS open ->
close of the pty is one job (`end` on close); the stream id is the tap's name.

While no process has the pty open, the master reports a hang-up at once on every poll, so
the tap checks for the POS coming back ten times a second (a timed wait, not a spin).

sniff: read-only from a port wired in parallel (Y-cable); nothing is ever written. The
stream ends when the port is lost or the tap stops.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import time

from drivers.errors import DeviceError
from drivers.taps.append import Appender, CutHold
from drivers.taps.base import TapBase, TapOptions, TapSink, TapStatus, log
from drivers.taps.serialport import (
    Device,
    PtyLink,
    RawDevice,
    ReopeningDevice,
    SerialDevice,
    SerialSettings,
)

_CHUNK = 4096
_TICK = 0.25  # how often blocked reads look at the stop flag / retry a missing device
_POS_GONE_WAIT = 0.1  # re-check for the POS reopening the pty this often


def settings_of(options: TapOptions) -> SerialSettings:
    return SerialSettings(
        baudrate=options.baudrate, bytesize=options.bytesize, parity=options.parity,
        stopbits=options.stopbits, rtscts=options.rtscts, xonxoff=options.xonxoff,
    )


class _Stopping(Exception):
    """The tap stopped while a write waited for the printer."""


class _DeviceTap(TapBase):
    """A tap whose printer side is a ReopeningDevice; status mirrors it."""

    device: ReopeningDevice

    def printer_connected(self) -> bool:
        return self.device.connected

    def probe(self) -> bool | None:
        """The device node's presence (None for a pyserial URL such as socket://): the tap
        holds the port open, so nothing else is opened here."""
        target = self.options.port if self.mode == "sniff" else self.options.target
        if not target.startswith("/"):
            return None
        return os.path.exists(target) and self.device.connected

    def status(self) -> TapStatus:
        self.reopens = self.device.reopens
        self.last_error = self.device.last_error
        return super().status()


class SerialTap(_DeviceTap):
    """serial and usb modes: POS <-> pty <-> printer device."""

    def __init__(
        self, options: TapOptions, sink: TapSink, *, appender: Appender | None = None
    ) -> None:
        super().__init__(options, sink, appender=appender)
        self.mode = options.mode
        if not options.link or not options.target:
            raise DeviceError(options.name, f"mode {options.mode} needs link and target")
        target, settings = options.target, settings_of(options)

        def opener() -> Device:
            if options.mode == "usb":
                return RawDevice(target)
            return SerialDevice(target, settings)

        self.device = ReopeningDevice(opener, label=f"{options.name}: printer {target}")
        self.pty: PtyLink | None = None

    def open(self) -> None:
        self.pty = PtyLink(self.options.link, mode=self.options.link_mode)
        os.set_blocking(self.pty.master, False)
        self.listening = True
        self.device.open()  # a printer absent at start is reported, not fatal
        self.spawn(self._from_pos, "pos")
        self.spawn(self._from_printer, "printer")

    def close(self, deadline: float) -> None:
        for thread in self._threads:  # they see the stop flag within a tick
            thread.join(max(0.0, deadline - time.monotonic()))
        if not any(t.is_alive() for t in self._threads):
            self.device.close()
            if self.pty is not None:
                self.pty.close()

    def _from_pos(self) -> None:
        assert self.pty is not None
        master = self.pty.master
        poller = select.poll()
        poller.register(master, select.POLLIN)
        poller.register(self.waker.fd, select.POLLIN)
        in_job = False
        hold: CutHold | None = None  # per job, with [printer.append]
        while not self.stopping.is_set():
            events = dict(poller.poll())
            if self.waker.fd in events:
                break
            chunk = b""
            if events.get(master, 0) & select.POLLIN:
                try:
                    chunk = os.read(master, _CHUNK)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
            if not chunk:  # EIO / hang-up: the POS closed the pty
                if in_job:
                    if hold is not None and not self._to_printer(b"", hold, finish=True):
                        break
                    self.feeder.end(self.name)
                    in_job = False
                self.waker.wait(_POS_GONE_WAIT)
                continue
            if not in_job:
                in_job = True
                hold = self.cut_hold(self.name)
                with self.lock:
                    self.jobs += 1
            if not self._to_printer(chunk, hold):
                break
            self.feeder.data(self.name, chunk)
        if in_job:
            self.feeder.end(self.name)

    def _to_printer(self, chunk: bytes, hold: CutHold | None, *, finish: bool = False) -> bool:
        """Write (through the cut hold, if any), waiting for an unplugged printer to come
        back; False if stopping."""
        try:
            if hold is None:
                self._write(chunk)
            elif finish:
                hold.finish(self._write)
            else:
                hold.forward(chunk, self._write)
        except _Stopping:
            return False
        return True

    def _write(self, data: bytes) -> None:
        """All of `data` to the printer; counted once written (an appended block too)."""
        while data and not self.device.write(data, _TICK):
            if self.stopping.is_set():
                raise _Stopping
        with self.lock:
            self.bytes_to_printer += len(data)

    def _from_printer(self) -> None:
        assert self.pty is not None
        while not self.stopping.is_set():
            chunk = self.device.read(_TICK)
            if not chunk:
                continue
            with self.lock:
                self.bytes_from_printer += len(chunk)
            if not self.pty.peer_open():
                continue  # no POS to read it; it would be stale for the next one
            with contextlib.suppress(OSError):  # a full or hung-up pty: the POS isn't reading
                os.write(self.pty.master, chunk)


class SniffTap(_DeviceTap):
    """sniff mode: read what the POS sends on a parallel-wired port; write nothing."""

    mode = "sniff"

    def __init__(self, options: TapOptions, sink: TapSink) -> None:
        super().__init__(options, sink)
        if not options.port:
            raise DeviceError(options.name, "mode sniff needs port")
        port, settings = options.port, settings_of(options)
        self.device = ReopeningDevice(
            lambda: SerialDevice(port, settings), label=f"{options.name}: sniffed port {port}"
        )

    def open(self) -> None:
        self.device.open()
        self.listening = True
        self.spawn(self._read, "sniff")

    def close(self, deadline: float) -> None:
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if not any(t.is_alive() for t in self._threads):
            self.device.close()

    def _read(self) -> None:
        in_job = False
        while not self.stopping.is_set():
            chunk = self.device.read(_TICK)
            if not chunk:
                if in_job and not self.device.connected:
                    log.info("%s: sniffed port lost; the current stream ends", self.name)
                    self.feeder.end(self.name)
                    in_job = False
                continue
            if not in_job:
                in_job = True
                with self.lock:
                    self.jobs += 1
            with self.lock:
                self.bytes_to_printer += len(chunk)
            self.feeder.data(self.name, chunk)
        if in_job:
            self.feeder.end(self.name)
