"""Serial scanners: the pure framer with literal bytes, then SerialScanner on real ptys."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_printer import wait_until

from drivers.scanners.base import Scan, ScanFramer, split_aim, symbology_name
from drivers.scanners.serial import SerialScanner

TERMINATORS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "tab": b"\t"}


def codes(scans: list[Scan]) -> list[str]:
    return [s.code for s in scans]


# -- ScanFramer (pure) -------------------------------------------------------------------


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_each_terminator_ends_a_frame(terminator: str) -> None:
    end = TERMINATORS[terminator]
    framer = ScanFramer(terminator=terminator)
    scans = framer.feed(b"7790001000019" + end + b"ABC-42" + end + b"partial", now=5.0)
    assert codes(scans) == ["7790001000019", "ABC-42"]
    assert all(s.at == 5.0 for s in scans)
    assert codes(framer.flush(now=6.0)) == ["partial"]
    assert framer.flush(now=7.0) == []


def test_frames_split_across_chunks_and_crlf_split_in_the_middle() -> None:
    framer = ScanFramer(terminator="crlf")
    out: list[Scan] = []
    for i, chunk in enumerate([b"]E07790", b"001000019\r", b"\n]C1ABC", b"\r", b"\n"]):
        out += framer.feed(chunk, now=float(i))
    assert [(s.code, s.symbology, s.aim, s.at) for s in out] == [
        ("7790001000019", "EAN13", "]E0", 2.0),
        ("ABC", "GS1-128", "]C1", 4.0),
    ]


@pytest.mark.parametrize(
    ("aim", "name"),
    [("]E0", "EAN13"), ("]E4", "EAN8"), ("]C0", "CODE128"), ("]C1", "GS1-128"),
     ("]Q1", "QR"), ("]Q3", "GS1-QR"), ("]A0", "CODE39"), ("]d2", "GS1-DATAMATRIX"),
     ("]d1", "DATAMATRIX"), ("]I1", "ITF"), ("]X0", "]X0")],
)  # fmt: skip
def test_aim_identifiers_are_stripped_and_named(aim: str, name: str) -> None:
    framer = ScanFramer(terminator="cr", source="lector")
    (scan,) = framer.feed(f"{aim}12345\r".encode(), now=1.0)
    assert (scan.code, scan.aim, scan.symbology, scan.source) == ("12345", aim, name, "lector")
    assert symbology_name(aim) == name


def test_text_that_only_looks_like_an_aim_id_is_kept() -> None:
    assert split_aim("]]12") == (None, "]]12")
    assert split_aim("]E") == (None, "]E")


def test_prefix_is_stripped_before_the_aim_id_and_optional() -> None:
    framer = ScanFramer(terminator="lf", prefix="\x02SC")
    scans = framer.feed(b"\x02SC]E07790001000019\n\x02SC12\nNOPREFIX\n", now=1.0)
    assert [(s.code, s.aim) for s in scans] == [
        ("7790001000019", "]E0"),
        ("12", None),
        ("NOPREFIX", None),
    ]


def test_crlf_from_the_scanner_with_terminator_cr_gives_clean_codes() -> None:
    framer = ScanFramer(terminator="cr")
    assert codes(framer.feed(b"111\r\n222\r\n\r\n", now=1.0)) == ["111", "222"]
    assert framer.garbage == 0


def test_garbage_is_dropped_and_counted_and_good_frames_survive() -> None:
    framer = ScanFramer(terminator="cr")
    noise = b"\x00\xff\xfe\x13\r" + b"AB\x07C\r" + b"\xc3(\r" + b"GOOD\r"
    assert codes(framer.feed(noise, now=1.0)) == ["GOOD"]
    assert framer.garbage == 3


def test_gs1_group_separator_and_utf8_are_kept() -> None:
    framer = ScanFramer(terminator="cr")
    scans = framer.feed("]C101077900010000191\x1d10LOTE\rJosé\r".encode(), now=1.0)
    assert codes(scans) == ["01077900010000191\x1d10LOTE", "José"]


def test_overlong_frames_are_dropped_with_bounded_memory() -> None:
    framer = ScanFramer(terminator="cr", max_length=16)
    out = framer.feed(b"X" * 10_000, now=1.0)
    for _ in range(100):  # a line that never ends (wrong terminator, stuck noise)
        out += framer.feed(b"Y" * 10_000, now=1.0)
        assert len(framer._buf) <= 16 + 5  # bounded while it goes on
    out += framer.feed(b"\rOK123\r" + b"Z" * 17 + b"\r", now=2.0)
    assert codes(out) == ["OK123"]
    assert framer.overlong == 2
    assert framer.flush(now=3.0) == []


def test_overlong_while_skipping_a_multibyte_terminator_split() -> None:
    framer = ScanFramer(terminator="crlf", max_length=8)
    out = framer.feed(b"A" * 50 + b"\r", now=1.0) + framer.feed(b"\nSHORT\r\n", now=1.0)
    assert codes(out) == ["SHORT"]
    assert framer.overlong == 1


def test_bad_terminator_is_refused() -> None:
    with pytest.raises(ValueError, match="terminator"):
        ScanFramer(terminator="etx")


# -- SerialScanner on a real pty ---------------------------------------------------------


class Pty:
    """A pty whose slave is reached through `link`, as a scanner's /dev/serial/by-id path."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)
        link.unlink(missing_ok=True)
        link.symlink_to(name)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        self.link.unlink(missing_ok=True)


class Collector:
    def __init__(self) -> None:
        self.scans: list[Scan] = []
        self._lock = threading.Lock()

    def __call__(self, scan: Scan) -> None:
        with self._lock:
            self.scans.append(scan)

    def wait(self, n: int, timeout: float = 2.0) -> list[Scan]:
        wait_until(lambda: len(self.scans) >= n, timeout)
        return list(self.scans)


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[Pty]:
    p = Pty(tmp_path / "ttyScanner")
    yield p
    with contextlib.suppress(OSError):
        p.close()


@pytest.mark.parametrize("terminator", TERMINATORS)
def test_serial_scanner_reads_each_terminator_from_a_pty(pty: Pty, terminator: str) -> None:
    got = Collector()
    scanner = SerialScanner(
        name="lector", port=str(pty.link), terminator=terminator, prefix="#", on_scan=got
    )
    scanner.start()
    try:
        assert wait_until(lambda: scanner.status().connected)
        end = TERMINATORS[terminator]
        before = time.time()
        pty.write(b"#]E07790001000019" + end + b"#]Q1https://x.uy/?hello_session=ab")
        pty.write(end + b"ABC" + end)
        scans = got.wait(3)
        after = time.time()
    finally:
        scanner.stop()
    assert [(s.code, s.symbology, s.source) for s in scans] == [
        ("7790001000019", "EAN13", "lector"),
        ("https://x.uy/?hello_session=ab", "QR", "lector"),
        ("ABC", None, "lector"),
    ]
    assert all(before <= s.at <= after for s in scans)
    assert scanner.status().scans == 3


def test_serial_scanner_pyserial_url(tmp_path: Path) -> None:
    """A pyserial URL works as the port (loop:// reads back what is written to it)."""
    got = Collector()
    scanner = SerialScanner(name="loop", port="loop://", on_scan=got)
    scanner.start()
    try:
        assert wait_until(lambda: scanner._serial is not None)
        port = scanner._serial
        assert port is not None
        port.write(b"]C0LOOP-1\r")
        assert [s.code for s in got.wait(1)] == ["LOOP-1"]
    finally:
        scanner.stop()
