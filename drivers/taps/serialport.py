"""Serial ports, raw device nodes and pseudo-terminals, with reopen-on-unplug.

Shared by the printer taps and the serial scanner. Three pieces:

- `SerialSettings` + `open_serial(url, settings)`: a pyserial port from a URL or device path
  (`/dev/ttyUSB0`, `loop://`, `socket://host:port`, a pty slave path in tests).
- `Device` (protocol) with two implementations, `SerialDevice` (pyserial) and `RawDevice`
  (a plain device node such as `/dev/usb/lp0`), and `ReopeningDevice`, which wraps a factory
  of either and survives the device being unplugged and plugged back: reads never raise, the
  outage is logged once, the device is reopened every `retry` seconds until it is back.
- `PtyLink`: a raw-mode pseudo-terminal whose slave is reachable through a stable symlink
  (e.g. `/run/hellotext-agent/ttyPOS`), for the POS to open as if it were the printer port.

Lower-level errors (OSError, serial.SerialException) are translated to `DeviceError` here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import serial

from drivers.errors import DeviceError

log = logging.getLogger("drivers.serialport")

_READ_SIZE = 4096


@dataclass(frozen=True, kw_only=True)
class SerialSettings:
    """Line settings, named as in the `[[printer]]` / `[[scanner]]` config tables."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    rtscts: bool = False
    xonxoff: bool = False


def open_serial(
    url: str, settings: SerialSettings | None = None, *, timeout: float | None = 0.2
) -> serial.Serial:
    """Open `url` (a device path or any pyserial URL) with `settings`; raise DeviceError."""
    s = settings or SerialSettings()
    try:
        port: serial.Serial = serial.serial_for_url(
            url,
            baudrate=s.baudrate,
            bytesize=s.bytesize,
            parity=s.parity,
            stopbits=s.stopbits,
            rtscts=s.rtscts,
            xonxoff=s.xonxoff,
            timeout=timeout,
            write_timeout=1.0,
        )
    except (OSError, ValueError, serial.SerialException) as exc:
        raise DeviceError(url, str(exc)) from exc
    # Every URL handler (posix, loop://, socket://, spy://) has Serial's interface.
    return port


class Device(Protocol):
    """An open byte device. `read` returns b"" on timeout and raises DeviceError on loss."""

    def read(self, timeout: float) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class SerialDevice:
    """A pyserial port as a `Device`."""

    def __init__(self, url: str, settings: SerialSettings | None = None) -> None:
        self.url = url
        self._port = open_serial(url, settings, timeout=0.2)

    def read(self, timeout: float) -> bytes:
        try:
            # Block for the first byte (up to `timeout`), then take whatever else is waiting.
            if self._port.timeout != timeout:  # the setter reconfigures the port: only on change
                self._port.timeout = timeout
            first = self._port.read(1)
            if not first:
                return b""
            waiting = self._port.in_waiting
            return first + (self._port.read(min(waiting, _READ_SIZE)) if waiting else b"")
        except (OSError, serial.SerialException, TypeError) as exc:
            # pyserial raises TypeError when the port was closed under a blocked read.
            raise DeviceError(self.url, str(exc) or type(exc).__name__) from exc

    def write(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                n = self._port.write(view)
                view = view[n or 0 :]
        except (OSError, serial.SerialException) as exc:
            raise DeviceError(self.url, str(exc)) from exc

    def close(self) -> None:
        with contextlib.suppress(OSError, serial.SerialException):
            self._port.close()


class RawDevice:
    """A device node opened with os.open (printer class `/dev/usb/lp0`, or a pty in tests).

    Non-blocking: reads wait with poll; the printer's answers are read when it gives them.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise DeviceError(path, exc.strerror or str(exc)) from exc
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)

    def read(self, timeout: float) -> bytes:
        try:
            events = self._poll.poll(timeout * 1000)
            if not events:
                return b""
            data = os.read(self._fd, _READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise DeviceError(self.path, exc.strerror or str(exc)) from exc
        if not data:  # hung up: the device went away
            raise DeviceError(self.path, "device hung up")
        return data

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        out = select.poll()
        out.register(self._fd, select.POLLOUT)
        try:
            while view:
                try:
                    view = view[os.write(self._fd, view) :]
                except BlockingIOError:
                    if not out.poll(1000):
                        raise DeviceError(self.path, "write timed out") from None
        except OSError as exc:
            raise DeviceError(self.path, exc.strerror or str(exc)) from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class ReopeningDevice:
    """A `Device` that is reopened after it disappears (unplug) and reappears (replug).

    `read` and `write` never raise DeviceError: on loss the device is closed, the error is
    logged once (not per retry), `connected` turns False and `last_error` says why; reads
    then retry opening every `retry` seconds (waiting, not spinning) and `reopens` counts
    each return after an outage. Safe for one reader thread and one writer thread at a time.
    """

    def __init__(
        self, opener: Callable[[], Device], *, label: str, retry: float = 0.25
    ) -> None:
        self._opener = opener
        self.label = label
        self.retry = retry
        self.reopens = 0
        self.last_error: str | None = None
        self._device: Device | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self._next_try = 0.0
        self._outage_logged = False

    @property
    def connected(self) -> bool:
        return self._device is not None

    def open(self) -> bool:
        """Try to open now (if not open); return whether the device is open."""
        with self._lock:
            return self._open_locked()

    def _open_locked(self) -> bool:
        if self._device is not None or self._closed:
            return self._device is not None
        try:
            self._device = self._opener()
        except DeviceError as exc:
            self._lost_locked(str(exc))
            self._next_try = time.monotonic() + self.retry
            return False
        if self._outage_logged:  # back after a reported outage (unplugged, or absent at start)
            self.reopens += 1
            log.info("%s: device is back (reopen #%d)", self.label, self.reopens)
        self._outage_logged = False  # last_error stays: status shows what happened last
        self._changed.notify_all()
        return True

    def _lost_locked(self, reason: str) -> None:
        # Log once per outage, not once per retry.
        if not self._outage_logged:
            log.error("%s: %s (retrying every %.2fs)", self.label, reason, self.retry)
            self._outage_logged = True
        self.last_error = reason

    def _drop(self, device: Device, reason: str) -> None:
        with self._lock:
            if self._device is device:
                device.close()
                self._device = None
                self._lost_locked(reason)
                self._next_try = time.monotonic() + self.retry

    def wait_connected(self, timeout: float) -> bool:
        """Wait up to `timeout` for the device to be open, trying to open it meanwhile."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                if self._device is None and now >= self._next_try:
                    self._open_locked()
                if self._device is not None or now >= deadline:
                    break
                wake = min(deadline, self._next_try if self._device is None else deadline)
                self._changed.wait(max(0.0, wake - now))
            return self._device is not None

    def read(self, timeout: float) -> bytes:
        """Bytes from the device, or b"" after up to `timeout` (also while it is away)."""
        if not self.wait_connected(timeout):
            return b""
        device = self._device
        if device is None:
            return b""
        try:
            return device.read(timeout)
        except DeviceError as exc:
            self._drop(device, exc.reason)
            return b""

    def write(self, data: bytes, timeout: float) -> bool:
        """Write all of `data`; False if the device was away (or went away) within `timeout`."""
        if not self.wait_connected(timeout):
            return False
        device = self._device
        if device is None:
            return False
        try:
            device.write(data)
            return True
        except DeviceError as exc:
            self._drop(device, exc.reason)
            return False

    def close(self) -> None:
        """Close for good; blocked waiters return at once."""
        with self._lock:
            self._closed = True
            if self._device is not None:
                self._device.close()
                self._device = None
            self._changed.notify_all()


def make_raw(fd: int) -> None:
    """Put a tty in raw mode: no echo, no CR/LF translation, 8-bit clean."""
    tty.setraw(fd)


class PtyLink:
    """A raw pseudo-terminal; its slave is reachable at the stable symlink `link`.

    The parent directory is created; a stale link (or leftover file) at `link` is replaced.
    `master` is the fd this process reads and writes. The slave fd is not kept open, so a
    read on `master` fails with EIO (and poll reports POLLHUP) while no one has the link
    open: `peer_open()` tells whether someone does, without blocking.
    """

    def __init__(self, link: str, *, mode: int = 0o666) -> None:
        self.link = link
        try:
            self.master, slave = os.openpty()
        except OSError as exc:
            raise DeviceError(link, f"cannot create a pty: {exc}") from exc
        try:
            make_raw(slave)
            # The POS (another user, as a rule) must be able to open it; the pty is ours.
            os.fchmod(slave, mode)
            self.slave_name = os.ttyname(slave)
        finally:
            os.close(slave)
        try:
            parent = os.path.dirname(link)
            if parent:
                os.makedirs(parent, exist_ok=True)
            tmp = f"{link}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.slave_name, tmp)
            os.replace(tmp, link)  # atomic: the POS never sees a missing link
        except OSError as exc:
            os.close(self.master)
            raise DeviceError(link, f"cannot create the link: {exc}") from exc

    def peer_open(self) -> bool:
        """Whether some process has the slave open (no POLLHUP on the master)."""
        p = select.poll()
        p.register(self.master, select.POLLIN)
        return not any(ev & select.POLLHUP for _, ev in p.poll(0))

    def close(self, *, unlink: bool = True) -> None:
        """Close the master (the slave's users see a hang-up) and remove our link."""
        with contextlib.suppress(OSError):
            os.close(self.master)
        if unlink:
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == self.slave_name:
                    os.unlink(self.link)
