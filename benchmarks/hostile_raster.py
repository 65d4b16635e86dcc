"""Raster floods against the daemon: memory and the parser's pace (issue 24, finding 5).

Runs `hellotext-agent run` as a child process with a tcp tap in front of a printer that
hashes what it gets, prints one big GS v 0 job and one big Star raster job at a POS's pace,
and prints per job: whether the printer got every byte, the daemon's RSS during the job
(sampled every 20 ms), after it and its peak (VmHWM), how long after the last byte the
parser was done with it, and the capture's size. Also the capture masker's speed.

Usage: uv run python benchmarks/hostile_raster.py [--mb 200] [--rate 8]
Target: RSS under 100 MB during and after any job.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

# benchmarks/escpos.py would shadow the python-escpos package the fault rig imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "hostile"), str(ROOT / "tests"), str(ROOT)]
import test_hostile_raster as rig  # noqa: E402  (the hostile test's jobs and printer)

from agent.daemon.health import read_status, status_file  # noqa: E402
from agent.redact import redact_job  # noqa: E402
from agent.standin.server import FakeHellotext  # noqa: E402
from tests.faults.faultrig import TOKEN, daemon_config, free_port, run_daemon, until  # noqa: E402


def one(kind: str, tmp: Path, rate: float) -> None:
    fake = FakeHellotext(token=TOKEN).start()
    printer = rig.HashingPrinter().start()
    port, runtime, captures = free_port(), tmp / "run", tmp / "captures"
    config = daemon_config(
        tmp, outbox=tmp / "outbox.db", runtime=runtime, api_url=fake.url, port=port,
        printer=printer.target, extra=f'[receipts]\nocr = "off"\ncapture_dir = "{captures}"\n',
    )  # fmt: skip
    daemon = run_daemon(config, tmp / "daemon.log")
    live = status_file(str(runtime), tmp / "outbox.db")

    def pipeline() -> dict[str, int]:
        return ((read_status(live) or {}).get("devices") or {}).get("pipeline") or {}

    try:
        until(lambda: read_status(live) is not None, 30)
        sampler = rig.Sampler(daemon.pid)
        sent, size, began = hashlib.sha256(), 0, time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as pos:
            for piece in (rig.gs_v0_job if kind == "gs-v-0" else rig.star_job)():
                sent.update(piece)
                size += len(piece)
                pos.sendall(piece)
                time.sleep(max(0.0, began + size / rate - time.monotonic()))
        last_byte = time.monotonic()
        until(lambda: pipeline().get("pictures_dropped"), 120)
        parsed = time.monotonic() - last_byte
        until(lambda: any(p.stat().st_size == size for p in captures.glob("*.bin")), 30)
        during, after = sampler.stop(), rig.rss_kb(daemon.pid)
        peak = rig.rss_kb(daemon.pid, "VmHWM:")
        kept = max((p.stat().st_size for p in captures.glob("*.bin")), default=0)
        whole = printer.jobs == [(size, sent.hexdigest())]
        print(f"{kind:<12} {size / rig.MB:5.0f} MB at {rate / rig.MB:.0f} MB/s: printer "
              f"{'got every byte' if whole else 'MISSED BYTES'}; RSS during {during // 1024} MB,"
              f" after {after // 1024} MB, peak {peak // 1024} MB; parser done "
              f"{parsed:.1f} s after the last byte; capture {kept / rig.MB:.0f} MB; "
              f"chunks dropped {pipeline().get('dropped_chunks', 0)}")  # fmt: skip
    finally:
        daemon.terminate()
        daemon.wait(20)
        printer.stop()
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rate", type=float, default=8, help="MB/s the POS sends")
    args = parser.parse_args()
    rig.JOB_BYTES = args.mb * rig.MB
    data = os.urandom(16 * rig.MB)
    started = time.perf_counter()
    redact_job(data)
    print(f"capture masking: {16 / (time.perf_counter() - started):.0f} MB/s of random bytes")
    for kind in ("gs-v-0", "star-raster"):
        with tempfile.TemporaryDirectory() as tmp:
            one(kind, Path(tmp), args.rate * rig.MB)


if __name__ == "__main__":
    main()
