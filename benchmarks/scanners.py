"""Scanner figures: pure decoder throughput and pty-to-callback latency of SerialScanner.

    uv run python benchmarks/scanners.py

A till scans a few codes a second, so these are headroom figures: they show the decoders
and the classifier cost microseconds per scan and a serial scan reaches the agent within
about a millisecond of its terminator.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from drivers.scanners.barcodes import VariableMeasureLayout, classify
from drivers.scanners.base import Scan, ScanFramer
from drivers.scanners.hid import HidDecoder
from drivers.scanners.keymaps import encode
from drivers.scanners.serial import SerialScanner


def framer_throughput() -> None:
    frame = b"]E07790001000019\r"
    data = frame * 200_000
    framer = ScanFramer(terminator="cr")
    started = time.perf_counter()
    scans = 0
    for i in range(0, len(data), 4096):
        scans += len(framer.feed(data[i : i + 4096], now=0.0))
    took = time.perf_counter() - started
    print(f"ScanFramer: {len(data) / took / 1e6:.1f} MB/s, {scans / took:,.0f} scans/s")


def hid_throughput() -> None:
    events = encode("]Q1https://hellotext.com/s?hello_session=AbC_12-x.9&ref=qr", "latam")
    decoder = HidDecoder(layout="latam")
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        for type_, code, value in events:
            decoder.feed(type_, code, value, at=0.0)
    took = time.perf_counter() - started
    print(
        f"HidDecoder: {rounds * len(events) / took:,.0f} events/s, "
        f"{rounds / took:,.0f} 60-char QR scans/s"
    )


def classify_rate() -> None:
    codes = [
        ("7790001000019", "EAN13"), ("2001234012348", "EAN13"),
        ("010703206980498810LOT7\x1d3103000525", "GS1-128"),
        ("https://hellotext.com/c?hello_session=abc", "QR"), ("tel:+59899123456", "QR"),
        ("099 123 456", "QR"), ("LOY-004211", "CODE128"), ("hello", None),
    ]  # fmt: skip
    layouts = (VariableMeasureLayout(),)
    rounds = 1000
    started = time.perf_counter()
    for _ in range(rounds):
        for code, symbology in codes:
            classify(code, symbology=symbology, layouts=layouts, loyalty_pattern=r"LOY-\d{6}")
    took = time.perf_counter() - started
    print(f"classify (mixed codes): {rounds * len(codes) / took:,.0f} codes/s")


def serial_latency(samples: int = 300) -> None:
    master, slave = os.openpty()
    name = os.ttyname(slave)
    os.close(slave)
    got: list[float] = []
    arrived = threading.Event()

    def on_scan(scan: Scan) -> None:
        got.append(time.perf_counter())
        arrived.set()

    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "ttyScanner"
        link.symlink_to(name)
        scanner = SerialScanner(name="bench", port=str(link), on_scan=on_scan)
        scanner.start()
        deadline = time.monotonic() + 2
        while not scanner.status().connected and time.monotonic() < deadline:
            time.sleep(0.01)
        waits: list[float] = []
        for _ in range(samples):
            arrived.clear()
            sent = time.perf_counter()
            os.write(master, b"]E07790001000019\r")
            if not arrived.wait(1.0):
                break
            waits.append((got[-1] - sent) * 1000)
        scanner.stop()
    os.close(master)
    waits.sort()
    p99 = waits[int(len(waits) * 0.99) - 1]
    print(
        f"SerialScanner pty -> on_scan: p50 {statistics.median(waits):.3f} ms, "
        f"p99 {p99:.3f} ms ({len(waits)} scans)"
    )


if __name__ == "__main__":
    framer_throughput()
    hid_throughput()
    classify_rate()
    serial_latency()
