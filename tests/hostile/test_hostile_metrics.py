"""/metrics under hostile clients (issue 24, finding 4): before, prometheus_client gave every
connection a thread and no deadline (300 half-sent requests held 311 threads). Now it has
the ingest endpoint's bounds: a small budget, a header deadline and the header caps."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fake_printer import free_port, wait_until
from hostile_rig import closed_by_peer

from agent.daemon.metrics import MetricsServer, Snapshot

HALF = b"GET /metrics HTTP/1.1\r\nHost: till\r\n"  # the blank line never comes


@pytest.fixture
def metrics() -> Iterator[MetricsServer]:
    listen = f"127.0.0.1:{free_port()}"
    server = MetricsServer(listen, lambda: Snapshot({"pending": 3}, None, {}, {}))
    server.start()
    yield server
    server.stop()


def test_300_half_sent_requests_hold_no_threads_and_are_closed(metrics: MetricsServer) -> None:
    threads = threading.active_count()
    socks = []
    for _ in range(300):
        sock = socket.create_connection(("127.0.0.1", metrics.port))
        sock.sendall(HALF)
        socks.append(sock)
    began = time.monotonic()
    try:
        time.sleep(0.5)
        assert threading.active_count() - threads < 5  # before: one thread each
        refused = sum(closed_by_peer(s, 0.2) for s in socks)
        assert refused >= 300 - metrics.limits.max_connections - 1  # over the budget
        assert all(closed_by_peer(s, 8.0 - (time.monotonic() - began)) for s in socks)
    finally:
        for sock in socks:
            sock.close()
    assert wait_until(lambda: scrapes(metrics.port), 5)  # refused ones linger a second


def scrapes(port: int) -> bool:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    except httpx.HTTPError:
        return False
    return 'hellotext_agent_outbox_events{state="pending"} 3.0' in answer.text


def test_a_huge_header_is_431_at_once(metrics: MetricsServer) -> None:
    with socket.create_connection(("127.0.0.1", metrics.port)) as sock:
        sock.sendall(HALF + b"X-Pad: " + b"a" * 40_000)
        sock.settimeout(3)
        assert sock.recv(4096).startswith(b"HTTP/1.1 431")
