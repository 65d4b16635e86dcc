"""What the printer taps cost: latency added per chunk and throughput of a 1 MB job.

    uv run python benchmarks/taps.py [--chunks 2000] [--size 1048576]

Latency: the POS sends a small chunk ending in `DLE EOT 1` and waits for the fake printer's
status byte, 2,000 times; measured through the tcp tap and, in the same run, straight to the
fake printer over loopback. The difference is what the tap adds (target: p99 <= 2 ms).
Throughput: one 1 MB job through the tap until the printer has every byte (target: >= 5 MB/s).
The serial tap (pty -> pty) is measured the same way, for comparison.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fake_printer import FakePtyPrinter, FakeTcpPrinter, wait_until  # noqa: E402

from drivers.taps import TapOptions, open_tap  # noqa: E402
from drivers.taps.tcp import TcpTap  # noqa: E402

CHUNK = b"\x1b!\x00Cafe con leche 1.250,00\n\x10\x04\x01"  # text line + status request


class NullSink:
    """A parser that keeps up: counts bytes."""

    def __init__(self) -> None:
        self.bytes = 0

    def data(self, stream: str, chunk: bytes) -> None:
        self.bytes += len(chunk)

    def end(self, stream: str) -> None:
        pass


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def round_trips(send: Callable[[bytes], None], recv1: Callable[[], bytes], n: int) -> list[float]:
    """Milliseconds from sending a chunk to reading the printer's 1-byte answer."""
    for _ in range(50):  # warm-up
        send(CHUNK)
        recv1()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        send(CHUNK)
        if recv1() != b"\x16":
            raise SystemExit("wrong status answer")
        times.append((time.perf_counter() - t) * 1000)
    return times


def tcp_round_trips(address: tuple[str, int], n: int) -> list[float]:
    with socket.create_connection(address) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return round_trips(s.sendall, lambda: s.recv(1), n)


def tcp_throughput(address: tuple[str, int], printer: FakeTcpPrinter, size: int) -> float:
    job = (b"Linea de ticket 0123456789 ABCDEFGHIJ\n" * (size // 38 + 1))[:size]
    before = len(printer.connections)
    t = time.perf_counter()
    with socket.create_connection(address) as s:
        s.sendall(job)
    # Only the new connection's buffer is read: polling is cheap and 1 ms-accurate.
    if not wait_until(lambda: len(printer.connections) > before
                      and len(printer.connections[before]) == size, 30):
        raise SystemExit("the printer did not get the whole job")
    return size / (time.perf_counter() - t) / 1e6


def show(label: str, ms: list[float]) -> None:
    print(f"  {label:<26} p50 {statistics.median(ms):7.3f} ms   p99 {percentile(ms, 0.99):7.3f} ms")


def bench_tcp(chunks: int, size: int) -> None:
    printer = FakeTcpPrinter().start()
    sink = NullSink()
    tap = TcpTap(TapOptions("bench", "tcp", listen="127.0.0.1:0", target=printer.target), sink)
    tap.start()
    try:
        direct = tcp_round_trips(("127.0.0.1", printer.port), chunks)
        tapped = tcp_round_trips(tap.address, chunks)
        print(f"tcp tap, {chunks} chunks of {len(CHUNK)} B, each answered by the printer:")
        show("direct loopback", direct)
        show("through the tap", tapped)
        added50 = statistics.median(tapped) - statistics.median(direct)
        added99 = percentile(tapped, 0.99) - percentile(direct, 0.99)
        print(f"  {'added by the tap':<26} p50 {added50:7.3f} ms   p99 {added99:7.3f} ms"
              f"   (target p99 <= 2 ms: {'ok' if added99 <= 2 else 'MISSED'})")
        direct_mbs = tcp_throughput(("127.0.0.1", printer.port), printer, size)
        tapped_mbs = tcp_throughput(tap.address, printer, size)
        print(f"tcp tap, one {size / 1e6:.1f} MB job:")
        print(f"  {'direct loopback':<26} {direct_mbs:8.1f} MB/s")
        print(f"  {'through the tap':<26} {tapped_mbs:8.1f} MB/s"
              f"   (target >= 5 MB/s: {'ok' if tapped_mbs >= 5 else 'MISSED'})")
        status = tap.status()
        print(f"  sink got {sink.bytes} B, dropped {status.sink_dropped} chunks")
    finally:
        tap.stop(2)
        printer.stop()


def bench_serial(chunks: int) -> None:
    with TemporaryDirectory() as tmp:
        printer = FakePtyPrinter(os.path.join(tmp, "printer")).plug()
        link = os.path.join(tmp, "ttyPOS")
        tap = open_tap(TapOptions("bench", "serial", link=link, target=printer.link,
                                  baudrate=115200), NullSink())
        tap.start()
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            def send(data: bytes) -> None:
                os.write(fd, data)
            ms = round_trips(send, lambda: os.read(fd, 1), chunks)
            print(f"serial tap (pty -> pty, no baud-rate limit), {chunks} chunks:")
            show("through the tap", ms)
        finally:
            os.close(fd)
            tap.stop(2)
            printer.unplug()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--size", type=int, default=1 << 20)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    bench_tcp(args.chunks, args.size)
    bench_serial(args.chunks)


if __name__ == "__main__":
    main()
