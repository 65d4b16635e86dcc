"""How fast and how big the local Hellotext stand-in is (it is the sync benchmark's peer).

    uv run python benchmarks/fake_hellotext.py [--requests 8000] [--rss-events 100000]

Runs `hellotext-agent fake-hellotext` as a separate process, as `benchmarks/sync.py` does,
and prints: the keep-alive round trip of one raw client, event POSTs per second from an
httpx.Client in 4 and 8 threads, the server's CPU time per request, and its RSS after
accepting `--rss-events` events (sent pipelined over raw sockets to be quick).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

import httpx

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TICKS = os.sysconf("SC_CLK_TCK")


def body(i: int) -> bytes:
    event = {
        "action": "tienda_fisica.pago",
        "session": f"pos-caja-{i % 7}",
        "amount": 1234.50,
        "currency": "UYU",
        "tracked_at": "2026-11-26T12:00:00+00:00",
        "metadata": {"agent_event_id": f"bench-{i:08d}", "store": "bench"},
    }
    return json.dumps(event).encode()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        line = next(x for x in f if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def control(url: str, what: str) -> None:
    httpx.post(url.removesuffix("/v1") + f"/_control/{what}").raise_for_status()


def round_trip(url: str, n: int) -> float:
    host, port = url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port))
    headers = {**AUTH, "Content-Type": "application/json"}
    started = time.perf_counter()
    for i in range(n):
        conn.request("POST", "/v1/attribution/events", body=body(i), headers=headers)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
    conn.close()
    return (time.perf_counter() - started) / n


def httpx_rate(url: str, n: int, threads: int) -> float:
    bodies = [body(i) for i in range(n)]
    headers = {**AUTH, "Content-Type": "application/json"}

    def work(part: list[bytes]) -> None:
        for raw in part:
            assert client.post("/attribution/events", content=raw).status_code == 200

    with httpx.Client(base_url=url, headers=headers, limits=httpx.Limits()) as client:
        workers = [
            threading.Thread(target=work, args=(bodies[k::threads],)) for k in range(threads)
        ]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return n / (time.perf_counter() - started)


def pipelined(url: str, n: int, batch: int = 200) -> None:
    """Send n events over one socket, `batch` requests in flight at a time."""
    host, port = url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    reader = sock.makefile("rb")
    for start in range(0, n, batch):
        count = min(batch, n - start)
        requests = []
        for i in range(start, start + count):
            raw = body(i)
            requests.append(
                b"POST /v1/attribution/events HTTP/1.1\r\nHost: bench\r\n"
                b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(raw), raw)
            )
        sock.sendall(b"".join(requests))
        for _ in range(count):
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
    sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--rss-events", type=int, default=100_000)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "fake-hellotext", "--token", TOKEN],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    try:
        url = server.stdout.readline().strip().removeprefix("listening on ")
        print(f"stand-in: {url} (separate process), {os.cpu_count()} cores")
        print(f"idle RSS: {rss_mib(server.pid):.1f} MiB")
        latency = round_trip(url, 2000)
        print(f"one raw keep-alive client: {latency * 1e6:.0f} us/request")
        for threads in (4, 8):
            control(url, "reset")
            cpu = cpu_seconds(server.pid)
            rate = httpx_rate(url, args.requests, threads)
            per = (cpu_seconds(server.pid) - cpu) / args.requests
            print(
                f"httpx.Client, {threads} threads: {rate:6.0f} requests/s "
                f"(server CPU {per * 1e6:.0f} us/request)"
            )
        control(url, "reset")
        started = time.perf_counter()
        pipelined(url, args.rss_events)
        took = time.perf_counter() - started
        print(
            f"{args.rss_events} events pipelined in {took:.1f}s "
            f"({args.rss_events / took:.0f}/s); server RSS {rss_mib(server.pid):.1f} MiB"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


if __name__ == "__main__":
    main()
