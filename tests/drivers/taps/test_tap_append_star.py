"""Star Line Mode jobs through the cut hold, over a real TCP tap and a real pty: the corpus's
Star receipts get Star's own QR block (ESC GS y) right before their last `ESC d n` cut, the
StarDecoder reads the block back, and with no appender the bytes are byte-identical. The
printer's `command_set` picks the hold's decoder: "escpos" keeps the old rule (an `ESC i` is a
cut in doubt, the job goes through unchanged), "auto" and "star" read Star's cuts."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_printer import FakePtyPrinter, FakeTcpPrinter, wait_until
from tap_rigs import RecordingSink, _pending

from drivers.escpos.blocks import splice, star_block
from drivers.escpos.select import cuts_of, decode_all
from drivers.taps import CutRequest, Decision, Tap, TapOptions, open_tap

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
STAR_JOBS = {p.name: p.read_bytes() for p in sorted(CORPUS.glob("*/*-star.bin"))}
PAYLOAD = b"SMSTO:+59899000000:QUIERO"
LINES = ["Escanea y suscribite"]
STAR_CUT = re.compile(rb"\x1bd[\x00-\x03\x30-\x33]")  # ESC d n, found without the decoder


def block_for(cut_encoding: str) -> bytes:
    return star_block(LINES, PAYLOAD, encoding=cut_encoding)


class LastStarCut:
    """Answers Star's ESC d n cuts with Star's block (each corpus Star job has one: its last;
    a pty may carry several jobs in one stream, so offsets are the stream's, not the job's)."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[int, bytes, bool, str]] = []
        self.lock = threading.Lock()

    def decide(self, request: CutRequest) -> Decision:
        cut = request.cut
        if not cut.command.startswith(b"\x1bd"):
            return Decision(None, "not a Star cut")
        return Decision(block_for(cut.encoding))

    def done(self, request: CutRequest, printed: bool, reason: str) -> None:
        with self.lock:
            self.outcomes.append((request.cut.start, request.cut.command, printed, reason))


class Printer:
    def __init__(self, mode: str, tmp: Path, appender: LastStarCut | None,
                 command_set: str) -> None:
        self.mode = mode
        if mode == "tcp":
            self.tcp = FakeTcpPrinter().start()
            options = TapOptions("caja", "tcp", listen="127.0.0.1:0", target=self.tcp.target,
                                 command_set=command_set)
        else:
            self.pty = FakePtyPrinter(str(tmp / "printer")).plug()
            self.link = str(tmp / "ttyPOS")
            options = TapOptions("caja", "serial", link=self.link, target=self.pty.link,
                                 baudrate=115200, command_set=command_set)
        self.sink = RecordingSink()
        self.tap: Tap = open_tap(options, self.sink, appender=appender)
        self.tap.start()

    def received(self) -> bytes:
        return self.tcp.received() if self.mode == "tcp" else self.pty.received()

    def print_job(self, data: bytes, size: int | None = None) -> bytes:
        """Print one job; the bytes the printer got for it, once there are `size` of them
        (a wrong extra byte shows in the next job's bytes, or in the next test's check)."""
        before = len(self.received())
        if self.mode == "tcp":
            with socket.create_connection(self.tap.address, timeout=5) as pos:  # type: ignore[attr-defined]
                pos.sendall(data)
        else:
            fd = os.open(self.link, os.O_RDWR | os.O_NOCTTY)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view[:4096]):]
                assert wait_until(lambda: _pending(fd) == 0, 10)
            finally:
                os.close(fd)
        size = len(data) if size is None else size
        wait_until(lambda: len(self.received()) - before >= size, 10)  # else: shown below
        return self.received()[before:]

    def close(self) -> None:
        self.tap.stop(2)
        if self.mode == "tcp":
            self.tcp.stop()
        else:
            self.pty.unplug()


@pytest.fixture(params=["tcp", "pty"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Printer]]:
    made: list[Printer] = []

    def make(appender: LastStarCut | None = None, command_set: str = "auto") -> Printer:
        made.append(Printer(request.param, tmp_path, appender, command_set))
        return made[-1]

    yield make
    for printer in made:
        printer.close()


def test_the_corpus_has_star_jobs_from_both_encoders() -> None:
    encoders = {name.rsplit("-", 2)[-2] for name in STAR_JOBS}
    assert len(STAR_JOBS) >= 40 and encoders == {"ntp", "receiptline"}
    assert all(STAR_CUT.search(data) for data in STAR_JOBS.values())


@pytest.mark.parametrize("command_set", ["auto", "star"])
def test_star_receipts_get_stars_block_right_before_the_last_esc_d_cut(
    rig: Callable[..., Printer], command_set: str
) -> None:
    appender = LastStarCut()
    printer = rig(appender, command_set)
    for name, data in STAR_JOBS.items():
        last = list(STAR_CUT.finditer(data))[-1].start()
        want = splice(data, {last: block_for(cuts_of(data, command_set="star")[-1].encoding)})
        got = printer.print_job(data, len(want))
        assert got == want, (name, len(got), len(want), appender.outcomes[-2:])
        assert got.rindex(b"\x1b\x1dyP") > got.rindex(b"Gracias")  # Star's QR, at the end
        assert b"\x1d(k" not in got  # never ESC/POS's QR command on a Star printer
    printed = [o for o in appender.outcomes if o[2]]
    assert len(printed) == len(STAR_JOBS)
    assert all(command.startswith(b"\x1bd") for _, command, _, _ in printed)
    # the parser side still got the POS's own bytes
    assert wait_until(lambda: len(printer.sink.received()) >= sum(map(len, STAR_JOBS.values())))
    assert printer.sink.received() == b"".join(STAR_JOBS.values())


def test_stars_block_reads_back_with_the_star_decoder(rig: Callable[..., Printer]) -> None:
    appender = LastStarCut()
    printer = rig(appender)
    for name in ("r018-uy-ntp-star.bin", "r092-br-receiptline-star.bin"):
        data = STAR_JOBS[name]
        want = len(data) + len(block_for(cuts_of(data, command_set="star")[-1].encoding))
        docs = decode_all(printer.print_job(data, want), command_set="star")
        receipt = docs[-1]
        assert [line.text for line in receipt.lines[-len(LINES):]] == LINES, name
        assert receipt.qr_codes[-1] == PAYLOAD.decode(), name
        assert receipt.lines[0].text == decode_all(data, command_set="star")[-1].lines[0].text


def test_without_append_star_jobs_are_byte_identical(rig: Callable[..., Printer]) -> None:
    printer = rig(None)
    for name, data in STAR_JOBS.items():
        got = printer.print_job(data)
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), name


def test_decoded_as_escpos_a_star_job_with_esc_i_goes_through_unchanged(
    rig: Callable[..., Printer],
) -> None:
    # command_set = "escpos": receiptline's Star ESC i 0 0 (a size) reads as an ESC/POS cut,
    # so the old rule holds: the job is left alone, and the appender hears why
    data = STAR_JOBS["r092-br-receiptline-star.bin"]
    assert b"\x1bi\x00\x00" in data
    appender = LastStarCut()
    printer = rig(appender, "escpos")
    assert printer.print_job(data) == data
    assert wait_until(lambda: appender.outcomes, 5)
    assert appender.outcomes[0][1:] == (b"\x1bi", False, "ESC i / ESC m cut: command set unsure")


def test_a_star_cut_split_across_writes_still_gets_the_block(tmp_path: Path) -> None:
    # TCP_NODELAY keeps the writes apart: the job's ESC d waits with the tap for its n
    data = STAR_JOBS["r018-uy-ntp-star.bin"]
    cut = list(STAR_CUT.finditer(data))[-1].start()
    appender = LastStarCut()
    printer = Printer("tcp", tmp_path, appender, "auto")
    try:
        with socket.create_connection(printer.tap.address, timeout=5) as pos:  # type: ignore[attr-defined]
            pos.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pos.sendall(data[: cut + 2])  # ... ESC d
            assert wait_until(lambda: len(printer.received()) >= cut, 5)
            time.sleep(0.05)  # give a wrongly forwarded ESC d the time to show up
            assert len(printer.received()) == cut
            pos.sendall(data[cut + 2 :])
        encoding = cuts_of(data, command_set="star")[-1].encoding
        want = splice(data, {cut: block_for(encoding)})
        assert wait_until(lambda: len(printer.received()) >= len(want), 10)
        assert printer.received() == want
    finally:
        printer.close()
