"""The cut hold, through a real TCP tap and a real pty: the printer gets the POS's bytes with
the block inserted before the last cut, or byte-identical bytes when nothing is appended."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import receipt_layouts as layouts
from escpos_helpers import FIXTURES as ESCPOS_FIXTURES
from fake_printer import FakePtyPrinter, FakeTcpPrinter, wait_until
from tap_rigs import RecordingSink, _pending

from drivers.escpos.blocks import append_block, splice
from drivers.escpos.decoder import cuts_of, decode_all
from drivers.taps import CutRequest, Decision, Tap, TapOptions, open_tap

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = sorted(ESCPOS_FIXTURES.glob("*.bin"))
PAYLOAD = b"SMSTO:+59899000000:QUIERO"
LINES = ["Escanea y suscribite"]
BASKET = [
    layouts.Item("Leche entera 1L", Decimal("45.00"), code="7730123456789"),
    layouts.Item("Pan", Decimal("120.00"), quantity=Decimal("0.750"), weighed=True),
]


def generated() -> dict[str, bytes]:
    return {
        "supermarket": layouts.supermarket(BASKET),
        "refund": layouts.supermarket(BASKET, kind="refund"),
        "pharmacy": layouts.pharmacy(BASKET),
        "clothing": layouts.clothing(BASKET),
        "cafe": layouts.cafe(BASKET),
    }


JOBS: dict[str, bytes] = {p.name: p.read_bytes() for p in FIXTURES} | generated()


class LastCut:
    """Approves the job's last cut only (the test knows where it is)."""

    def __init__(self, at: int | None, *, delay: float = 0.0, fail: bool = False) -> None:
        self.at, self.delay, self.fail = at, delay, fail
        self.outcomes: list[tuple[int, bool, str]] = []
        self.lock = threading.Lock()

    def decide(self, request: CutRequest) -> Decision:
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("reader exploded")
        if request.cut.start != self.at:
            return Decision(None, "not the last cut")
        return Decision(append_block(LINES, PAYLOAD, encoding=request.cut.encoding))

    def done(self, request: CutRequest, printed: bool, reason: str) -> None:
        with self.lock:
            self.outcomes.append((request.cut.start, printed, reason))


def expected(data: bytes) -> bytes:
    cuts = cuts_of(data)
    if not cuts:
        return data
    last = cuts[-1]
    return splice(data, {last.start: append_block(LINES, PAYLOAD, encoding=last.encoding)})


class Printer:
    """One rig: a started tap in `mode` with an optional appender, and how to print."""

    def __init__(self, mode: str, tmp: Path, appender: LastCut | None) -> None:
        self.sink = RecordingSink()
        self.mode = mode
        if mode == "tcp":
            self.tcp = FakeTcpPrinter().start()
            options = TapOptions("caja", "tcp", listen="127.0.0.1:0", target=self.tcp.target)
        else:
            self.pty = FakePtyPrinter(str(tmp / "printer")).plug()
            self.link = str(tmp / "ttyPOS")
            options = TapOptions("caja", "serial", link=self.link, target=self.pty.link,
                                 baudrate=115200)
        self.tap: Tap = open_tap(options, self.sink, appender=appender)
        self.tap.start()

    def received(self) -> bytes:
        return self.tcp.received() if self.mode == "tcp" else self.pty.received()

    def print_job(self, data: bytes) -> None:
        if self.mode == "tcp":
            address = self.tap.address  # type: ignore[attr-defined]
            with socket.create_connection(address, timeout=5) as pos:
                pos.sendall(data)
            return
        ended = self.sink.ends()
        fd = os.open(self.link, os.O_RDWR | os.O_NOCTTY)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view[:4096]):]  # a POS writes in pieces
            assert wait_until(lambda: _pending(fd) == 0, 10)
        finally:
            os.close(fd)
        # One job per stream, as a till prints: if the next open came before the tap saw this
        # close, both jobs would share a stream and the cut offsets would be the stream's.
        assert wait_until(lambda: self.sink.ends() > ended, 10)

    def close(self) -> None:
        self.tap.stop(2)
        if self.mode == "tcp":
            self.tcp.stop()
        else:
            self.pty.unplug()


def _rigs(mode: str, tmp_path: Path) -> Iterator[Callable[..., Printer]]:
    made: list[Printer] = []

    def make(appender: LastCut | None = None) -> Printer:
        made.append(Printer(mode, tmp_path, appender))
        return made[-1]

    yield make
    for printer in made:
        printer.close()


@pytest.fixture(params=["tcp", "pty"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Printer]]:
    yield from _rigs(request.param, tmp_path)


@pytest.fixture
def tcp_rig(tmp_path: Path) -> Iterator[Callable[..., Printer]]:
    yield from _rigs("tcp", tmp_path)


def test_fixtures_and_generated_receipts_get_the_block_before_the_last_cut(
    rig: Callable[..., Printer],
) -> None:
    assert len(FIXTURES) >= 10, f"the ESC/POS captures are missing from {ESCPOS_FIXTURES}"
    appender = LastCut(None)
    printer = rig(appender)
    total = b""
    for name, data in JOBS.items():
        cuts = cuts_of(data)
        appender.at = cuts[-1].start if cuts else None
        want = expected(data)
        goal = len(printer.received()) + len(want)
        before = goal - len(want)
        printer.print_job(data)
        assert wait_until(lambda n=goal: len(printer.received()) >= n, 10), name
        got = printer.received()[before:]
        assert got == want, name
        total += want
        if cuts:
            assert want != data and got.index(append_block(LINES, PAYLOAD,
                                                           encoding=cuts[-1].encoding)) \
                == cuts[-1].start, name
    # the parser side still got the POS's own bytes, not the block
    assert wait_until(lambda: len(printer.sink.received()) == sum(map(len, JOBS.values())), 10)
    assert printer.sink.received() == b"".join(JOBS.values())
    printed = [o for o in appender.outcomes if o[1]]
    assert len(printed) == sum(1 for d in JOBS.values() if cuts_of(d))


def test_without_append_the_printer_gets_byte_identical_jobs(
    rig: Callable[..., Printer],
) -> None:
    printer = rig(None)
    for name, data in JOBS.items():
        goal = len(printer.received()) + len(data)
        before = goal - len(data)
        printer.print_job(data)
        assert wait_until(lambda n=goal: len(printer.received()) >= n, 10), name
        got = printer.received()[before:]
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), name


def test_printed_block_reads_back_as_lines_and_payload(rig: Callable[..., Printer]) -> None:
    data = JOBS["supermarket"]
    appender = LastCut(cuts_of(data)[-1].start)
    printer = rig(appender)
    printer.print_job(data)
    assert wait_until(lambda: len(printer.received()) >= len(expected(data)), 10)
    doc = decode_all(printer.received())[0]
    assert [line.text for line in doc.lines[-len(LINES):]] == LINES
    assert doc.qr_codes[-1] == PAYLOAD.decode()
    # The tap's byte count (status, metrics) is what the printer got, the block included.
    assert wait_until(lambda: printer.tap.status().bytes_to_printer == len(expected(data)), 5)


@pytest.mark.parametrize("problem", ["slow", "raises"])
def test_a_late_or_failing_decision_leaves_the_job_unchanged_within_the_budget(
    rig: Callable[..., Printer], problem: str
) -> None:
    data = JOBS["cafe"]
    appender = LastCut(cuts_of(data)[-1].start, delay=1.0 if problem == "slow" else 0.0,
                       fail=problem == "raises")
    printer = rig(appender)
    start = time.monotonic()
    printer.print_job(data)
    assert wait_until(lambda: len(printer.received()) >= len(data), 10)
    assert printer.received() == data
    if problem == "slow":  # waited for the budget, not for the reader
        assert time.monotonic() - start < 0.9
    assert wait_until(lambda: appender.outcomes, 5)
    reason = appender.outcomes[0][2]
    assert reason.startswith("timeout" if problem == "slow" else "error")


def test_status_requests_before_the_cut_are_answered_without_waiting_for_the_decision(
    tcp_rig: Callable[..., Printer],
) -> None:
    # A slow reader only delays what follows a cut: DLE EOT mid-job is answered at once
    # (benchmarks/taps_append.py measures the same through the pty).
    printer = tcp_rig(LastCut(0, delay=1.0))
    with socket.create_connection(printer.tap.address, timeout=5) as pos:  # type: ignore[attr-defined]
        for _ in range(20):
            start = time.monotonic()
            pos.sendall(b"Linea\n\x10\x04\x01")
            assert pos.recv(1) == b"\x16"
            assert time.monotonic() - start < 0.5


def test_a_cut_split_across_writes_still_gets_the_block(
    tcp_rig: Callable[..., Printer],
) -> None:
    # TCP_NODELAY keeps the two writes apart (a pty read may join them)
    data = JOBS["supermarket"]
    cut = cuts_of(data)[-1]
    printer = tcp_rig(LastCut(cut.start))
    with socket.create_connection(printer.tap.address, timeout=5) as pos:  # type: ignore[attr-defined]
        pos.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pos.sendall(data[: cut.start + 1])  # ... GS
        assert wait_until(lambda: len(printer.received()) >= cut.start, 5)
        time.sleep(0.05)  # the GS waits with the tap, not at the printer
        assert len(printer.received()) == cut.start
        pos.sendall(data[cut.start + 1 :])
    assert wait_until(lambda: len(printer.received()) >= len(expected(data)), 10)
    assert printer.received() == expected(data)
