"""Delivery throughput and memory: the sync engine against a bare httpx loop.

    uv run python benchmarks/sync.py [--events 20000] [--rss-events 100000] [--rounds 4]

Starts `hellotext-agent fake-hellotext --port 0` as a separate process, then, in the same
run and against the same server, posts the same event bodies at the same concurrency
(`sync.concurrency`, default 4) twice over:
  * bare:   a ThreadPoolExecutor sharing one httpx.Client, bodies serialised beforehand;
  * syncer: `Syncer.run_once()` draining a real outbox file (synchronous=full) that holds
            the same events: claim, body, POST, ack.
Each round runs both, and which side goes first alternates from round to round (bare then
syncer, syncer then bare, ...), so neither always meets a warm server or a quiet neighbour.
Compared: the best round of each, and the median of the rounds' own ratios (the two runs of a
round are next to each other in time). Target: syncer >= 0.8x bare.

Then the peak RSS of a 100,000-event drain, measured in a child process that only opens
the outbox and syncs (the events are added beforehand by this process). Target: <= 100 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx

from agent.config import AgentConfig, HellotextSection, OutboxSection, SyncSection
from agent.delivery.events import Event, stable_event_id
from agent.delivery.hellotext import USER_AGENT, HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.sync import Syncer

TOKEN = "bench-token"


def make_events(n: int, tag: str) -> list[Event]:
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    return [
        Event(
            id=stable_event_id("bench", tag, str(i)),
            action="tienda_fisica.pago",
            session=f"pos-caja-{i % 7}",
            amount=Decimal("1234.50"),
            currency="UYU",
            tracked_at=at,
            metadata={"store": "bench", "receipt": f"A-{i:06d}"},
        )
        for i in range(n)
    ]


def fill(path: Path, events: list[Event]) -> None:
    with Outbox(path, synchronous="full") as outbox:
        for start in range(0, len(events), 1000):
            outbox.add(events[start : start + 1000], now=time.time())


def config(url: str, path: Path, concurrency: int) -> AgentConfig:
    return AgentConfig(
        hellotext=HellotextSection(api_url=url, timeout_seconds=15),
        outbox=OutboxSection(path=path),
        sync=SyncSection(concurrency=concurrency),
    )


def bare(url: str, bodies: list[bytes], concurrency: int) -> float:
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
    }
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with (
        httpx.Client(base_url=url + "/", headers=headers, limits=limits, timeout=15) as client,
        ThreadPoolExecutor(concurrency) as pool,
    ):

        def post(body: bytes) -> int:
            return client.post("attribution/events", content=body).status_code

        started = time.perf_counter()
        statuses = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
    assert all(s == 200 for s in statuses), "the bare loop got errors"
    return len(bodies) / elapsed


def drain(url: str, path: Path, concurrency: int) -> tuple[float, int]:
    cfg = config(url, path, concurrency)
    with (
        Outbox(path, synchronous=cfg.outbox.synchronous) as outbox,
        HellotextClient(api_url=url, token=TOKEN, max_connections=concurrency) as client,
    ):
        syncer = Syncer(outbox, client, config=cfg)
        started = time.perf_counter()
        report = syncer.run_once()
        elapsed = time.perf_counter() - started
        syncer.close()
        left = outbox.counts()["pending"]
    assert left == 0 and report.retried == report.parked == 0, report
    return report.sent / elapsed, report.sent


def control(url: str, path: str) -> None:
    base = url.removesuffix("/v1")
    httpx.post(f"{base}/_control/{path}", json={}).raise_for_status()


def peak_rss_kib() -> int:
    """VmHWM: this process's own peak. (ru_maxrss would include the parent's peak: Linux
    carries it across the vfork+exec that started us.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_child(url: str, path: Path, concurrency: int) -> None:
    """In the child: drain, then print the peak RSS in KiB."""
    rate, sent = drain(url, path, concurrency)
    print(json.dumps({"sent": sent, "rate": rate, "peak_kib": peak_rss_kib()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rss-events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=4, help="even: each order equally often")
    parser.add_argument("--concurrency", type=int, default=SyncSection().concurrency)
    parser.add_argument("--rss-child", nargs=2, metavar=("URL", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child[0], Path(args.rss_child[1]), args.concurrency)
        return

    server = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "fake-hellotext", "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    try:
        line = server.stdout.readline().strip()
        url = line.removeprefix("listening on ")
        assert url.startswith("http://"), line
        print(f"stand-in: {url} (separate process); concurrency {args.concurrency}")
        with tempfile.TemporaryDirectory() as tmp:
            run(url, Path(tmp), args)
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


def run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    n, c = args.events, args.concurrency
    events = make_events(n, "throughput")
    bodies = [e.body_json() for e in events]
    bare_rates: list[float] = []
    sync_rates: list[float] = []
    for round_ in range(args.rounds):
        db = tmp / f"round{round_}.db"
        fill(db, events)  # not timed: the outbox is full before either side starts
        sides = ["bare", "syncer"] if round_ % 2 == 0 else ["syncer", "bare"]
        for side in sides:
            control(url, "reset")
            if side == "bare":
                bare_rates.append(bare(url, bodies, c))
            else:
                sync_rates.append(drain(url, db, c)[0])
        print(
            f"round {round_ + 1} ({sides[0]} first): bare httpx {bare_rates[-1]:8.0f} events/s   "
            f"syncer {sync_rates[-1]:8.0f} events/s"
        )
    best_bare, best_sync = max(bare_rates), max(sync_rates)
    ratios = [s / b for b, s in zip(bare_rates, sync_rates, strict=True)]
    print(f"{n} events: bare httpx loop {best_bare:.0f}/s, Syncer {best_sync:.0f}/s")
    print(
        f"ratio syncer/bare: best {best_sync / best_bare:.2f}, median of rounds "
        f"{statistics.median(ratios):.2f} (target >= 0.80)"
    )

    db = tmp / "rss.db"
    started = time.perf_counter()
    for start in range(0, args.rss_events, 10_000):
        fill(db, make_events(min(10_000, args.rss_events - start), f"rss{start}"))
    print(f"filled {args.rss_events} events in {time.perf_counter() - started:.1f}s")
    control(url, "reset")
    child = subprocess.run(
        [sys.executable, __file__, "--concurrency", str(c), "--rss-child", url, str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    mib = result["peak_kib"] / 1024
    print(
        f"{result['sent']} event drain: {result['rate']:.0f} events/s, "
        f"peak RSS {mib:.1f} MiB = {mib * 1.048576:.1f} MB (target <= 100 MB)"
    )


if __name__ == "__main__":
    main()
