"""Serial barcode scanners: a pyserial URL (or device path) read by a thread that reopens
the port after an unplug and hands each framed Scan to `on_scan`. The framing and the thread's
lifecycle live in drivers.scanners.base, shared with the HID scanner."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import serial

from drivers.scanners.base import Scan, ScanFramer, ScannerThread


class SerialScanner(ScannerThread):
    """A serial scanner on a pyserial URL or device path; reopened after an unplug."""

    mode = "serial"
    retry = 0.25  # seconds between reopen attempts: back well within 2 s of a replug
    read_timeout = 0.1  # bounds how long stop() waits for the reader

    def __init__(
        self,
        *,
        name: str,
        port: str,
        baudrate: int = 9600,
        terminator: str = "cr",
        prefix: str = "",
        max_length: int = 512,
        on_scan: Callable[[Scan], None],
    ) -> None:
        super().__init__(name=name, on_scan=on_scan)
        self.port = port
        self.baudrate = baudrate
        self.framer = ScanFramer(
            terminator=terminator, prefix=prefix, max_length=max_length, source=name
        )
        self._serial: serial.SerialBase | None = None

    def _drop_counts(self) -> tuple[int, int]:
        return self.framer.overlong, self.framer.garbage

    def _run(self) -> None:
        while not self._stopping.is_set():
            port = self._open()
            if port is None:
                self._stopping.wait(self.retry)
                continue
            try:
                self._read(port)
            except (OSError, serial.SerialException, TypeError) as exc:
                # pyserial raises TypeError when the fd is closed under a read (stop()).
                self.framer.discard()
                if not self._stopping.is_set():
                    self._lost(str(exc) or type(exc).__name__)
            finally:
                self._close()
        self._deliver(self.framer.flush(now=time.time()))

    def _open(self) -> serial.SerialBase | None:
        try:
            port = serial.serial_for_url(
                self.port, baudrate=self.baudrate, timeout=self.read_timeout
            )
        except (OSError, ValueError, serial.SerialException) as exc:
            self._lost(str(exc))
            return None
        self._serial = port
        self._opened()
        return port

    def _read(self, port: serial.SerialBase) -> None:
        while not self._stopping.is_set():
            first = port.read(1)
            if not first:
                continue
            waiting: int = port.in_waiting  # type: ignore[attr-defined]  # stubs lack it
            chunk = first + (port.read(min(waiting, 4096)) if waiting else b"")
            self._deliver(self.framer.feed(chunk, now=time.time()))

    def _close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                port.close()
