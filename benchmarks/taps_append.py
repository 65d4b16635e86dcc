"""What `[printer.append]` costs a tcp tap: latency added at the cut, and none elsewhere.

    uv run python benchmarks/taps_append.py [--jobs 200] [--chunks 2000] [--job FILE]

At the cut: the demo's supermarket sale (agent/samples/supermercado.bin) is printed, one TCP
connection per job, through a plain tap and through a tap whose appender is the agent's own
(agent/daemon/append.py: the generic template reads the receipt, the block is built); the
time from the POS's send to the printer holding the whole job (block included) is compared.
The difference is what the hold adds (target: p99 <= 150 ms, the hold's bound). `--job` prints
another sale instead, e.g. a Star Line Mode one from tests/corpus/ (command_set "auto").
Elsewhere: 2,000 status round trips (a text line ending in DLE EOT 1, no cut) through each
tap: the appending tap must add nothing measurable (target: p99 difference <= 2 ms).
The round trips are also measured through two serial taps (pty -> pty).
Kept apart from benchmarks/taps.py (whose polling issue 15 reworks); self-contained.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fake_printer import FakePtyPrinter  # noqa: E402

from agent.config import AppendSection  # noqa: E402
from agent.daemon.append import ReceiptAppender  # noqa: E402
from agent.receipts import load_template  # noqa: E402
from drivers.escpos.blocks import splice  # noqa: E402
from drivers.escpos.select import cuts_of  # noqa: E402
from drivers.taps import TapOptions, open_tap  # noqa: E402
from drivers.taps.tcp import TcpTap  # noqa: E402

STATUS_CHUNK = b"\x1b!\x00Cafe con leche 1.250,00\n\x10\x04\x01"


class Printer:
    """A port-9100 printer that notes when a connection has received `expect` bytes and
    answers DLE EOT at once (no polling: the reading thread signals)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.expect = 0
        self.done = threading.Event()
        self.got_at = 0.0
        self.last_job = b""
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        got = bytearray()
        with conn:
            while chunk := conn.recv(65536):
                if chunk.endswith(b"\x10\x04\x01"):
                    conn.sendall(b"\x16")
                    continue
                got += chunk
                if self.expect and len(got) >= self.expect and not self.done.is_set():
                    self.got_at = time.perf_counter()
                    self.last_job = bytes(got)
                    self.done.set()


class NullSink:
    def data(self, stream: str, chunk: bytes) -> None:
        pass

    def end(self, stream: str) -> None:
        pass


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def show(label: str, ms: list[float]) -> None:
    print(f"  {label:<28} p50 {statistics.median(ms):8.3f} ms   p99 {percentile(ms, 0.99):8.3f} ms")


def jobs_through(tap: TcpTap, printer: Printer, job: bytes, expect: int, n: int) -> list[float]:
    times = []
    for i in range(n + 5):  # five warm-up jobs
        printer.expect, printer.done = expect, threading.Event()
        t = time.perf_counter()
        with socket.create_connection(tap.address) as pos:
            pos.sendall(job)
            if not printer.done.wait(10):
                raise SystemExit("the printer did not get the whole job")
        if i >= 5:
            times.append((printer.got_at - t) * 1000)
    return times


def round_trips(addresses: list[tuple[str, int]], n: int) -> list[list[float]]:
    """Alternating between the taps, so a load spike on the machine hits both alike."""
    socks = [socket.create_connection(address) for address in addresses]
    times: list[list[float]] = [[] for _ in socks]
    try:
        for s in socks:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(n + 50):
            for s, out in zip(socks, times, strict=True):
                t = time.perf_counter()
                s.sendall(STATUS_CHUNK)
                if s.recv(1) != b"\x16":
                    raise SystemExit("wrong status answer")
                if i >= 50:
                    out.append((time.perf_counter() - t) * 1000)
    finally:
        for s in socks:
            s.close()
    return times


def pty_round_trips(tmp: Path, n: int) -> list[list[float]]:
    """The same through two serial taps (pty -> pty), plain and appending, alternating."""
    fds, taps, printers = [], [], []
    try:
        for name, app in (("plain", None), ("append", appender())):
            printer = FakePtyPrinter(str(tmp / f"{name}-printer")).plug()
            printers.append(printer)
            link = str(tmp / f"{name}-pos")
            options = TapOptions(name, "serial", link=link, target=printer.link, baudrate=115200)
            tap = open_tap(options, NullSink(), appender=app)
            tap.start()
            taps.append(tap)
            fds.append(os.open(link, os.O_RDWR | os.O_NOCTTY))
        times: list[list[float]] = [[], []]
        for i in range(n + 50):
            for fd, out in zip(fds, times, strict=True):
                t = time.perf_counter()
                os.write(fd, STATUS_CHUNK)
                if os.read(fd, 1) != b"\x16":
                    raise SystemExit("wrong status answer")
                if i >= 50:
                    out.append((time.perf_counter() - t) * 1000)
        return times
    finally:
        for fd in fds:
            os.close(fd)
        for tap in taps:
            tap.stop(2)
        for printer in printers:
            printer.unplug()


def appender() -> ReceiptAppender:
    settings = AppendSection(
        qr="SMSTO:+59899000000:QUIERO {receipt}",
        lines=["¿Querés ofertas por WhatsApp?", "Escaneá y envianos el mensaje"],
    )
    return ReceiptAppender(settings, load_template("generic"), country="UY", currency="UYU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--job", type=Path, default=ROOT / "agent" / "samples" / "supermercado.bin")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    job = args.job.read_bytes()
    printer = Printer()
    agent_side = appender()
    taps: dict[str, TcpTap] = {}
    for name, app in (("plain", None), ("append", agent_side)):
        target = f"127.0.0.1:{printer.port}"
        options = TapOptions(name, "tcp", listen="127.0.0.1:0", target=target)
        taps[name] = TcpTap(options, NullSink(), appender=app)
        taps[name].start()
    try:
        plain = jobs_through(taps["plain"], printer, job, len(job), args.jobs)
        cut = cuts_of(job)[-1]
        plan = agent_side.plan(cut)
        assert not isinstance(plan, str), plan
        want = splice(job, {cut.start: agent_side.block(plan, cut)})
        size = len(want)
        tapped = jobs_through(taps["append"], printer, job, size, args.jobs)
        if printer.last_job != want:
            raise SystemExit("the printer did not get the job with the block")
        status = agent_side.status()
        print(f"at the cut: {args.jobs} sales of {len(job)} B (+{size - len(job)} B block):")
        show("plain tap", plain)
        show("tap with [printer.append]", tapped)
        added = percentile(tapped, 0.99) - percentile(plain, 0.99)
        added50 = statistics.median(tapped) - statistics.median(plain)
        print(f"  {'added at the cut':<28} p50 {added50:8.3f} ms   p99 {added:8.3f} ms"
              f"   (target p99 <= 150 ms: {'ok' if added <= 150 else 'MISSED'})")
        print(f"  blocks printed {status['printed']}, skipped {status['skipped'] or 'none'}")
        plain_rt, append_rt = round_trips(
            [taps["plain"].address, taps["append"].address], args.chunks
        )
        print(f"elsewhere: {args.chunks} status round trips (no cut):")
        show("plain tap", plain_rt)
        show("tap with [printer.append]", append_rt)
        diff = percentile(append_rt, 0.99) - percentile(plain_rt, 0.99)
        diff50 = statistics.median(append_rt) - statistics.median(plain_rt)
        print(f"  {'difference':<28} p50 {diff50:8.3f} ms   p99 {diff:8.3f} ms"
              f"   (target p99 <= 2 ms: {'ok' if diff <= 2 else 'MISSED'})")
    finally:
        for tap in taps.values():
            tap.stop(2)
        printer.server.close()
    with TemporaryDirectory() as tmp:
        plain_pty, append_pty = pty_round_trips(Path(tmp), args.chunks)
    print(f"elsewhere, serial taps (pty -> pty): {args.chunks} status round trips:")
    show("plain tap", plain_pty)
    show("tap with [printer.append]", append_pty)
    diff = percentile(append_pty, 0.99) - percentile(plain_pty, 0.99)
    diff50 = statistics.median(append_pty) - statistics.median(plain_pty)
    print(f"  {'difference':<28} p50 {diff50:8.3f} ms   p99 {diff:8.3f} ms"
          f"   (target p99 <= 2 ms: {'ok' if diff <= 2 else 'MISSED'})")


if __name__ == "__main__":
    main()
