"""The README's first command: the demo runs on virtual devices and ends cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_plays_all_receipts_goes_offline_and_drains() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "demo", "--pause", "0.4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "COLUMNS": "120"},
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "demo OK" in out
    assert "duplicates: 0" in out
    # A clean run logs no error: e.g. the bundled receipts' printed dates must not make the
    # clock look wrong (they are a replay, not evidence about this machine's clock).
    assert " ERROR " not in out + done.stderr, (out + done.stderr)[-3000:]
    # 10 with the receipt printed as a picture (read by OCR) when Tesseract is installed
    assert "10 receipts read of 10 printed" in out or "9 receipts read of 9 printed" in out
    # Hellotext really went away mid-run: sales waited in the outbox, then all of them went.
    went = out.index("Hellotext went offline")
    back = re.search(r"Hellotext is back: (\d+) events waited offline", out)
    assert back is not None and back.start() > went, out[-3000:]
    assert int(back.group(1)) > 0, "nothing waited while Hellotext was offline"
    sent = re.search(r"(\d+) events sent to Hellotext \(expected (\d+)\)", out)
    assert sent is not None and int(sent.group(1)) == int(sent.group(2)) > 0, out[-3000:]
    assert "QR subscription block ([printer.append]): printed on" in out
    # The metrics a fleet's Prometheus would scrape, read over HTTP from the running agent.
    scraped = re.search(r'hellotext_agent_deliveries_total\{outcome="sent"\} (\d+)', out)
    assert scraped is not None and scraped.group(1) == sent.group(1), out[-3000:]
    assert 'hellotext_agent_printer_up{printer="caja"} 1' in out
    assert "printed on 0 receipts" not in out
    # It says first what it will show, and its Star and scanner parts show as they happen.
    assert out.lstrip().startswith("What this demo shows"), out[:500]
    assert "POS prints star.bin: Star Line Mode" in out
    assert "the serial scanner read 7730241003258" in out
    # One sale the [events] model = "orders" way: one order, however often it is sent.
    flat = " ".join(out.split())
    assert re.search(r'model = "orders": receipt \S+ became order \w+ \(3 items', flat), flat
    assert "fresh outbox: 1 order, 2 create requests" in flat
