"""Print latency through the tcp tap while the local endpoint is attacked (issue 24).

`hellotext-agent run` as a child at systemd's default soft limit of 1,024 files, a fake
printer behind its tap and the stand-in as Hellotext. First quiet, then while `--idle`
connections are held open on the ingest port (reopened each second when closed) and a
128 MB header is being sent again and again: the time from the POS's connect to the last
byte at the printer, per receipt, and the daemon's peak RSS. All on 127.0.0.1.

    uv run python benchmarks/hostile.py [--receipts 20] [--idle 2000]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not benchmarks/ itself: benchmarks/escpos.py would shadow python-escpos for the rigs.
sys.path[0:1] = [str(ROOT / "tests" / "hostile"), str(ROOT / "tests"), str(ROOT)]

from fake_printer import FakeTcpPrinter, free_port, wait_until  # noqa: E402
from faults.faultrig import TOKEN, daemon_config, job  # noqa: E402
from hostile_rig import (  # noqa: E402
    PYTHON,
    EndlessHeader,
    IdleFlood,
    open_files,
    peak_rss_mb,
    print_latencies,
    spawn_at_fd_limit,
    summary,
)

from agent.standin.server import FakeHellotext  # noqa: E402


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=20)
    parser.add_argument("--idle", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name, open_files(args.idle + 2000):
        tmp = Path(tmp_name)
        fake = FakeHellotext(token=TOKEN).start()
        printer = FakeTcpPrinter().start()
        tap, ingest = free_port(), free_port()
        config = daemon_config(
            tmp, outbox=tmp / "state" / "outbox.db", runtime=tmp / "run", api_url=fake.url,
            port=tap, printer=printer.target, extra=f'[ingest]\nlisten = "127.0.0.1:{ingest}"\n',
        )  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTEXT_")}
        env.update(HELLOTEXT_API_TOKEN=TOKEN, HELLOTEXT_INGEST_TOKEN="bench-app-token")
        command = [PYTHON, "-m", "agent.cli", "--config", str(config), "run"]
        daemon = spawn_at_fd_limit(command, 1024, env, tmp / "daemon.log")
        try:
            if not wait_until(lambda: listening(tap) and listening(ingest), 90):
                raise SystemExit((tmp / "daemon.log").read_text())
            jobs = [job(n) for n in range(1, args.receipts + 1)]
            quiet = print_latencies(printer, tap, jobs)
            print(f"quiet:        {summary(quiet)}")
            flood = IdleFlood(ingest, args.idle).start()
            header = EndlessHeader(ingest).start()
            wait_until(lambda: flood.opened >= args.idle, 30)
            time.sleep(1.0)
            attacked = print_latencies(printer, tap, jobs)
            header.stop()
            flood.stop()
            print(f"under attack: {summary(attacked)}")
            refused = sum(answer.startswith(b"HTTP/1.1 431") for _, _, answer in header.attempts)
            longest = max((s for _, s, _ in header.attempts), default=0.0)
            print(f"idle connections opened {flood.opened} (held {args.idle} at once);"
                  f" 128 MB header attempts {len(header.attempts)}, {refused} answered 431,"
                  f" the longest ended after {longest * 1000:.0f} ms")  # fmt: skip
            print(f"daemon peak RSS {peak_rss_mb(daemon.pid):.1f} MB")
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
            printer.stop()
            fake.stop()


if __name__ == "__main__":
    main()
