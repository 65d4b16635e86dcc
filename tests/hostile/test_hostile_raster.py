"""Issue 24, finding 5: whatever raster a POS sends, the daemon's memory stays bounded. A
200 MB raster job (ESC/POS GS v 0 bands, Star Graphic Mode rows) goes through a real tcp
tap of `hellotext-agent run` (a child process) to a printer that hashes what it gets: every
byte arrives, the pictures past `receipts.max_picture_bytes` are dropped and counted, the
job is kept whole on disk as a capture, and the daemon's RSS (from /proc) stays under
100 MB during and after the job; a text receipt printed next is still read and sent."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fake_printer import FakeTcpPrinter

from agent.daemon.health import read_status, status_file
from agent.standin.server import FakeHellotext
from tests.faults.faultrig import (
    TOKEN,
    daemon_config,
    free_port,
    job,
    once_each,
    run_daemon,
    until,
)

MB = 1 << 20
JOB_BYTES = 200 * MB
RSS_LIMIT_KB = 100 * 1024
# bytes a second: a POS on a 100 Mbit/s LAN sends at most 12 MB/s, a USB printer port 1.5;
# a loaded 2-core test machine must keep up (a POS faster than the parser loses the
# parser's copy, counted, never the printer's)
POS_RATE = 8 * MB
ESC, GS = b"\x1b", b"\x1d"


class HashingPrinter(FakeTcpPrinter):
    """A network printer that keeps a hash and a count per connection, not the bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[tuple[int, str]] = []

    def _serve(self, conn: socket.socket) -> None:
        digest, size = hashlib.sha256(), 0
        with conn:
            while chunk := conn.recv(1 << 18):
                digest.update(chunk)
                size += len(chunk)
        if size:  # the agent's printer probes connect and close: no job
            with self._lock:
                self.jobs.append((size, digest.hexdigest()))


def picture_row(r: int) -> bytes:
    """72 bytes of a dithered picture's row (black, white and halftone bytes)."""
    return bytes(_DOTS[(r * 5 + c * 3 + (r * c) % 7) % len(_DOTS)] for c in range(72))


_DOTS = bytes([0x00, 0x00, 0x00, 0xFF, 0xAA, 0x55, 0xF0, 0x0F, 0x81, 0x7E, 0xC3, 0x3C])


def gs_v0_job() -> Iterator[bytes]:
    """A text line, then 576-dot GS v 0 bands (72 bytes x 1024 rows) to JOB_BYTES, a cut."""
    yield ESC + b"@" + b"FACTURA IMAGEN\n"
    band = b"".join(picture_row(r) for r in range(1024))
    head = GS + b"v0\x00" + bytes([72, 0, 0, 4])
    piece = (head + band) * 14  # about 1 MB
    for _ in range(JOB_BYTES // len(piece)):
        yield piece
    yield GS + b"V\x01"


def star_job() -> Iterator[bytes]:
    """Star Graphic Mode: `b n1 n2` rows of 72 bytes to JOB_BYTES, ESC FF EOT, ESC * r B."""
    yield ESC + b"@" + ESC + b"*rR" + ESC + b"*rA"
    rows = b"".join(b"b\x48\x00" + picture_row(r) for r in range(14000))
    for _ in range(JOB_BYTES // len(rows)):
        yield rows
    yield ESC + b"\x0c\x04" + ESC + b"*rB"


def rss_kb(pid: int, key: str = "VmRSS:") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise AssertionError(f"no {key}")


class Sampler:
    """The daemon's RSS every 20 ms while a job goes through (the peak is VmHWM too)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, rss_kb(self.pid))
            except (OSError, AssertionError):  # the daemon has gone: the test says why
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(2)
        return self.peak


@pytest.fixture
def fake() -> Iterator[FakeHellotext]:
    server = FakeHellotext(token=TOKEN).start()
    yield server
    server.stop()


@pytest.mark.slow  # 200 MB paced at 8 MB/s: ~35 s each, run by .ci/run after the fast suite
@pytest.mark.parametrize("make", [gs_v0_job, star_job], ids=["gs-v-0", "star-raster"])
def test_a_200_mb_raster_job_prints_whole_and_the_daemon_stays_under_100_mb(
    tmp_path: Path, fake: FakeHellotext, make: object
) -> None:
    assert callable(make)
    printer = HashingPrinter().start()
    port, runtime = free_port(), tmp_path / "run"
    captures = tmp_path / "captures"
    config = daemon_config(
        tmp_path, outbox=tmp_path / "outbox.db", runtime=runtime, api_url=fake.url, port=port,
        printer=printer.target, extra=f'[receipts]\nocr = "off"\ncapture_dir = "{captures}"\n',
    )  # fmt: skip
    daemon = run_daemon(config, tmp_path / "daemon.log")
    live = status_file(str(runtime), tmp_path / "outbox.db")
    try:
        assert until(lambda: read_status(live) is not None, 30), "the daemon did not start"
        sampler = Sampler(daemon.pid)
        sent, size, began = hashlib.sha256(), 0, time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as pos:
            for piece in make():
                sent.update(piece)
                size += len(piece)
                pos.sendall(piece)
                time.sleep(max(0.0, began + size / POS_RATE - time.monotonic()))
        assert until(lambda: printer.jobs, 60), "the printer got nothing"
        assert printer.jobs == [(size, sent.hexdigest())], "the printer did not get the job whole"

        def pipeline() -> dict[str, int]:
            return ((read_status(live) or {}).get("devices") or {}).get("pipeline") or {}

        assert until(lambda: pipeline().get("pictures_dropped"), 60), pipeline()
        whole = until(lambda: any(p.stat().st_size == size for p in captures.glob("*.bin")), 30)
        assert whole, (pipeline(), [p.stat().st_size for p in captures.glob("*.bin")])
        during = sampler.stop()
        after = rss_kb(daemon.pid)
        peak = rss_kb(daemon.pid, "VmHWM:")
        assert during < RSS_LIMIT_KB and peak < RSS_LIMIT_KB, (
            f"daemon RSS reached {max(during, peak) // 1024} MB for a {size // MB} MB job")
        assert after < RSS_LIMIT_KB, f"daemon RSS {after // 1024} MB after the job"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as pos:
            pos.sendall(job(1, when=datetime.now(ZoneInfo("America/Montevideo"))))
        assert until(lambda: once_each(fake, range(1, 2)), 30), "a text receipt after it"
    finally:
        daemon.terminate()
        daemon.wait(20)
        printer.stop()
    log = (tmp_path / "daemon.log").read_text()
    assert "max_picture_bytes" in log
