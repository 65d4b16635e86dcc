"""The pipeline between taps and the outbox: receipts without a cut end after an idle gap,
a receipt seen twice is stored once, and a full disk keeps sales in memory until it has room.

Bytes are python-escpos jobs handed to the sink as a tap would; the outbox is a real SQLite
file (on a real 1 MB tmpfs for the full-disk case).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from escpos.printer import Dummy
from fake_printer import wait_until

from agent.cli import main
from agent.config import AgentConfig
from agent.daemon.captures import Captures
from agent.daemon.pipeline import Pipeline
from agent.delivery.outbox import Outbox
from drivers.scanners.base import Scan


def job(number: str, *, cut: bool = True) -> bytes:
    p = Dummy()
    p.charcode("CP858")
    p.text(f"e-Ticket {number}\nFecha: 21/11/2026 10:15\n")
    p.text("Café molido 250g".ljust(30) + "189,90".rjust(12) + "\n")
    p.text("TOTAL".ljust(30) + "189,90".rjust(12) + "\n")
    p.text("EFECTIVO".ljust(30) + "189,90".rjust(12) + "\n")
    if cut:
        p.cut()
    return bytes(p.output)


def config(path: Path, *, price_checker: bool = False) -> AgentConfig:
    return AgentConfig(
        store={"terminal_id": "caja-1", "timezone": "UTC"},
        outbox={"path": path},
        printer=[{"name": "caja", "mode": "spool", "path": "/tmp", "idle_seconds": 0.3}],
        checkout={"price_checker": price_checker},
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Pipeline, Outbox]]:
    cfg = config(tmp_path / "outbox.db")
    with Outbox(cfg.outbox.path, synchronous="normal") as outbox:
        pipeline = Pipeline(cfg, outbox, local_zone=None)
        pipeline.start()
        yield pipeline, outbox
        pipeline.stop()


def test_a_receipt_without_a_cut_ends_after_the_idle_gap(tmp_path: Path) -> None:
    cfg = config(tmp_path / "outbox.db")
    committed_at: list[float] = []
    with Outbox(cfg.outbox.path, synchronous="normal") as outbox:
        pipeline = Pipeline(
            cfg, outbox, local_zone=None, on_committed=lambda *_: committed_at.append(time.time())
        )
        pipeline.start()
        try:
            sink = pipeline.sink(cfg.printer[0])
            fed_at = time.time()
            sink.data("caja#1", job("0001-00000001", cut=False))
            assert wait_until(lambda: outbox.counts()["pending"] == 2)  # payment + one product
        finally:
            pipeline.stop()
    # Not ended before the gap (maybe more was coming), however slowly the machine runs.
    (at,) = committed_at
    assert at - fed_at >= cfg.printer[0].idle_seconds


def test_the_same_receipt_twice_is_stored_once(running: tuple[Pipeline, Outbox]) -> None:
    pipeline, outbox = running
    sink = pipeline.sink(pipeline.config.printer[0])
    for stream in ("caja#1", "caja#2"):  # a reprint, on another connection
        sink.data(stream, job("0001-00000002"))
        sink.end(stream)
    assert wait_until(lambda: pipeline.stats.receipts == 2)
    assert outbox.counts()["pending"] == 2
    assert pipeline.stats.duplicates == 2


def test_a_broken_job_is_counted_and_the_next_receipt_still_read(
    running: tuple[Pipeline, Outbox],
) -> None:
    pipeline, outbox = running
    sink = pipeline.sink(pipeline.config.printer[0])
    sink.data("caja#1", b"\x1b@garbage without a total\n\x1dV\x00")
    sink.data("caja#1", job("0001-00000003"))
    assert wait_until(lambda: pipeline.stats.receipts == 1)
    assert pipeline.stats.unread == 1
    assert outbox.counts()["pending"] == 2
    # The unread job is kept, private, for the installer's `parse --explain`.
    (kept,) = (Path(outbox.path).parent / "captures").glob("*.bin")
    assert kept.read_bytes().startswith(b"\x1b@garbage without a total")
    assert kept.stat().st_mode & 0o777 == 0o600
    assert main(["parse", str(kept), "--explain"]) == 1  # and it says why


def test_captures_keep_only_the_newest(tmp_path: Path) -> None:
    captures = Captures(tmp_path / "captures", keep=2)
    for n in range(4):
        captures.save("caja", bytes([n]), now=1_800_000_000 + n, reason="test")
    kept = sorted((tmp_path / "captures").glob("*.bin"))
    assert [p.read_bytes() for p in kept] == [b"\x02", b"\x03"]


def test_price_checker_records_product_views(tmp_path: Path) -> None:
    cfg = config(tmp_path / "outbox.db", price_checker=True)
    with Outbox(cfg.outbox.path, synchronous="normal") as outbox:
        pipeline = Pipeline(cfg, outbox, local_zone=None)
        pipeline.start()
        pipeline.scan_callback("lector")(Scan("7730241003258", "EAN13", time.time()))
        assert wait_until(lambda: outbox.counts()["pending"] == 1)
        pipeline.stop()
        (row,) = outbox.list()
        assert row.event.action == "product.viewed"
        assert row.event.object_parameters is not None
        assert row.event.object_parameters["reference"] == "7730241003258"


def test_a_full_disk_keeps_sales_in_memory_until_there_is_room(small_disk: Path) -> None:
    cfg = config(small_disk / "outbox.db")
    with Outbox(cfg.outbox.path, synchronous="normal") as outbox:
        pipeline = Pipeline(cfg, outbox, local_zone=None)
        pipeline.start()
        sink = pipeline.sink(cfg.printer[0])
        sink.data("caja#1", job("0001-00000010"))
        assert wait_until(lambda: outbox.counts()["pending"] == 2)
        ballast = small_disk / "ballast"
        with open(ballast, "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        for n in range(11, 16):
            sink.data("caja#1", job(f"0001-{n:08d}"))
        assert wait_until(lambda: pipeline.stats.held_in_memory >= 2)
        assert pipeline.alive()
        assert outbox.counts()["pending"] == 2  # what was committed is intact
        ballast.unlink()
        assert wait_until(lambda: outbox.counts()["pending"] == 12, timeout=20)
        assert pipeline.stats.held_in_memory == 0
        pipeline.stop()
