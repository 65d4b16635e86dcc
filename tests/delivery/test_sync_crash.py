"""Crash safety: a process adding and syncing events is SIGKILLed at random moments.

The stand-in runs here, the agent in a separate process (tests/sync_crash_child.py) that is
killed at least fifty times and restarted. At the end every event has reached the stand-in,
and the only duplicates are sends cut off by a kill (concurrency 1: at most one per kill).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.delivery.outbox import Outbox
from agent.standin.server import FakeHellotext

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sync_crash_child import event_id  # noqa: E402

KILLS = 50
NEW_PER_RUN = 4
TOKEN = "crash-token"


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    db = tmp_path / "outbox.db"
    with FakeHellotext(token=TOKEN) as fake:
        fake.set_faults(delay=0.01)  # each request stays open long enough to be cut off
        helper = subprocess.Popen(
            [sys.executable, str(HERE / "sync_crash_child.py"), str(db), fake.url, TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert helper.stdin is not None and helper.stdout is not None
        kills = runs = total = 0
        try:
            started = time.monotonic()
            while kills < KILLS:
                assert time.monotonic() - started < 60, f"only {kills} kills in 60 s"
                start, total = total, total + NEW_PER_RUN
                helper.stdin.write(f"run {start} {total} {rng.uniform(0.02, 0.3):.3f} 0\n")
                answer = helper.stdout.readline().strip()
                assert answer in ("killed", "exit 0"), answer
                kills += answer == "killed"
                runs += 1
            before_last = fake.event_count
            helper.stdin.write(f"run {total} {total} 30 1\n")  # a last, undisturbed run
            assert helper.stdout.readline().strip() == "exit 0"
        finally:
            helper.stdin.close()
            helper.wait(timeout=10)
            helper.stdout.close()

        received = [e["metadata"]["agent_event_id"] for e in fake.events]
        duplicates = fake.duplicates
    expected = {event_id(n) for n in range(total)}
    assert set(received) == expected, f"{len(expected - set(received))} events never arrived"
    assert len(received) == total + duplicates
    assert duplicates <= kills, f"{duplicates} duplicates for {kills} kills"
    with Outbox(db) as outbox:
        counts = outbox.counts()
    assert counts["sent"] == total and counts["pending"] == counts["inflight"] == 0
    print(f"{runs} runs, {kills} kills, {total} events ({before_last} before the last run),")
    print(f"{duplicates} duplicates")
