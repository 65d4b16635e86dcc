"""Helper process for tests/delivery/test_sync_crash.py (not a test module).

It imports the agent once, then, for each `run START END DELAY FINAL` line on stdin, forks a
worker that opens the outbox, recovers expired leases, adds events 0..END (those below START
were added by earlier workers, or lost to a kill mid-transaction: adding again is a no-op)
and syncs them. If the worker is still running after DELAY seconds it gets SIGKILL. Each
run answers one line: `killed` or `exit CODE`. Forking from this single-threaded process
(nothing open before the fork) makes a restart cost milliseconds instead of a fresh
interpreter's second of imports, so fifty kills fit in a few seconds.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from agent.config import AgentConfig, HellotextSection, OutboxSection, SyncSection
from agent.delivery.events import Event, stable_event_id
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.sync import Syncer


def event_id(n: int) -> str:
    return stable_event_id("sync-crash-test", str(n))


def _events(start: int, end: int) -> list[Event]:
    return [
        Event(
            id=event_id(n),
            action="tienda_fisica.pago",
            session=f"crash-{n}",
            amount=Decimal("10.50"),
            currency="UYU",
            tracked_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        )
        for n in range(start, end)
    ]


def work(db: Path, url: str, token: str, start: int, end: int, final: bool) -> None:
    config = AgentConfig(
        hellotext=HellotextSection(api_url=url, timeout_seconds=0.5),
        outbox=OutboxSection(path=db, lease_seconds=0.2),
        sync=SyncSection(concurrency=1, base_backoff_seconds=0.01, max_backoff_seconds=0.05),
    )
    outbox = Outbox(db, synchronous="full")
    client = HellotextClient(api_url=url, token=token, timeout=0.5, max_connections=1)
    syncer = Syncer(outbox, client, config=config, batch_size=1)
    outbox.recover_leases(now=time.time())
    if start:
        outbox.add(_events(0, start), now=time.time())
    for first in range(start, end, 4):
        outbox.add(_events(first, min(first + 4, end)), now=time.time())
        syncer.run_once()
    while True:
        syncer.run_once()
        counts = outbox.counts()
        if counts["pending"] == 0 and (not final or counts["inflight"] == 0):
            return
        time.sleep(0.02)
        outbox.recover_leases(now=time.time())


def _wait(pid: int, delay: float) -> str:
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return f"exit {os.waitstatus_to_exitcode(status)}"
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)  # our own child, not yet reaped: the pid is still its own
    os.waitpid(pid, 0)
    return "killed"


def main() -> None:
    db, url, token = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    for line in sys.stdin:
        _, start, end, delay, final = line.split()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                work(db, url, token, int(start), int(end), final == "1")
            except BaseException as exc:  # report, then leave without the parent's cleanup
                print(f"worker failed: {exc!r}", file=sys.stderr, flush=True)
                code = 1
            os._exit(code)
        print(_wait(pid, float(delay)), flush=True)


if __name__ == "__main__":
    main()
