"""Fake receipt printers for tests and benchmarks: they record bytes and answer status.

`FakeTcpPrinter` is a raw port-9100 server on 127.0.0.1; `FakePtyPrinter` is a pty whose
slave is reachable through a stable symlink (what a tap opens as the printer's port) and
can be unplugged and plugged back. Both answer `DLE EOT n` with one status byte, like a real
printer, and keep every received byte (per connection for TCP).
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from drivers.taps.serialport import PtyLink

DLE_EOT = b"\x10\x04"
# Real-time status answers of an idle, online printer (fixed bits set, error bits clear).
STATUS = {1: 0x16, 2: 0x12, 3: 0x12, 4: 0x12}


class StatusResponder:
    """Finds `DLE EOT n` across chunk boundaries; returns the answer bytes to send."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._tail + chunk
        answers = bytearray()
        i = data.find(DLE_EOT)
        while i != -1 and i + 2 < len(data):
            answers.append(STATUS.get(data[i + 2], 0x12))
            i = data.find(DLE_EOT, i + 3)
        # Keep a possibly incomplete command for the next chunk.
        self._tail = data[i:] if i != -1 else data[-1:] if data.endswith(b"\x10") else b""
        return bytes(answers)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll `predicate` until true or `timeout`; tests assert on the result.

    The one wait of the suite. The deadline is generous (the machine running the tests may be
    loaded): a passing test returns as soon as the predicate holds, only a failure waits it out.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a tap in another process (which cannot hand back the
    port it bound, as an in-process `listen = "127.0.0.1:0"` can).

    Taken below the kernel's ephemeral range, so no `bind(0)` and no outgoing connection
    elsewhere can be given it between this check and the daemon's own bind.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10_000, max(low, 10_001))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


class FakeTcpPrinter:
    """A network printer on 127.0.0.1: one recorded bytearray per connection that sent
    something (a job), in the order their first bytes came; `accepted` counts every
    connection, the agent's probes (connect, close, nothing sent) included."""

    def __init__(self, port: int = 0, *, answer: bool = True) -> None:
        self.port = port
        self.answer = answer
        self.connections: list[bytearray] = []
        self.accepted = 0
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def received(self) -> bytes:
        with self._lock:
            return b"".join(bytes(c) for c in self.connections)

    def start(self) -> FakeTcpPrinter:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.port = server.getsockname()[1]
        self._server = server
        self._spawn(self._accept, server)
        return self

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="fake-printer", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.accepted += 1
                self._socks.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        responder = StatusResponder()
        record: bytearray | None = None
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                with self._lock:
                    if record is None:
                        record = bytearray()
                        self.connections.append(record)
                    record.extend(chunk)
                reply = responder.feed(chunk) if self.answer else b""
                if reply:
                    with contextlib.suppress(OSError):
                        conn.sendall(reply)

    def stop(self) -> None:
        """Switch the printer off: refuse new connections, drop the open ones."""
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:  # a power cut: the peer sees a reset, not a clean end
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RD)  # wakes the serving thread, which closes it
        for thread in self._threads:
            thread.join(2)
        self._threads = []


class FakePtyPrinter:
    """A serial/USB printer: a raw pty at the stable path `link`, unpluggable."""

    def __init__(self, link: str, *, answer: bool = True) -> None:
        self.link = link
        self.answer = answer
        self.data = bytearray()
        self._lock = threading.Lock()
        self._pty: PtyLink | None = None
        self._stop_r, self._stop_w = -1, -1
        self._thread: threading.Thread | None = None

    def received(self) -> bytes:
        with self._lock:
            return bytes(self.data)

    def plug(self) -> FakePtyPrinter:
        self._pty = PtyLink(self.link)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(
            target=self._serve, args=(self._pty.master, self._stop_r),
            name="fake-printer", daemon=True,
        )
        self._thread.start()
        return self

    def send(self, data: bytes) -> None:
        """The printer speaks on its own (e.g. an automatic status back)."""
        assert self._pty is not None
        os.write(self._pty.master, data)

    def _serve(self, master: int, stop: int) -> None:
        responder = StatusResponder()
        poller = select.poll()
        poller.register(master, select.POLLIN)
        poller.register(stop, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if stop in events:
                return
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: nobody has the port open yet
                chunk = b""
            if not chunk:
                time.sleep(0.01)
                continue
            with self._lock:
                self.data.extend(chunk)
            reply = responder.feed(chunk) if self.answer else b""
            if reply:
                os.write(master, reply)

    def unplug(self) -> None:
        """The device disappears: its users get a hang-up, its path goes away."""
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(2)
            os.close(self._stop_r)
            os.close(self._stop_w)
            self._thread = None
        if self._pty is not None:
            self._pty.close()
            self._pty = None
