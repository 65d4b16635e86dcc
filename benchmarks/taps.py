"""What the printer taps cost: latency added per chunk and throughput of a 1 MB job.

    uv run python benchmarks/taps.py [--chunks 2000] [--size 1048576] [--rounds 10]

Latency: the POS sends a small chunk ending in `DLE EOT 1` and waits for the fake printer's
status byte, 2,000 times; measured through the tcp tap and, in the same run, straight to the
fake printer over loopback, in four blocks taken in the order direct, tap, tap, direct (so a
change of load during the run weighs on both alike). The difference is what the tap adds
(target: p99 <= 2 ms).
Throughput: a 1 MB job until the printer has every byte (target: >= 5 MB/s through the tap),
`--rounds` times each way, the order alternating each round. The printer's receiving thread
counts bytes in a blocking read and sets an event on the last one: the clock stops then, not
at the next poll. Reported: the medians and the median of the rounds' ratios tap / direct.
The serial tap (pty -> pty) is measured for latency, for comparison.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fake_printer import FakePtyPrinter, FakeTcpPrinter  # noqa: E402

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


class CountingPrinter:
    """The throughput run's printer: one job per connection, its bytes counted by a blocking
    `recv` loop that sets an event the moment the last byte of the expected size is in."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._want = 0
        self._done = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def expect(self, size: int) -> threading.Event:
        self._want, self._done = size, threading.Event()
        return self._done

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._count, args=(conn, self._want, self._done),
                             daemon=True).start()

    @staticmethod
    def _count(conn: socket.socket, want: int, done: threading.Event) -> None:
        got = 0
        with conn:
            while chunk := conn.recv(1 << 16):
                got += len(chunk)
                if got >= want:
                    done.set()

    def close(self) -> None:
        self._server.close()


def tcp_throughput(address: tuple[str, int], printer: CountingPrinter, size: int) -> float:
    job = (b"Linea de ticket 0123456789 ABCDEFGHIJ\n" * (size // 38 + 1))[:size]
    done = printer.expect(size)
    t = time.perf_counter()
    with socket.create_connection(address) as s:
        s.sendall(job)
        if not done.wait(30):
            raise SystemExit("the printer did not get the whole job")
        elapsed = time.perf_counter() - t
    return size / elapsed / 1e6


def show(label: str, ms: list[float]) -> None:
    print(f"  {label:<26} p50 {statistics.median(ms):7.3f} ms   p99 {percentile(ms, 0.99):7.3f} ms")


def bench_tcp(chunks: int, size: int, rounds: int) -> None:
    printer = FakeTcpPrinter().start()
    sink = NullSink()
    tap = TcpTap(TapOptions("bench", "tcp", listen="127.0.0.1:0", target=printer.target), sink)
    tap.start()
    counting = CountingPrinter()
    bulk_sink = NullSink()
    bulk_tap = TcpTap(
        TapOptions("bulk", "tcp", listen="127.0.0.1:0", target=f"127.0.0.1:{counting.port}"),
        bulk_sink,
    )
    bulk_tap.start()
    try:
        direct: list[float] = []
        tapped: list[float] = []
        block = max(1, chunks // 4)
        straight = ("127.0.0.1", printer.port)
        for address, out in ((straight, direct), (tap.address, tapped),
                             (tap.address, tapped), (straight, direct)):  # ABBA
            out += tcp_round_trips(address, block)
        print(f"tcp tap, {chunks} chunks of {len(CHUNK)} B, each answered by the printer:")
        show("direct loopback", direct)
        show("through the tap", tapped)
        added50 = statistics.median(tapped) - statistics.median(direct)
        added99 = percentile(tapped, 0.99) - percentile(direct, 0.99)
        print(f"  {'added by the tap':<26} p50 {added50:7.3f} ms   p99 {added99:7.3f} ms"
              f"   (target p99 <= 2 ms: {'ok' if added99 <= 2 else 'MISSED'})")
        direct_runs: list[float] = []
        tapped_runs: list[float] = []
        for n in range(rounds):  # the order alternates: neither side always runs warm
            ways = [(("127.0.0.1", counting.port), direct_runs), (bulk_tap.address, tapped_runs)]
            for address, out in ways if n % 2 == 0 else ways[::-1]:
                out.append(tcp_throughput(address, counting, size))
        direct_mbs, tapped_mbs = statistics.median(direct_runs), statistics.median(tapped_runs)
        print(f"tcp tap, a {size / 1e6:.1f} MB job, {rounds} rounds (median, min-max):")
        print(f"  {'direct loopback':<26} {direct_mbs:8.1f} MB/s"
              f"   ({min(direct_runs):.1f}-{max(direct_runs):.1f})")
        print(f"  {'through the tap':<26} {tapped_mbs:8.1f} MB/s"
              f"   ({min(tapped_runs):.1f}-{max(tapped_runs):.1f})"
              f"   (target >= 5 MB/s: {'ok' if tapped_mbs >= 5 else 'MISSED'})")
        # Per round (the two runs of a round are next to each other in time), then the median.
        ratio = statistics.median(t / d for d, t in zip(direct_runs, tapped_runs, strict=True))
        print(f"  {'ratio tap / direct':<26} {ratio:8.2f}   (median of the rounds' ratios)")
        status = bulk_tap.status()
        print(f"  sink got {bulk_sink.bytes} B, dropped {status.sink_dropped} chunks")
    finally:
        tap.stop(2)
        bulk_tap.stop(2)
        counting.close()
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
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    bench_tcp(args.chunks, args.size, args.rounds)
    bench_serial(args.chunks)


if __name__ == "__main__":
    main()
