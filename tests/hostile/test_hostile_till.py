"""Issue 24's acceptance: `hellotext-agent run` at systemd's default soft limit of 1,024 files,
2,000 connections held idle on the ingest port and a 128 MB header being sent: receipts
printed through the tcp tap still reach the printer within 100 ms (p99 over 20) and the
daemon's peak RSS stays under 100 MB. Before, about 1,100 idle connections took every
descriptor: the tap could not accept, and the log got a traceback per try."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from fake_printer import FakeTcpPrinter, free_port, wait_until
from faults.faultrig import TOKEN, daemon_config, job
from hostile_rig import (
    PYTHON,
    EndlessHeader,
    IdleFlood,
    open_files,
    p99,
    peak_rss_mb,
    print_latencies,
    spawn_at_fd_limit,
    summary,
)
from ingest.ingest_rig import Client

from agent.standin.server import FakeHellotext

INGEST_TOKEN = "hostile-app-token"


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_idle_floods_and_a_huge_header_never_delay_a_receipt(tmp_path: Path) -> None:
    fake = FakeHellotext(token=TOKEN).start()
    printer = FakeTcpPrinter().start()
    tap, ingest = free_port(), free_port()
    config = daemon_config(
        tmp_path, outbox=tmp_path / "state" / "outbox.db", runtime=tmp_path / "run",
        api_url=fake.url, port=tap, printer=printer.target,
        extra=f'[ingest]\nlisten = "127.0.0.1:{ingest}"\n',
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTEXT_")}
    env.update(HELLOTEXT_API_TOKEN=TOKEN, HELLOTEXT_INGEST_TOKEN=INGEST_TOKEN)
    log = tmp_path / "daemon.log"
    command = [PYTHON, "-m", "agent.cli", "--config", str(config), "run"]
    daemon = spawn_at_fd_limit(command, 1024, env, log)
    flood = header = None
    try:
        assert wait_until(lambda: listening(tap) and listening(ingest), 90), log.read_text()
        with open_files(4096):
            flood = IdleFlood(ingest, 2000).start()
            header = EndlessHeader(ingest).start()
            assert wait_until(lambda: flood.opened >= 2000, 30), flood.opened
            time.sleep(1.0)  # the flood at its height: the budget full, the rest refused
            took = print_latencies(printer, tap, [job(n) for n in range(1, 21)])
            header.stop()
            flood.stop()
        print(f"\nprint latency under attack: {summary(took)};"
              f" idle connections opened {flood.opened};"
              f" header attempts {len(header.attempts)}")  # fmt: skip
        rss = peak_rss_mb(daemon.pid)
        print(f"daemon peak RSS {rss:.1f} MB")
        assert p99(took) <= 0.100, summary(took)
        assert rss < 100, rss
        assert header.attempts, "the huge header was never sent"
        # Each attempt ends at once, not after 128 MB: a 431, or closed unanswered when the
        # idle flood holds the whole budget.
        print("header attempts (bytes, seconds, answer):", header.attempts)
        for sent, seconds, answer in header.attempts:
            assert answer in (b"HTTP/1.1 431 Request Header Fields Too Large", b""), answer
            assert seconds < 3 and sent < (32 << 20), (sent, seconds)
        assert any(answer for _, _, answer in header.attempts)
        # Once the flood is gone, an app is served again.
        app = Client(ingest, INGEST_TOKEN)
        assert wait_until(lambda: _posts(app), 15)
        app.close()
        text = log.read_text(errors="replace")
        assert text.count("out of system resource") == 0
        assert text.count("Traceback") == 0, text[-3000:]
    finally:
        for attacker in (header, flood):
            if attacker is not None:
                attacker.stop()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        printer.stop()
        fake.stop()


def _posts(app: Client) -> bool:
    try:
        return app.post({"action": "evento.asistio", "session": "s-1"}).status == 200
    except OSError:
        app.close()
        return False
