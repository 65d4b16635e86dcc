"""Printer taps: sit between the POS and its receipt printer and copy what it prints.

    open_tap(TapOptions(name="caja", mode="tcp", listen="0.0.0.0:9100",
                        target="192.168.1.50:9100"), sink) -> Tap

Modes (one `[[printer]]` table each):

    tcp     listen host:port  <-> target host:port     drivers/taps/tcp.py
    serial  pty at `link`     <-> pyserial URL target  drivers/taps/serial.py
    usb     pty at `link`     <-> device node target (/dev/usb/lp0)
    sniff   read-only from `port` (Y-cable); nothing written
    spool   read-only: finished jobs in directory or FIFO `path`   drivers/taps/files.py

The guarantees every tap keeps (checked by tests/drivers/taps/test_taps_contract.py):

- bytes reach the printer unchanged and before the sink sees them; the sink (the parser
  side) is fed from its own thread through a bounded queue, so a slow or raising sink never
  delays or drops printer bytes (overflow -> `sink_dropped`, exceptions -> `sink_errors`,
  each kind logged once);
- `sink.data(stream, chunk)` then `sink.end(stream)` per job: a TCP connection
  (`caja#17`), a POS open -> close of the pty (`caja`), a spool file (`caja:<file>`), a FIFO
  writer (`caja:fifo#3`); stop() ends the streams still open;
- a serial or USB printer unplugged and plugged back is reopened within a second, logged once
  per outage, and visible in status (`printer_connected`, `reopens`, `last_error`);
- start() returns once listening; stop() returns promptly; every thread is a named daemon.

With an `appender` (`[printer.append]`), tcp, serial and usb taps hold each cut back for at
most 150 ms while the agent decides whether to print a block before it (`append`); the
bytes before a cut and the printer's answers are never delayed.

Modules: `base` (Tap, TapOptions, the sink queue), `append` (the cut hold), `tcp`, `serial`
(serial, usb, sniff), `files` (spool), `serialport` (pyserial plumbing). Imports nothing
from agent/.
"""

from __future__ import annotations

from drivers.errors import DeviceError
from drivers.taps.append import Appender, CutRequest, Decision
from drivers.taps.base import Tap, TapOptions, TapSink, TapStatus
from drivers.taps.files import SpoolTap
from drivers.taps.serial import SerialTap, SniffTap
from drivers.taps.tcp import TcpTap

__all__ = [
    "MODES", "Appender", "CutRequest", "Decision", "Tap", "TapOptions", "TapSink", "TapStatus",
    "open_tap",
]

MODES = ("tcp", "serial", "usb", "sniff", "spool")


def open_tap(options: TapOptions, sink: TapSink, *, appender: Appender | None = None) -> Tap:
    """Build the tap for `options.mode` (not started: call start()); DeviceError if unknown.
    An `appender` (tcp, serial, usb only) may insert a block before each receipt's cut."""
    if appender is not None and options.mode not in ("tcp", "serial", "usb"):
        raise DeviceError(options.name, f"mode {options.mode} is read-only: nothing to append")
    if options.mode == "tcp":
        try:
            return TcpTap(options, sink, appender=appender)
        except ValueError as exc:
            raise DeviceError(options.name, str(exc)) from exc
    if options.mode in ("serial", "usb"):
        return SerialTap(options, sink, appender=appender)
    if options.mode == "sniff":
        return SniffTap(options, sink)
    if options.mode == "spool":
        return SpoolTap(options, sink)
    raise DeviceError(options.name, f"unknown printer mode {options.mode!r}")
