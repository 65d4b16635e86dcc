"""The service under systemd's notify protocol: READY=1 once the taps listen, WATCHDOG=1 only
while taps, pipeline and sync are alive, STATUS= with the pending count.

systemd is not PID 1 here: the test binds the unix datagram socket systemd would, and reads
what the service sends to it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_printer import FakeTcpPrinter

from agent.config import AgentConfig
from agent.sdnotify import Notifier
from agent.service import Service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def messages(sock: socket.socket, seconds: float) -> list[str]:
    got: list[str] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return got


def test_ready_watchdog_and_status_follow_the_taps(
    tmp_path: Path, notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # WatchdogSec=1s: a ping every 0.5 s
    printer = FakeTcpPrinter().start()
    config = AgentConfig(
        outbox={"path": tmp_path / "outbox.db"},
        printer=[
            {
                "name": "caja",
                "mode": "tcp",
                "listen": f"127.0.0.1:{free_port()}",
                "target": printer.target,
            }
        ],
    )
    service = Service(config, notifier=Notifier(str(tmp_path / "notify")))
    service.start()
    try:
        first = messages(notify_socket, 1.6)
        assert first[0].startswith("READY=1") and "STATUS=0 pending" in first[0]
        assert sum("WATCHDOG=1" in m for m in first) >= 2
        assert all("STATUS=" in m for m in first)

        service.taps[0].stop()  # a tap thread died: systemd must restart us
        assert not service.healthy()
        later = messages(notify_socket, 1.2)[1:]  # a ping already in flight may land
        assert later, "STATUS keeps being reported"
        assert not any("WATCHDOG=1" in m for m in later)
    finally:
        service.stop()
        printer.stop()
