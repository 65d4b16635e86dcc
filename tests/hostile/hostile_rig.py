"""Hostile traffic on 127.0.0.1, bounded in count and time: connections held open and idle,
a header that never ends, and a till daemon at a given descriptor limit to aim them at.

Also used by benchmarks/hostile.py, which prints the figures the acceptance test asserts.
"""

from __future__ import annotations

import contextlib
import resource
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from fake_printer import FakeTcpPrinter, wait_until

HEAD = b"POST /v1/attribution/events HTTP/1.1\r\nHost: till\r\n"


@contextlib.contextmanager
def open_files(wanted: int) -> Iterator[None]:
    """This process may hold `wanted` descriptors (up to the hard limit) while inside."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """The server closed (or reset) the connection within `timeout` (an answer is read and
    discarded on the way)."""
    deadline = time.monotonic() + timeout
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    while (left := deadline - time.monotonic()) > 0:
        if not poller.poll(left * 1000):
            continue
        try:
            if not sock.recv(65536):
                return True
        except OSError:
            return True
    return False


class IdleFlood:
    """Holds `count` connections that send nothing; every `every` seconds it reopens those
    the server closed, as an attacker would. `opened` counts every connect that succeeded."""

    def __init__(self, port: int, count: int, *, every: float = 1.0) -> None:
        self.port, self.count, self.every = port, count, every
        self.socks: list[socket.socket] = []
        self.opened = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idle-flood", daemon=True)

    def start(self) -> IdleFlood:
        self._thread.start()
        return self

    def _connect(self) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        try:
            sock.connect_ex(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            self.failed += 1
            return
        self.socks.append(sock)
        self.opened += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            alive = []
            for sock in self.socks:
                try:
                    gone = sock.recv(1, socket.MSG_PEEK) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    sock.close()
                else:
                    alive.append(sock)
            self.socks = alive
            while len(self.socks) < self.count and not self._stop.is_set():
                self._connect()
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.socks:
            sock.close()
        self.socks = []


class EndlessHeader:
    """Sends one header of up to `size` bytes, again and again, in 64 KiB pieces, until the
    server answers or closes; records each attempt as (bytes the kernel took, seconds, the
    answer's status line)."""

    def __init__(self, port: int, size: int = 128 << 20) -> None:
        self.port, self.size = port, size
        self.attempts: list[tuple[int, float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="endless-header", daemon=True)

    def start(self) -> EndlessHeader:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.attempts.append(self._once())
            self._stop.wait(0.2)

    def _once(self) -> tuple[int, float, bytes]:
        piece = memoryview(b"X-Pad: " + b"a" * 65529)
        sent, began = 0, time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(HEAD)
            sock.setblocking(False)
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLOUT)
            while sent < self.size and not self._stop.is_set():
                events = dict(poller.poll(1000)).get(sock.fileno(), 0)
                if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    break  # an answer (or a close) came
                if events & select.POLLOUT:
                    try:
                        sent += sock.send(piece[sent % len(piece):])
                    except BlockingIOError:
                        continue
                    except OSError:
                        break
            took = time.monotonic() - began
            return sent, took, _first_line(sock)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _first_line(sock: socket.socket) -> bytes:
    try:
        sock.setblocking(True)
        sock.settimeout(2)
        return sock.recv(4096).split(b"\r\n", 1)[0]
    except OSError:
        return b""


def print_latencies(printer: FakeTcpPrinter, port: int, jobs: list[bytes]) -> list[float]:
    """Each job printed through the tap as the POS does (one connection), and the seconds
    until the printer had every byte of it."""
    took = []
    for job in jobs:
        before = len(printer.connections)
        began = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as pos:
            pos.sendall(job)

        def arrived(before: int = before, job: bytes = job) -> bool:
            with printer._lock:
                return len(printer.connections) > before and printer.connections[-1] == job

        assert wait_until(arrived, 10), "a receipt never reached the printer"
        took.append(time.perf_counter() - began)
        time.sleep(0.05)  # a till prints a few receipts a minute, not back to back
    return took


def p99(values: list[float]) -> float:
    """Nearest rank: over 20 values, the largest."""
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, int(0.99 * len(ranked)))]


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"median {statistics.median(ms):.1f} ms, p99 {p99(values) * 1000:.1f} ms,"
            f" max {max(ms):.1f} ms over {len(ms)}")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def spawn_at_fd_limit(
    command: list[str], soft: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """`command` as a child whose soft RLIMIT_NOFILE is `soft` (systemd's default is 1024)."""

    def limit() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    with open(log, "ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=out, preexec_fn=limit)


PYTHON = sys.executable
