"""What every printer tap shares: options, the sink seam, status, and the sink feeder.

The forwarding threads of a tap never call the sink (the parser side). They hand chunks to a
`SinkFeeder`, a bounded queue drained by its own thread: a slow sink makes the queue fill and
chunks are dropped (counted in `sink_dropped`), a raising sink is counted in `sink_errors`;
neither delays the printer. Errors are logged once per kind, not per chunk.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from drivers.taps.append import Appender, Asker, CutHold

log = logging.getLogger("drivers.printer")


@dataclass(frozen=True)
class TapOptions:
    """One `[[printer]]` table, as plain values (drivers/ does not import agent/)."""

    name: str
    mode: str  # tcp | serial | usb | sniff | spool
    listen: str = ""  # tcp: host:port the POS prints to
    target: str = ""  # tcp: host:port; serial: pyserial URL or device; usb: device node
    link: str = ""  # serial, usb: the pty symlink the POS opens
    link_mode: int = 0o666  # serial, usb: the POS software often runs as another user
    port: str = ""  # sniff: the device to read
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    rtscts: bool = False
    xonxoff: bool = False
    path: str = ""  # spool: directory or FIFO
    codepage: str = "cp858"  # tcp, serial, usb with an appender: to decode the cut's receipt
    codepage_map: Mapping[int, str] = field(default_factory=dict)
    command_set: str = "auto"  # with an appender: auto | escpos | star, to find the cuts


class TapSink(Protocol):
    """The parser side. May be slow or raise: the tap does not care."""

    def data(self, stream: str, chunk: bytes) -> None: ...
    def end(self, stream: str) -> None: ...


@dataclass(frozen=True)
class TapStatus:
    name: str
    mode: str
    listening: bool
    printer_connected: bool
    jobs: int
    bytes_to_printer: int
    bytes_from_printer: int
    sink_errors: int
    sink_dropped: int
    reopens: int
    last_error: str | None


class Tap(Protocol):
    name: str

    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> None: ...
    def status(self) -> TapStatus: ...
    def alive(self) -> bool: ...
    def probe(self) -> bool | None: ...


class Waker:
    """A pipe that interrupts poll() at once: stop() must not wait for a timeout."""

    def __init__(self) -> None:
        self.fd, self._w = os.pipe()
        os.set_blocking(self._w, False)

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # already signalled (full), or closed
            os.write(self._w, b"x")

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds; True if woken."""
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        return bool(p.poll(timeout * 1000))

    def close(self) -> None:
        for fd in (self.fd, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class SinkFeeder:
    """Feeds the sink from its own thread through a queue bounded to `max_bytes`."""

    def __init__(self, sink: TapSink, *, name: str, max_bytes: int = 4 << 20) -> None:
        self._sink = sink
        self._name = name
        self._max = max_bytes
        self._items: deque[tuple[str, bytes | None]] = deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._logged: set[str] = set()
        self.errors = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"tap-{name}-sink", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def data(self, stream: str, chunk: bytes) -> None:
        with self._cond:
            if self._queued + len(chunk) > self._max:
                self.dropped += 1
                self._log_once("overflow", "sink too slow: queue full, chunks dropped")
                return
            self._items.append((stream, chunk))
            self._queued += len(chunk)
            self._cond.notify()

    def end(self, stream: str) -> None:
        with self._cond:  # ends are tiny and always queued: the parser must see them
            self._items.append((stream, None))
            self._cond.notify()

    def _log_once(self, kind: str, message: str) -> None:
        if kind not in self._logged:
            self._logged.add(kind)
            log.error("%s: %s (further ones are only counted)", self._name, message)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._stopping:
                    self._cond.wait()
                if not self._items:
                    return
                stream, chunk = self._items.popleft()
                self._queued -= len(chunk or b"")
            try:
                if chunk is None:
                    self._sink.end(stream)
                else:
                    self._sink.data(stream, chunk)
            except Exception as exc:  # noqa: BLE001 - the parser's failure must stay its own
                with self._cond:
                    self.errors += 1
                    self._log_once(type(exc).__name__, f"sink raised {type(exc).__name__}: {exc}")

    def stop(self, timeout: float) -> None:
        """Let the queue drain for up to `timeout`, then abandon what is left (counted)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            self.dropped += sum(1 for _, c in self._items if c is not None)
            self._items.clear()
            self._queued = 0

    def alive(self) -> bool:
        return self._thread.is_alive()


class TapBase(abc.ABC):
    """Counters, status, named daemon threads and a prompt stop, for every tap."""

    mode = ""

    def __init__(
        self, options: TapOptions, sink: TapSink, *, appender: Appender | None = None
    ) -> None:
        self.name = options.name
        self.options = options
        self.feeder = SinkFeeder(sink, name=options.name)
        self.asker = Asker(appender, name=options.name) if appender is not None else None
        self.waker = Waker()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.jobs = 0
        self.bytes_to_printer = 0
        self.bytes_from_printer = 0
        self.reopens = 0
        self.last_error: str | None = None
        self.listening = False
        self._threads: list[threading.Thread] = []
        self._started = False

    # -- for subclasses --
    def cut_hold(self, stream: str) -> CutHold | None:
        """A job stream's hold at cuts, when this printer has an appender."""
        if self.asker is None:
            return None
        return CutHold(self.asker, stream, codepage=self.options.codepage,
                       codepage_map=self.options.codepage_map,
                       command_set=self.options.command_set)

    def spawn(self, target: Callable[[], None], suffix: str, *, core: bool = True) -> None:
        """Start a named daemon thread; `core` ones must all run for alive() to hold."""
        thread = threading.Thread(target=target, name=f"tap-{self.name}-{suffix}", daemon=True)
        if core:
            self._threads.append(thread)
        thread.start()

    @abc.abstractmethod
    def printer_connected(self) -> bool:
        ...

    def probe(self) -> bool | None:
        """Check the printer without printing (None: this mode has no probe, or a job is in
        flight and the probe was skipped). Never on the printing path: callers' threads."""
        return None

    @abc.abstractmethod
    def open(self) -> None:
        """Open listeners/devices and spawn threads; raise DeviceError if impossible."""
        ...

    def close(self, deadline: float) -> None:  # noqa: B027 - optional hook, default: nothing
        """Release what open() took, after the stop flag is set and the waker rung."""

    # -- the Tap protocol --
    def start(self) -> None:
        self.feeder.start()
        try:
            self.open()
        except BaseException:
            self.stop(1)  # leave no thread behind a tap that could not start
            raise
        self._started = True

    def stop(self, timeout: float = 5.0) -> None:
        if self.stopping.is_set():
            return
        deadline = time.monotonic() + timeout
        self.stopping.set()
        self.waker.wake()
        self.close(deadline)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.listening = False
        if self.asker is not None:
            self.asker.stop()
        # The sink gets what is left only while time remains (at least a short drain).
        self.feeder.stop(max(0.2, min(1.0, deadline - time.monotonic())))
        if not any(t.is_alive() for t in self._threads):
            self.waker.close()  # a straggler would otherwise poll a closed (or reused) fd

    def status(self) -> TapStatus:
        return TapStatus(
            name=self.name,
            mode=self.mode,
            listening=self.listening and not self.stopping.is_set(),
            printer_connected=self.printer_connected(),
            jobs=self.jobs,
            bytes_to_printer=self.bytes_to_printer,
            bytes_from_printer=self.bytes_from_printer,
            sink_errors=self.feeder.errors,
            sink_dropped=self.feeder.dropped,
            reopens=self.reopens,
            last_error=self.last_error,
        )

    def alive(self) -> bool:
        return (
            self._started
            and not self.stopping.is_set()
            and self.feeder.alive()
            and all(t.is_alive() for t in self._threads)
        )
