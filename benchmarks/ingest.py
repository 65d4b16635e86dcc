"""The ingest endpoint's figures: 4 clients post 20,000 events over keep-alive connections to
a running `hellotext-agent run` (a subprocess, as systemd runs it, outbox synchronous=FULL).

Each request is timed from the first byte written to its 200, which the daemon sends only
after the event's transaction committed: the latency to a durable answer. The daemon's RSS
(VmRSS in /proc) is read after start-up and after the last event. The clients are threads of
this process speaking HTTP/1.1 on raw sockets (each request prebuilt, each answer read by its
Content-Length), like wrk: on a 2-core machine they share the CPU with the daemon, and the
stdlib's http.client would spend more of it than the daemon does. Their CPU per event is
printed too; the figures are a floor, not a ceiling.

Usage: uv run python benchmarks/ingest.py [--events 20000] [--clients 4]
Targets (issue 12): >= 1,000 events/s, p99 <= 20 ms, RSS + <= 10 MB.
"""

from __future__ import annotations

import argparse
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


def _request(body: bytes) -> bytes:
    head = (
        "POST /v1/attribution/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _answer(sock: socket.socket, buf: bytearray) -> tuple[int, bytes]:
    """One HTTP/1.1 answer off a keep-alive connection: its status and body."""
    while (end := buf.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the daemon closed the connection")
        buf += chunk
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    length = next(
        int(h.split(":", 1)[1]) for h in head[1:] if h.lower().startswith("content-length:")
    )
    while len(buf) < end + 4 + length:
        buf += sock.recv(65536)
    body = bytes(buf[end + 4 : end + 4 + length])
    del buf[: end + 4 + length]
    return status, body


def client(port: int, count: int, offset: int, latencies: list[float]) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    for n in range(count):
        body = json.dumps(
            {
                "action": "evento.asistio",
                "profile": f"prof{(offset + n) % 997}",
                "amount": 10.5,
                "currency": "UYU",
                "metadata": {"seat": offset + n},
            }
        ).encode()
        started = time.perf_counter()
        sock.sendall(_request(body))
        status, _ = _answer(sock, buf)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"answer {status}")
    sock.close()


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
            mine_before = time.process_time()
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
            mine = time.process_time() - mine_before
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
    print(
        f"CPU per event: daemon {cpu / total * 1e6:.0f} us, clients {mine / total * 1e6:.0f} us;"
        f" load average {load:.1f}"
    )
    print(f"daemon RSS: {before / 1024:.1f} MB before, {after / 1024:.1f} MB after"
          f" (+{(after - before) / 1024:.1f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
