"""A till for fault tests: a POS that prints over TCP, the agent's tap in front of a fake
printer, the agent's Service (in this process, or `hellotext-agent run` as a child process),
the local Hellotext stand-in, and a notify socket that records what systemd would hear.

Every part is real: sockets on 127.0.0.1, SQLite files, python-escpos jobs. Time is the
ClockWatch the service takes (a wall clock the test moves), never the machine's clock.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from escpos.printer import Dummy
from fake_printer import FakeTcpPrinter, free_port, wait_until

from agent.config import AgentConfig
from agent.daemon.clock import ClockWatch
from agent.daemon.sdnotify import Notifier
from agent.daemon.service import Service
from agent.standin.server import FakeHellotext

TOKEN = "fault-token"


def job(number: int, *, when: datetime | None = None, card: str = "") -> bytes:
    """A receipt as a POS prints it; `when` is the printed date and time (None: none)."""
    p = Dummy()
    p.charcode("CP858")
    p.text(f"e-Ticket 0001-{number:08d}\n")
    if when is not None:
        p.text(f"Fecha: {when:%d/%m/%Y %H:%M}\n")
    p.text("Cafe molido 250g".ljust(30) + "189,90".rjust(12) + "\n")
    p.text("TOTAL".ljust(30) + "189,90".rjust(12) + "\n")
    p.text("EFECTIVO".ljust(30) + "189,90".rjust(12) + "\n")
    if card:
        p.text(f"VISA {card}\n")
    p.cut()
    return bytes(p.output)


class Wall:
    """The wall clock the service is given: the real time plus an offset the test sets."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


class Notices:
    """The datagrams systemd would receive (READY=1, WATCHDOG=1, STATUS=...)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.got: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.got.append(self.sock.recv(65536).decode())
            except (TimeoutError, OSError):
                continue

    def pings_after(self, index: int) -> int:
        return sum("WATCHDOG=1" in m for m in self.got[index:])

    def statuses(self) -> list[str]:
        return [line[7:] for m in self.got for line in m.splitlines() if line.startswith("STATUS=")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class Till:
    def __init__(
        self,
        tmp: Path,
        *,
        outbox: Path,
        fake: FakeHellotext | None,
        runtime: Path | None = None,
        wall: Wall | None = None,
        outbox_options: dict[str, Any] | None = None,
        **sections: dict[str, Any],
    ) -> None:
        self.tmp = tmp
        self.outbox_path = outbox
        self.fake = fake
        self.runtime = runtime or tmp / "run"
        self.wall = wall or Wall()
        self.printer = FakeTcpPrinter().start()
        self.sections = {**sections, "outbox": outbox_options or {}}
        self.port = free_port()  # config needs a real port (port 0 is refused there)
        self.notices = Notices(tmp / f"notify-{len(list(tmp.glob('notify-*')))}")
        self.service: Service | None = None
        self.jobs: list[bytes] = []

    def config(self) -> AgentConfig:
        sections = {k: dict(v) for k, v in self.sections.items()}
        hellotext = {"timeout_seconds": 3, **sections.pop("hellotext", {})}
        if self.fake is not None:
            hellotext["api_url"] = self.fake.url
        return AgentConfig(
            hellotext={**hellotext, "token": TOKEN if self.fake is not None else None},
            store={"terminal_id": "caja-1", "timezone": "America/Montevideo",
                   **sections.pop("store", {})},
            outbox={"path": self.outbox_path, "runtime_dir": str(self.runtime),
                    **sections.pop("outbox", {})},
            sync={"interval_seconds": 0.3, "base_backoff_seconds": 0.2,
                  "max_backoff_seconds": 1.0, **sections.pop("sync", {})},
            printer=[{"name": "caja", "mode": "tcp", "listen": f"127.0.0.1:{self.port}",
                      "target": self.printer.target, "idle_seconds": 0.5}],
            **sections,
        )  # fmt: skip

    def start(self) -> float:
        """Start the service; seconds until the tap listens."""
        began = time.monotonic()
        self.service = Service(
            self.config(),
            notifier=Notifier(str(self.notices.path)),
            clock=ClockWatch(wall=self.wall),
        )
        self.service.start()
        return time.monotonic() - began

    def print(self, data: bytes) -> None:
        """The POS prints a job through the tap, as one connection."""
        assert self.service is not None
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as pos:
            pos.sendall(data)
        self.jobs.append(data)

    def printed_unchanged(self, timeout: float = 10.0) -> bool:
        """Every job reached the printer byte for byte (one printer connection per job)."""

        def same() -> bool:
            with self.printer._lock:
                got = sorted(bytes(c) for c in self.printer.connections if c)
            return got == sorted(self.jobs)

        return wait_until(same, timeout)

    def write_config(self) -> Path:
        """The TOML a store would have, for the real `status` and `doctor` commands."""
        path = self.tmp / "agent.toml"
        url = self.fake.url if self.fake is not None else "https://api.hellotext.com/v1"
        path.write_text(
            f'[hellotext]\napi_url = "{url}"\n'
            f'[outbox]\npath = "{self.outbox_path}"\nruntime_dir = "{self.runtime}"\n'
        )
        return path

    def status(self) -> str:
        assert self.service is not None
        return self.service._status_line()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    def close(self) -> None:
        self.stop()
        self.printer.stop()
        self.notices.close()
        # A request left in the network by stop() (by design: SIGTERM does not wait for it)
        # ends once the client is closed; let it finish before the next test's logging.
        names = ("sync", "pipeline", "health")
        wait_until(lambda: not any(t.name.startswith(names) for t in threading.enumerate()), 15)


def with_env(**env: str) -> dict[str, str]:
    return {**os.environ, **env}


def run_daemon(config: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`hellotext-agent run` as systemd starts it (a child process, its own signals)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "-v", "--config", str(config), "run"],
            env=with_env(HELLOTEXT_API_TOKEN=TOKEN, **env),
            stderr=out,
        )


def stop_daemon(daemon: subprocess.Popen[bytes], *printers: Any, grace: float = 0.0) -> None:
    """A test's teardown: the daemon gets `grace` seconds to end (after the SIGTERM its test
    sent), is killed if it is still running, and its printers stop."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        daemon.wait(grace)
    if daemon.poll() is None:
        daemon.kill()
    daemon.wait(15)
    for printer in printers:
        printer.stop()


def until(predicate: Callable[[], object], timeout: float = 15.0) -> bool:
    return wait_until(predicate, timeout)


def fill(folder: Path) -> Path:
    """Fill the file system holding `folder` (a test tmpfs) to the last byte."""
    ballast = folder / "ballast"
    with open(ballast, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return ballast


def payments(fake: FakeHellotext) -> dict[str, int]:
    """How many times the stand-in accepted each receipt's payment event."""
    seen: dict[str, int] = {}
    for body in fake.events:
        number = (body.get("metadata") or {}).get("receipt_number")
        if body.get("action") == "tienda_fisica.pago" and number:
            seen[number] = seen.get(number, 0) + 1
    return seen


def once_each(fake: FakeHellotext, numbers: range) -> bool:
    expected = {f"0001-{n:08d}": 1 for n in numbers}
    return payments(fake) == expected


def daemon_config(
    tmp: Path,
    *,
    outbox: Path,
    runtime: Path,
    api_url: str,
    port: int,
    printer: str,
    extra: str = "",
) -> Path:
    """The TOML of a till whose daemon runs as a child process."""
    path = tmp / "daemon.toml"
    path.write_text(
        f'[hellotext]\napi_url = "{api_url}"\ntimeout_seconds = 2\n'
        f'[store]\nterminal_id = "caja-1"\ntimezone = "America/Montevideo"\n'
        f'[outbox]\npath = "{outbox}"\nruntime_dir = "{runtime}"\n'
        "[sync]\ninterval_seconds = 0.3\nbase_backoff_seconds = 0.2\nmax_backoff_seconds = 1\n"
        f"{extra}"
        f'[[printer]]\nname = "caja"\nmode = "tcp"\nlisten = "127.0.0.1:{port}"\n'
        f'target = "{printer}"\nidle_seconds = 0.5\n'
    )
    return path


def pos_print(port: int, data: bytes, timeout: float = 40.0) -> None:
    """The POS prints one job (retrying while the tap is not listening yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as pos:
                pos.sendall(data)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
