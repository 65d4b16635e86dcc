"""A long outage, as the journal, STATUS=, `status` and /metrics show it (issue 21 item 3).

`hellotext-agent run` as a child process, sales printed through its tcp tap by a POS, and
Hellotext a real closed port on 127.0.0.1: every attempt fails at once, as on a till whose
internet is down. Before, each attempt and each pass wrote a line (50 lines in 20 s for 13
events); now the change is told once and the attempts stay at DEBUG.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from fake_printer import FakeTcpPrinter, free_port
from faultrig import (
    TOKEN,
    daemon_config,
    job,
    pos_print,
    run_daemon,
    stop_daemon,
    until,
    with_env,
)

from agent.daemon.health import read_status, status_file

pytestmark = pytest.mark.slow  # 40 s of outage, by the measure

SALES = 20
WAIT_SECONDS = 40.0


def test_20_sales_40_s_against_an_unreachable_hellotext_write_at_most_8_warnings(
    tmp_path: Path,
) -> None:
    printer = FakeTcpPrinter().start()
    port, hellotext, metrics = free_port(), free_port(), free_port()  # nothing on `hellotext`
    runtime, log = tmp_path / "run", tmp_path / "daemon.log"
    config = daemon_config(
        tmp_path, outbox=tmp_path / "outbox.db", runtime=runtime,
        api_url=f"http://127.0.0.1:{hellotext}/v1", port=port, printer=printer.target,
        extra=f'[metrics]\nlisten = "127.0.0.1:{metrics}"\n',
    )  # fmt: skip
    live = status_file(str(runtime), tmp_path / "outbox.db")
    daemon = run_daemon(config, log)
    try:
        for number in range(1, SALES + 1):
            pos_print(port, job(number, when=datetime.now()))
        began = time.monotonic()
        assert until(lambda: "unreachable" in (read_status(live) or {}).get("status", ""), 20)
        time.sleep(max(0.0, WAIT_SECONDS - (time.monotonic() - began)))

        headline = read_status(live)["status"]  # what STATUS= says, too
        assert headline.startswith("Hellotext unreachable since ")
        assert "(connection refused) — " in headline and "wait in the outbox" in headline
        shown = subprocess.run(
            [sys.executable, "-m", "agent.cli", "--config", str(config), "status"],
            env=with_env(HELLOTEXT_API_TOKEN=TOKEN), capture_output=True, text=True, timeout=30,
        ).stdout  # fmt: skip
        assert "Hellotext unreachable since" in shown and "wait in the outbox" in shown
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as r:
            scraped = r.read().decode()
        assert "hellotext_agent_hellotext_reachable 0.0" in scraped
    finally:
        daemon.send_signal(signal.SIGTERM)
        stop_daemon(daemon, printer, grace=15)
    lines = log.read_text(errors="replace").splitlines()
    loud = [line for line in lines if " WARNING " in line or " ERROR " in line]
    assert len(loud) <= 8, "\n".join(loud)
    assert sum("Hellotext unreachable" in line for line in loud) == 1
    attempts = [line for line in lines if "attempt=" in line]
    assert len(attempts) > SALES, "the per-attempt lines are still there, at DEBUG"
    assert all(" DEBUG " in line for line in attempts)
