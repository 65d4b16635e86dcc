"""A reconnect storm: a fleet of tills drains its backlogs into one rate-limited account.

    uv run python benchmarks/fleet.py [--agents 200] [--events 100] [--limit 50]

Starts `hellotext-agent fake-hellotext --rate-limit LIMIT` as a separate process (at most
LIMIT answered requests in any second, 429 with Retry-After beyond), then runs AGENTS sync
engines in this process, each a real `Syncer` with its own outbox file holding EVENTS
waiting events, its own HTTP client (`sync.concurrency` connections) and its own scheduler
tick (`sync.interval_seconds`, at a random phase: the tills started at different times).
The outage ends at t=0: every till starts a pass at that instant. A till's loop is the
daemon's: a pass with a 5 s deadline, again at once while a backlog cut it short, else at
the next tick.

Prints the time to drain everything, the peak request rate the stand-in saw after the
first 10 s, the 429s and the duplicates (events the stand-in received twice). Targets:
0 duplicates, peak rate <= 1.2 x LIMIT after 10 s, drain <= 1.5 x ideal (events / LIMIT).
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from agent.config import AgentConfig, HellotextSection, OutboxSection
from agent.delivery.events import Event, stable_event_id
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.sync import Syncer

TOKEN = "fleet-token"
PASS_SECONDS = 5.0  # the daemon's SYNC_PASS_SECONDS


def backlog(agent: int, n: int) -> list[Event]:
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    return [
        Event(
            id=stable_event_id(f"caja-{agent}", "A", str(i)),
            action="tienda_fisica.pago",
            session=f"pos-caja-{agent}",
            amount=Decimal("990.00"),
            currency="UYU",
            tracked_at=at,
            metadata={"terminal": f"caja-{agent}", "receipt": f"A-{i:06d}"},
        )
        for i in range(n)
    ]


class Till(threading.Thread):
    """One agent's sync loop, as the daemon's scheduler runs it."""

    def __init__(self, n: int, url: str, db: Path, start: threading.Event, seed: int) -> None:
        super().__init__(name=f"till-{n}", daemon=True)
        cfg = AgentConfig(hellotext=HellotextSection(api_url=url), outbox=OutboxSection(path=db))
        self.outbox = Outbox(db, synchronous="normal")
        self.client = HellotextClient(
            api_url=url, token=TOKEN, max_connections=cfg.sync.concurrency
        )
        self.rng = random.Random(seed)
        self.syncer = Syncer(self.outbox, self.client, config=cfg, rng=self.rng)
        self.interval = cfg.sync.interval_seconds
        self.phase = self.rng.uniform(0, self.interval)
        self.start_signal = start
        self.t0 = 0.0
        self.done_at: float | None = None
        self.error: BaseException | None = None

    def left(self) -> int:
        counts = self.outbox.counts()
        return counts.get("pending", 0) + counts.get("inflight", 0)

    def run(self) -> None:
        try:
            self.start_signal.wait()
            # The outage ends at t0: every till tries at once, then on its own schedule.
            while self.left():
                while True:
                    report = self.syncer.run_once(deadline=time.time() + PASS_SECONDS)
                    if report.stopped_early != "deadline":
                        break
                first = self.t0 + self.phase
                ticks = max(0, math.floor((time.monotonic() - first) / self.interval) + 1)
                time.sleep(max(0.0, first + ticks * self.interval - time.monotonic()))
            self.done_at = time.monotonic()
        except BaseException as exc:  # reported by main
            self.error = exc

    def close(self) -> None:
        self.syncer.close()
        self.client.close()
        self.outbox.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--events", type=int, default=100, help="waiting events per agent")
    parser.add_argument("--limit", type=float, default=50.0, help="requests/s the account gets")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "fake-hellotext",
            "--port",
            "0",
            "--token",
            TOKEN,
            "--rate-limit",
            str(args.limit),
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    try:
        url = server.stdout.readline().strip().removeprefix("listening on ")
        assert url.startswith("http://"), url
        with tempfile.TemporaryDirectory() as tmp:
            run(url, Path(tmp), args)
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


def run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    start = threading.Event()
    tills: list[Till] = []
    for n in range(args.agents):
        db = tmp / f"caja-{n}.db"
        with Outbox(db, synchronous="normal") as outbox:
            outbox.add(backlog(n, args.events), now=time.time())
        tills.append(Till(n, url, db, start, seed=args.seed * 100_003 + n))
    total = args.agents * args.events
    ideal = total / args.limit
    print(
        f"{args.agents} tills x {args.events} events = {total} against {args.limit:g} req/s "
        f"(ideal drain {ideal:.0f} s); stand-in in its own process at {url}"
    )
    for till in tills:
        till.start()
    httpx.post(url.removesuffix("/v1") + "/_control/reset").raise_for_status()
    t0 = time.monotonic()
    for till in tills:
        till.t0 = t0
    start.set()
    deadline = t0 + 4 * ideal + 60
    while any(t.is_alive() for t in tills) and time.monotonic() < deadline:
        time.sleep(1.0)
        done = sum(t.done_at is not None for t in tills)
        print(f"  t={time.monotonic() - t0:5.0f}s  tills drained {done}/{len(tills)}", end="\r")
    print()
    errors = [t.error for t in tills if t.error is not None]
    state: dict[str, Any] = httpx.get(url.removesuffix("/v1") + "/_control/state").json()
    left = sum(t.left() for t in tills)
    ends = [t.done_at for t in tills if t.done_at is not None]
    for till in tills:
        till.close()
    report(args, state, ideal, total, left, (max(ends) - t0) if ends else None, errors)


def report(
    args: argparse.Namespace,
    state: dict[str, Any],
    ideal: float,
    total: int,
    left: int,
    drain: float | None,
    errors: list[BaseException],
) -> None:
    rates: list[int] = state["requests_per_second"]
    after = rates[10:-1] or rates[10:]  # whole seconds after the first 10 (the last is partial)
    peak = max(after, default=0)
    peak_all = max(rates, default=0)
    statuses = state["statuses"]
    limited = statuses.get("429", 0)
    duplicates = state["duplicates"]
    received = state["events"] - duplicates
    print(f"received {received}/{total} distinct events, {left} left in outboxes")
    if errors:
        print(f"{len(errors)} tills failed, first: {errors[0]!r}")
    print(f"requests: {state['requests']} ({limited} answered 429); statuses {statuses}")
    print(f"peak rate: {peak_all}/s in the first 10 s; {peak}/s after (limit {args.limit:g})")
    if drain is not None and not left:
        print(f"drained in {drain:.0f} s = {drain / ideal:.2f} x ideal ({ideal:.0f} s)")
    else:
        print("not drained before the benchmark's deadline")
    checks = {
        "0 duplicates": duplicates == 0,
        f"rate after 10 s <= {1.2 * args.limit:g}/s": peak <= 1.2 * args.limit,
        "drain <= 1.5 x ideal": drain is not None and not left and drain <= 1.5 * ideal,
        "nothing lost": received == total and not errors,
    }
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")


if __name__ == "__main__":
    main()
