"""The daemon's figures: cut-to-commit latency for 500 printed receipts, idle CPU, RSS.

Runs `hellotext-agent run` as a subprocess (as systemd would) with a tcp tap in front of a
virtual printer, a serial scanner on a pty, and the Hellotext stand-in as another process.
Latency: the benchmark sends each receipt over TCP like a POS and takes the time just before
the last chunk (the one holding the cut) is written; the commit time is the time stamp (ms) of
the daemon's log line for that receipt, written after the outbox transaction committed (the
daemon and this script share the machine's clock). Idle CPU: /proc/PID/stat over 30 s with
nothing printed. RSS: VmRSS and VmHWM of the daemon after the 500 receipts.

Usage: uv run python benchmarks/daemon.py [--receipts 500] [--idle 30]
Targets (issue 5): p99 <= 50 ms, idle CPU <= 1 %, RSS <= 60 MB.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

# benchmarks/escpos.py would shadow the python-escpos package: import it from site-packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
from escpos.printer import Dummy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fake_printer import free_port  # noqa: E402  (the tests' one: below the ephemeral range)

from agent.cli.demo import VirtualPrinter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789"


def receipt(number: int) -> bytes:
    p = Dummy()
    p.charcode("CP858")
    p.set(bold=True, double_height=True)
    p.text("ALMACÉN BENCH\n")
    p.set(normal_textsize=True)
    p.text(f"e-Ticket 0001-{number:08d}\nFecha: 21/11/2026 10:{number % 60:02d}\n")
    total = 0
    for item in range(1 + number % 5):
        price = 100 + 7 * item
        total += price
        p.text(f"77302410{item:04d}5 Producto {item}\n")
        p.text(f"1 x {price},00".ljust(30) + f"{price},00".rjust(12) + "\n")
    p.text("TOTAL".ljust(30) + f"{total},00".rjust(12) + "\n")
    p.text("EFECTIVO".ljust(30) + f"{total},00".rjust(12) + "\n")
    p.qr(f"https://example.uy/cfe?{number}", native=True)
    p.cut()
    return bytes(p.output)


def proc_stat(pid: int) -> tuple[float, int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss, hwm = (int(values[key].split()[0]) for key in ("VmRSS", "VmHWM"))
    return cpu, rss, hwm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=500)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp:
        fake = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "fake-hellotext", "--port", "0", "--token", TOKEN],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert fake.stdout is not None
        url = fake.stdout.readline().split()[-1]
        printer = VirtualPrinter()
        master, slave = os.openpty()
        port = free_port()
        db = Path(tmp) / "outbox.db"
        config = Path(tmp) / "agent.toml"
        config.write_text(
            f'[hellotext]\napi_url = "{url}"\n[store]\ntimezone = "UTC"\n'
            f'[outbox]\npath = "{db}"\n'
            f'[[printer]]\nname = "caja"\nmode = "tcp"\nlisten = "127.0.0.1:{port}"\n'
            f'target = "127.0.0.1:{printer.port}"\n'
            f'[[scanner]]\nname = "lector"\nmode = "serial"\nport = "{os.ttyname(slave)}"\n'
        )
        log = open(Path(tmp) / "daemon.log", "wb")  # noqa: SIM115
        daemon = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "--config", str(config), "run"],
            cwd=ROOT,
            env={**os.environ, "HELLOTEXT_API_TOKEN": TOKEN},
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            jobs = [receipt(n) for n in range(1, args.receipts + 1)]
            sent_at: dict[str, float] = {}
            for number, job in enumerate(jobs, 1):
                with socket.create_connection(("127.0.0.1", port)) as pos:
                    pos.sendall(job[:-64])
                    sent_at[f"0001-{number:08d}"] = time.time()
                    pos.sendall(job[-64:])
                time.sleep(0.01)  # a till prints a receipt at a time, not 500 at once
            latencies = committed_latencies(Path(tmp) / "daemon.log", sent_at, timeout=60)
            cpu0, _, _ = proc_stat(daemon.pid)
            time.sleep(args.idle)
            cpu1, rss, hwm = proc_stat(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(15)
            fake.terminate()
            fake.wait(10)
            printer.close()
            log.close()
            os.close(master)
            os.close(slave)
    report(latencies, len(jobs), cpu1 - cpu0, args.idle, rss, hwm)


def committed_latencies(log: Path, sent_at: dict[str, float], timeout: float) -> list[float]:
    pattern = re.compile(
        r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO agent\.pipeline: receipt (\S+): "
    )
    deadline = time.monotonic() + timeout
    found: dict[str, float] = {}
    while len(found) < len(sent_at) and time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = pattern.match(line)
            if match and match[2] in sent_at:
                stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
                found[match[2]] = stamp.timestamp()
        time.sleep(0.2)
    return sorted((found[n] - sent_at[n]) * 1000 for n in found)


def report(latencies: list[float], jobs: int, cpu: float, idle: float, rss: int, hwm: int) -> None:
    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    print(f"receipts committed: {len(latencies)} of {jobs}")
    if latencies:
        print(
            f"cut -> committed: p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms, "
            f"max {latencies[-1]:.1f} ms, mean {statistics.mean(latencies):.1f} ms "
            "(target p99 <= 50 ms)"
        )
    print(f"idle CPU over {idle:.0f} s: {100 * cpu / idle:.2f} % (target <= 1 %)")
    print(f"RSS after the run: {rss / 1024:.1f} MB, peak {hwm / 1024:.1f} MB (target <= 60 MB)")


if __name__ == "__main__":
    main()
