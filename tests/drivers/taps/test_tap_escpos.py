"""Acceptance: python-escpos, acting as the POS, prints through the tcp and serial taps.

The fake printer must receive exactly what python-escpos sent (same SHA-256) for every real
capture and for a generated receipt; the printer's status answer reaches the POS; the sink
gets the same bytes, and a sink that raises or crawls changes nothing for the printer.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from escpos.printer import Dummy, Network, Serial
from fake_printer import FakePtyPrinter, FakeTcpPrinter, wait_until
from tap_rigs import RecordingSink

from drivers.taps import Tap, TapOptions, open_tap
from drivers.taps.tcp import TcpTap

DLE_EOT_1 = b"\x10\x04\x01"
# (make a python-escpos printer aimed at the tap, what the fake printer received, the tap)
PosRig = tuple[Callable[[], Any], Callable[[], bytes], Tap]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def generated_receipt() -> bytes:
    """What python-escpos itself produces for a small receipt (text, QR, barcode, cut)."""
    d = Dummy()
    d.set(align="center", bold=True)
    d.text("TIENDA EJEMPLO\n")
    d.set(align="left", bold=False)
    d.text("Café con leche     2 x 1.250,00\nTOTAL              2.500,00\n")
    d.qr("https://hellotext.com/?hello_session=abc123", size=4)
    d.barcode("7501031311309", "EAN13")
    d.cut()
    return bytes(d.output)


@contextmanager
def tcp_pos(tmp_path: Path, sink: Any) -> Iterator[PosRig]:
    fake = FakeTcpPrinter().start()
    tap = TcpTap(TapOptions("caja", "tcp", listen="127.0.0.1:0", target=fake.target), sink)
    tap.start()
    host, port = tap.address
    try:
        yield (lambda: Network(host, port=port, timeout=5)), fake.received, tap
    finally:
        tap.stop(2)
        fake.stop()


@contextmanager
def serial_pos(tmp_path: Path, sink: Any) -> Iterator[PosRig]:
    fake = FakePtyPrinter(str(tmp_path / "printer")).plug()
    link = str(tmp_path / "run" / "ttyPOS")
    tap = open_tap(TapOptions("caja", "serial", link=link, target=fake.link, baudrate=19200), sink)
    tap.start()
    try:
        yield (lambda: Serial(devfile=link, baudrate=19200, timeout=0.3)), fake.received, tap
    finally:
        tap.stop(2)
        fake.unplug()


POS = {"tcp": tcp_pos, "serial": serial_pos}


def print_job(make_printer: Callable[[], Any], data: bytes) -> None:
    p = make_printer()
    p.open()  # python-escpos opens lazily on property access: be explicit
    try:
        p._raw(data)
        if isinstance(p, Serial):
            p.device.flush()  # tcdrain: all bytes left before the port closes
    finally:
        p.close()


@pytest.mark.parametrize("mode", ["tcp", "serial"])
def test_every_capture_and_a_generated_receipt_arrive_identical(
    mode: str, tmp_path: Path, escpos_fixtures: Path
) -> None:
    jobs = [f.read_bytes() for f in sorted(escpos_fixtures.glob("*.bin"))]
    assert len(jobs) >= 10
    jobs.append(generated_receipt())
    sink = RecordingSink()
    with POS[mode](tmp_path, sink) as (make_printer, received, tap):
        expected = b""
        for i, data in enumerate(jobs, 1):
            print_job(make_printer, data)
            expected += data
            want = len(expected)
            assert wait_until(lambda want=want: len(received()) >= want)
            assert sha(received()) == sha(expected), f"job {i} altered on its way to the printer"
            assert wait_until(lambda i=i: sink.ends() == i), "the sink missed the end of a job"
        assert [sha(data) for _, data in sink.jobs()] == [sha(data) for data in jobs]
        assert tap.status().jobs == len(jobs)


@pytest.mark.parametrize("mode", ["tcp", "serial"])
def test_status_request_answer_reaches_the_pos(mode: str, tmp_path: Path) -> None:
    with POS[mode](tmp_path, RecordingSink()) as (make_printer, received, tap):
        p = make_printer()
        p.open()
        try:
            p._raw(DLE_EOT_1)
            answer = p._read()
        finally:
            p.close()
        assert answer == b"\x16"  # the fake printer's "online, no error" byte
        assert received() == DLE_EOT_1
        assert tap.status().bytes_from_printer == 1


class StuckSink(RecordingSink):
    """A parser that hangs until the test lets it go: were printing to wait for the parser,
    not one job would reach the printer, however long the test waited."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def data(self, stream: str, chunk: bytes) -> None:
        self.gate.wait(60)
        super().data(stream, chunk)


@pytest.mark.parametrize("mode", ["tcp", "serial"])
@pytest.mark.parametrize("broken", [lambda: RecordingSink(fail=True), StuckSink],
                         ids=["raising-sink", "stuck-sink"])
def test_a_broken_or_slow_parser_neither_stops_nor_slows_printing(
    mode: str, broken: Callable[[], RecordingSink], tmp_path: Path, escpos_fixtures: Path
) -> None:
    sink = broken()
    demo = (escpos_fixtures / "escpos-php-demo.bin").read_bytes()
    jobs = [demo, generated_receipt(), demo]
    try:
        with POS[mode](tmp_path, sink) as (make_printer, received, tap):
            expected = b""
            for data in jobs:
                print_job(make_printer, data)
                expected += data
                assert wait_until(lambda want=expected: received() == want), "printing waited"
            # The counter moves just after the write returns: the printer may see bytes first.
            assert wait_until(lambda: tap.status().bytes_to_printer == len(expected))
            status = tap.status()
            if sink.fail:
                assert status.sink_errors >= len(jobs)
            assert tap.alive()
    finally:
        if isinstance(sink, StuckSink):
            sink.gate.set()
