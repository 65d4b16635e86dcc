"""The ingest endpoint's figures: 4 clients post 20,000 events over keep-alive connections to
a running `hellotext-agent run` (a subprocess, as systemd runs it, outbox synchronous=FULL).

Each request is timed from the first byte written to its 200, which the daemon sends only
after the event's transaction committed: the latency to a durable answer. The daemon's RSS
(VmRSS in /proc) is read after start-up and after the last event. The clients are threads of
this process with the stdlib's http.client: on a 2-core machine they share the CPU with the
daemon, so the figures are a floor, not a ceiling.

Usage: uv run python benchmarks/ingest.py [--events 20000] [--clients 4]
Targets (issue 12): >= 1,000 events/s, p99 <= 20 ms, RSS + <= 10 MB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TOKEN = "bench-ingest-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the ingest endpoint never listened")


def client(port: int, count: int, offset: int, latencies: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    for n in range(count):
        body = json.dumps(
            {
                "action": "evento.asistio",
                "profile": f"prof{(offset + n) % 997}",
                "amount": 10.5,
                "currency": "UYU",
                "metadata": {"seat": offset + n},
            }
        )
        started = time.perf_counter()
        conn.request("POST", "/v1/attribution/events", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        latencies.append(time.perf_counter() - started)
        if answer.status != 200:
            raise SystemExit(f"answer {answer.status}")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = Path(tmp) / "agent.toml"
        db = Path(tmp) / "outbox.db"
        config.write_text(
            f'[outbox]\npath = "{db}"\nsynchronous = "full"\n'
            f'[ingest]\nlisten = "127.0.0.1:{port}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTEXT_")}
        env["HELLOTEXT_INGEST_TOKEN"] = TOKEN  # no Hellotext token: events are kept
        command = [sys.executable, "-m", "agent.cli", "--config", str(config), "run"]
        daemon = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_listening(port, daemon)
            time.sleep(1.0)  # start-up's memory release
            before = rss_kb(daemon.pid)
            cpu_before = cpu_seconds(daemon.pid)
            per = args.events // args.clients
            lists: list[list[float]] = [[] for _ in range(args.clients)]
            threads = [
                threading.Thread(target=client, args=(port, per, i * per, lists[i]))
                for i in range(args.clients)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            after = rss_kb(daemon.pid)
            cpu = cpu_seconds(daemon.pid) - cpu_before
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
        stored = sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]
    latencies = sorted(x for part in lists for x in part)
    total = len(latencies)
    p99 = latencies[min(total - 1, int(total * 0.99))]
    print(f"events: {total} by {args.clients} keep-alive clients, {stored} in the outbox")
    print(f"throughput: {total / elapsed:,.0f} events/s ({elapsed:.1f} s)")
    print(
        f"latency to a durable 200: p50 {statistics.median(latencies) * 1000:.1f} ms,"
        f" p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )
    load = os.getloadavg()[0]
    print(f"daemon CPU: {cpu / total * 1e6:.0f} us per event; load average {load:.1f}")
    print(f"daemon RSS: {before / 1024:.1f} MB before, {after / 1024:.1f} MB after"
          f" (+{(after - before) / 1024:.1f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
