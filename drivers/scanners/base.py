"""Barcode scanners that speak serial: a pure frame splitter and a reopening reader thread.

    bytes ──ScanFramer.feed(chunk, now=)──▶ [Scan(code, symbology, at, source, aim)]

A scan frame is `[prefix] [AIM id] code terminator`. The AIM symbology identifier (`]` + code
character + modifier, e.g. `]E0`) is stripped from the code and kept, with a readable
symbology name. Garbage (bytes that are not printable text: line noise, a wrong baud rate)
and over-long frames are dropped and counted, never raised; memory stays bounded by
`max_length`. `SerialScanner` owns the IO: it opens a pyserial URL, reads, reopens the port
after an unplug, and hands each Scan to `on_scan`. `ScannerThread` (the lifecycle and
counters) is shared with the keyboard-wedge scanner in drivers/scanners/hid.py.
"""

from __future__ import annotations

import abc
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("drivers.scanner")

# AIM code character (+ modifier, when it changes the meaning) -> symbology name.
_AIM_NAMES: dict[str, str] = {
    "A": "CODE39",
    "C": "CODE128",
    "C1": "GS1-128",
    "d": "DATAMATRIX",
    "d2": "GS1-DATAMATRIX",
    "E": "EAN13",  # ]E0 is EAN-13, UPC-A and UPC-E sent as 13 digits
    "E4": "EAN8",
    "e": "GS1-DATABAR",
    "F": "CODABAR",
    "G": "CODE93",
    "H": "CODE11",
    "I": "ITF",
    "L": "PDF417",
    "Q": "QR",
    "Q3": "GS1-QR",
    "z": "AZTEC",
}
_AIM_RE = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_TERMINATORS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "tab": b"\t"}
GS = "\x1d"  # GS1 group separator (FNC1 as transmitted): legitimate inside a code


@dataclass(frozen=True)
class Scan:
    """One code read by a scanner. `at` is unix time; `aim` the raw AIM id, e.g. "]E0"."""

    code: str
    symbology: str | None
    at: float
    source: str = ""
    aim: str | None = None


def symbology_name(aim: str) -> str:
    """Readable name for an AIM id ("]C1" -> "GS1-128"); unknown ones keep the id."""
    return _AIM_NAMES.get(aim[1:3]) or _AIM_NAMES.get(aim[1]) or aim


def split_aim(text: str) -> tuple[str | None, str]:
    """(aim, code): strip a leading AIM symbology identifier, if there is one."""
    if _AIM_RE.match(text):
        return text[:3], text[3:]
    return None, text


def is_clean(code: str) -> bool:
    """Printable text (GS allowed): anything else is line noise, not a scan."""
    return all(ch.isprintable() or ch == GS for ch in code)


def make_scan(text: str, *, at: float, source: str) -> Scan:
    aim, code = split_aim(text)
    return Scan(code, symbology_name(aim) if aim else None, at, source, aim)


class ScanFramer:
    """Incremental, pure: bytes in, Scans out. No IO, no clock (`now` is passed in).

    Stray CR/LF around a frame are dropped, so a scanner sending CRLF still works when the
    terminator is set to "cr" or "lf". A frame starting with `prefix` has it stripped; one
    without it is kept as it is (the prefix is decoration, not authentication).
    """

    def __init__(
        self,
        *,
        terminator: str = "cr",
        prefix: str = "",
        max_length: int = 512,
        source: str = "",
    ) -> None:
        if terminator not in _TERMINATORS:
            raise ValueError(f"terminator must be one of {sorted(_TERMINATORS)}")
        self._term = _TERMINATORS[terminator]
        self._prefix = prefix.encode()
        # Room for the prefix, an AIM id and the stray CR/LF around the code itself.
        self._limit = max_length + len(self._prefix) + 3 + 2
        self.max_length = max_length
        self.source = source
        self._buf = bytearray()
        self._skipping = False  # inside an over-long frame: drop until the next terminator
        self.overlong = 0
        self.garbage = 0

    def feed(self, chunk: bytes, *, now: float) -> list[Scan]:
        scans: list[Scan] = []
        self._buf += chunk
        while True:
            end = self._buf.find(self._term)
            if end < 0:
                break
            frame = bytes(self._buf[:end])
            del self._buf[: end + len(self._term)]
            if self._skipping:
                self._skipping = False
                continue
            scan = self._frame(frame, now)
            if scan is not None:
                scans.append(scan)
        if len(self._buf) > self._limit:
            if not self._skipping:
                self.overlong += 1
                self._skipping = True
            # Keep a tail that may hold the start of a split multi-byte terminator.
            del self._buf[: len(self._buf) - (len(self._term) - 1)]
        return scans

    def flush(self, *, now: float) -> list[Scan]:
        """The frame still buffered (no terminator came), if any; the buffer is emptied."""
        frame, skipping = bytes(self._buf), self._skipping
        self._buf.clear()
        self._skipping = False
        if skipping:
            return []
        scan = self._frame(frame, now)
        return [scan] if scan is not None else []

    def discard(self) -> None:
        """Drop a partial frame (the port went away mid-scan: it would be truncated)."""
        self._buf.clear()
        self._skipping = False

    def _frame(self, frame: bytes, now: float) -> Scan | None:
        frame = frame.strip(b"\r\n")
        if self._prefix and frame.startswith(self._prefix):
            frame = frame[len(self._prefix) :]
        if not frame:
            return None
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            self.garbage += 1
            return None
        scan = make_scan(text, at=now, source=self.source)
        if not scan.code or not is_clean(scan.code):
            self.garbage += 1
            return None
        if len(scan.code) > self.max_length:
            self.overlong += 1
            return None
        return scan


@dataclass(frozen=True)
class ScannerStatus:
    name: str
    mode: str
    connected: bool
    scans: int
    errors: int
    overlong: int
    garbage: int
    reopens: int
    last_error: str | None


class ScannerThread(abc.ABC):
    """Lifecycle and counters shared by the serial and HID scanners.

    A subclass implements `_run()` (its read loop, which returns when `_stopping` is set
    and must survive the device going away) and `_close()`. Scans go to `on_scan`; an
    exception there is logged and counted, it does not stop the reader. Garbage and
    over-long frames are logged once per kind; the counters keep the rest.
    """

    mode = ""

    def __init__(self, *, name: str, on_scan: Callable[[Scan], None]) -> None:
        self.name = name
        self._on_scan = on_scan
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connected = False
        self._scans = 0
        self._errors = 0
        self._reopens = 0
        self._last_error: str | None = None
        self._ever_opened = False
        self._logged: set[str] = set()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"scanner {self.name} already started")
        self._thread = threading.Thread(target=self._run, name=f"scanner-{self.name}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close()
        with self._lock:
            self._connected = False

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> ScannerStatus:
        overlong, garbage = self._drop_counts()
        with self._lock:
            return ScannerStatus(
                name=self.name,
                mode=self.mode,
                connected=self._connected,
                scans=self._scans,
                errors=self._errors,
                overlong=overlong,
                garbage=garbage,
                reopens=self._reopens,
                last_error=self._last_error,
            )

    # -- for subclasses ---------------------------------------------------------------

    @abc.abstractmethod
    def _run(self) -> None:
        ...

    @abc.abstractmethod
    def _close(self) -> None:
        ...

    @abc.abstractmethod
    def _drop_counts(self) -> tuple[int, int]:
        """(overlong, garbage) from the subclass's pure decoder."""
        ...

    def _opened(self) -> None:
        with self._lock:
            self._connected = True
            if self._ever_opened:
                self._reopens += 1
                log.info("scanner %s: reopened (reopen #%d)", self.name, self._reopens)
            self._ever_opened = True

    def _lost(self, reason: str) -> None:
        """The device is gone or will not open: log once per outage, not per retry."""
        with self._lock:
            was_up = self._connected or not self._ever_opened and self._last_error is None
            self._connected = False
            self._last_error = reason
            if was_up:
                self._errors += 1
        if was_up:
            log.warning("scanner %s: %s; retrying until it is back", self.name, reason)

    def _deliver(self, scans: list[Scan]) -> None:
        for scan in scans:
            with self._lock:
                self._scans += 1
            try:
                self._on_scan(scan)
            except Exception as exc:  # the consumer's bug must not stop the reader
                with self._lock:
                    self._errors += 1
                # The type only: the message may quote the code (a customer's phone).
                name = type(exc).__name__
                self._log_once("callback", "scanner %s: on_scan raised %s", self.name, name)
        overlong, garbage = self._drop_counts()
        if overlong:
            self._log_once("overlong", "scanner %s: dropped an over-long scan", self.name)
        if garbage:
            self._log_once("garbage", "scanner %s: dropped garbage (not text)", self.name)

    def _log_once(self, kind: str, msg: str, *args: object) -> None:
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning(msg + " (further ones are only counted in status)", *args)
