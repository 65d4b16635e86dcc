"""The service under systemd's notify protocol: READY=1 once the taps listen, WATCHDOG=1 only
while taps, pipeline and sync are alive, STATUS= with the pending count.

systemd is not PID 1 here: the test binds the unix datagram socket systemd would, and reads
what the service sends to it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fake_printer import FakeTcpPrinter, free_port
from pydantic import SecretStr

from agent.config import AgentConfig
from agent.daemon.sdnotify import Notifier
from agent.daemon.service import Service
from agent.delivery.events import Event, stable_event_id
from agent.delivery.outbox import Outbox
from agent.standin.server import FakeHellotext, Faults


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def messages(
    sock: socket.socket, until: Callable[[list[str]], bool], timeout: float = 20.0
) -> list[str]:
    """What the service sends, read until `until(got)` holds (or the generous deadline)."""
    got: list[str] = []
    end = time.monotonic() + timeout
    while not until(got) and time.monotonic() < end:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return got


def drain(sock: socket.socket) -> list[str]:
    """The messages already queued on the socket."""
    got: list[str] = []
    sock.setblocking(False)
    try:
        while True:
            got.append(sock.recv(4096).decode())
    except BlockingIOError:
        return got
    finally:
        sock.settimeout(0.2)


def pings(got: list[str]) -> int:
    return sum("WATCHDOG=1" in m for m in got)


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
                "listen": f"127.0.0.1:{free_port()}",  # the config refuses port 0
                "target": printer.target,
            }
        ],
    )
    service = Service(config, notifier=Notifier(str(tmp_path / "notify")))
    service.start()
    try:
        # Healthy: pings keep coming (how fast depends on the load, not on the test).
        first = messages(notify_socket, lambda got: pings(got) >= 2)
        assert first[0].startswith("READY=1") and "STATUS=0 pending" in first[0]
        assert pings(first) >= 2, first
        assert all("STATUS=" in m for m in first)

        service.taps[0].stop()  # a tap thread died: systemd must restart us
        assert not service.healthy()
        drain(notify_socket)  # sent while it was still healthy
        # Three more health reports: the first may have been computed before the tap stopped.
        later = messages(notify_socket, lambda got: len(got) >= 3)[1:]
        assert len(later) == 2, "STATUS keeps being reported"
        assert pings(later) == 0, later
    finally:
        service.stop()
        printer.stop()


def test_sigterm_during_a_backlog_drain_exits_0_within_10_s(tmp_path: Path) -> None:
    """A week offline left 3,200 events; Hellotext answers slowly. SIGTERM must not wait
    for the whole drain: what is in flight is finished, nothing stays inflight, exit 0."""
    fake = FakeHellotext(token="t", faults=Faults(delay=0.05)).start()
    try:
        with Outbox(tmp_path / "outbox.db") as outbox:
            now = datetime.now(UTC)
            for sale in range(200):
                outbox.add(
                    [
                        Event(
                            id=stable_event_id("backlog", str(sale), str(i)),
                            action="tienda_fisica.pago",
                            session="s",
                            amount=Decimal(1),
                            currency="UYU",
                            tracked_at=now,
                        )
                        for i in range(16)
                    ],
                    now=time.time(),
                )
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[hellotext]\napi_url = "{fake.url}"\n[outbox]\npath = "{tmp_path / "outbox.db"}"\n'
        )
        with open(tmp_path / "daemon.log", "wb") as log:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "agent.cli", "--config", str(config), "run"],
                env={**os.environ, "HELLOTEXT_API_TOKEN": "t"},
                stderr=log,
            )
            assert fake.wait_for_events(50, timeout=20), "the drain started"
            began = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(15)
        assert code == 0
        assert time.monotonic() - began < 10
        with Outbox(tmp_path / "outbox.db") as outbox:
            counts = outbox.counts()
        assert counts["inflight"] == 0
        assert counts["sent"] == fake.event_count and fake.duplicates == 0
        assert counts["pending"] > 0, "the drain was really cut short"
    finally:
        fake.stop()


def test_a_till_with_nothing_to_read_says_so_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """0 printers, 0 scanners and no in-store apps: the daemon runs (systemd must not loop)
    but warns at start, naming what to add; a kiosk-only till (ingest on) is not warned."""
    empty = AgentConfig(
        outbox={"path": tmp_path / "outbox.db", "runtime_dir": str(tmp_path / "run")},
        ingest={"listen": ""},
    )
    kiosk = empty.model_copy(
        update={"ingest": empty.ingest.model_copy(
            update={"listen": f"127.0.0.1:{free_port()}", "token": SecretStr("app-token")}
        )}
    )  # fmt: skip
    warned = []
    for config in (empty, kiosk):
        caplog.clear()
        service = Service(config, notifier=Notifier(str(tmp_path / "no-notify")))
        with caplog.at_level("WARNING", logger="agent.service"):
            service.start()
            service.stop()
        warned.append([r.getMessage() for r in caplog.records if r.name == "agent.service"])
    assert any("0 printers, 0 scanners: nothing to read sales from" in m for m in warned[0])
    assert any("[[printer]]" in m for m in warned[0])
    assert not any("nothing to read" in m for m in warned[1]), warned[1]
