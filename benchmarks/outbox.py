"""Outbox throughput: add + claim + ack of sale-sized batches, beside three references.

    uv run python benchmarks/outbox.py [--events 8000] [--pq-events 800] [--rounds 3] [--dir DIR]

Each event goes in with its sale (16 events per add transaction); as in the daemon, sync then
drains what is due: claims in batches (--claim) and acknowledges the same batches, after every
--claim/16 sales. (The sync engine's own claim batch is max(16, 4 x sync.concurrency).)
Printed beside it, in the same run and directory:
  floor         raw sqlite3 doing the same inserts and updates (same schema, WAL,
                synchronous=FULL, one transaction per batch), with bodies serialised in advance:
                what SQLite and the disk allow, with no Python layer on top;
  persist-queue SQLiteAckQueue (put, get, ack), WAL and synchronous=FULL, one event at a time:
                what a generic persistent queue gives. It cannot batch (it turns
                auto_commit=False back on): every call is a commit, so with synchronous=FULL
                the ratio to it mostly counts fsyncs, not the cost of the code;
  litequeue     a queue that can batch, as the fair peer: each sale's puts in one transaction
                and each claim batch's `done` in one, WAL and synchronous=FULL like the rest;
                its `pop` takes one message per transaction (it has no batch pop).
Targets: at least 30 % of the floor (the yardstick: same work, no layer) and 10x persist-queue.
Best of --rounds for each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from litequeue import LiteQueue
from persistqueue import SQLiteAckQueue

from agent.delivery.events import Event, stable_event_id
from agent.delivery.outbox import Outbox

SALE = 16
T = TypeVar("T")
T0 = 1_800_000_000.0


def sales(count: int) -> list[list[Event]]:
    """Receipts of 16 lines: product.purchased events as the sale pipeline makes them."""
    at = datetime.fromtimestamp(T0, UTC)
    batches = []
    for n in range(count // SALE):
        batch = []
        for i in range(SALE):
            price = Decimal(100 + i) + Decimal("0.90")
            batch.append(
                Event(
                    id=stable_event_id("caja-1", f"{n:06d}", f"line:{i}"),
                    action="product.purchased",
                    session="pos-caja-1",
                    object_parameters={
                        "name": f"Producto de prueba {i}",
                        "reference": f"779{n:05d}{i:05d}",
                        "source": "tienda_fisica",
                        "price": {"amount": str(price), "currency": "UYU"},
                        "sku": f"779{n:05d}{i:05d}",
                    },
                    amount=price * 2,
                    currency="UYU",
                    tracked_at=at,
                    metadata={"receipt_number": f"{n:06d}", "terminal": "caja-1", "quantity": "2"},
                )  # fmt: skip
            )
        batches.append(batch)
    return batches


def groups(batches: list[T], claim: int) -> list[list[T]]:
    """Sales between two sync passes: as many as one claim batch holds."""
    per = max(1, claim // SALE)
    return [batches[i : i + per] for i in range(0, len(batches), per)]


Timing = tuple[float, float]  # wall seconds, CPU seconds of this process


def _since(started: Timing) -> Timing:
    return time.perf_counter() - started[0], time.process_time() - started[1]


def _start() -> Timing:
    return time.perf_counter(), time.process_time()


def run_outbox(path: Path, batches: list[list[Event]], claim: int) -> Timing:
    started = _start()
    with Outbox(path, synchronous="full") as box:
        for group in groups(batches, claim):
            for batch in group:
                box.add(batch, now=T0)
            while rows := box.claim(limit=claim, now=T0, lease_seconds=60):
                box.ack([row.id for row in rows], now=T0)
        assert box.counts()["sent"] == sum(map(len, batches))
    return _since(started)


FLOOR_SCHEMA = """
CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
  next_attempt_at REAL NOT NULL, lease_until REAL, last_status INTEGER, last_error TEXT,
  sent_at REAL);
CREATE INDEX events_state ON events (state);
CREATE INDEX events_due ON events (next_attempt_at) WHERE state = 'pending';
"""


def run_floor(path: Path, batches: list[list[Event]], claim: int) -> Timing:
    rows = [[(e.id, e.to_json(), T0, T0) for e in batch] for batch in batches]  # not timed
    started = _start()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(FLOOR_SCHEMA)
    insert = (
        "INSERT INTO events (id, body, state, created_at, next_attempt_at)"
        " VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (id) DO NOTHING"
    )
    take = (
        "UPDATE events SET state = 'inflight', lease_until = ? WHERE seq IN (SELECT seq FROM"
        " events WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT ?)"
        " RETURNING id, body"
    )
    done = "UPDATE events SET state = 'sent', sent_at = ? WHERE id = ?"
    for group in groups(rows, claim):
        for batch in group:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert, batch)
            conn.execute("COMMIT")
        while True:
            conn.execute("BEGIN IMMEDIATE")
            claimed = conn.execute(take, (T0 + 60, T0, claim)).fetchall()
            conn.execute("COMMIT")
            if not claimed:
                break
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(done, [(T0, row[0]) for row in claimed])
            conn.execute("COMMIT")
    conn.close()
    return _since(started)


def run_persist_queue(path: Path, batches: list[list[Event]], claim: int) -> Timing:
    started = _start()
    queue = SQLiteAckQueue(str(path), auto_commit=True)
    queue._conn.execute("PRAGMA synchronous = FULL")  # its default too; said for fairness
    for group in groups(batches, claim):
        for batch in group:
            for event in batch:
                queue.put(event.body())
        for _ in range(sum(map(len, group))):
            queue.ack(queue.get(block=False))
    assert queue.acked_count() == sum(map(len, batches))
    queue.close()
    return _since(started)


def run_litequeue(path: Path, batches: list[list[Event]], claim: int) -> Timing:
    started = _start()
    queue = LiteQueue(str(path))
    queue.conn.execute("PRAGMA synchronous = FULL")  # it sets NORMAL: the same durability here
    for group in groups(batches, claim):
        for batch in group:
            with queue.transaction("IMMEDIATE"):  # a sale: one commit, as in the outbox
                for event in batch:
                    queue.put(event.to_json())  # it stores text: serialised here, timed
        while True:
            taken = [m for m in (queue.pop() for _ in range(claim)) if m is not None]
            if not taken:
                break
            with queue.transaction("IMMEDIATE"):
                for message in taken:
                    queue.done(message.message_id)
    done = queue.conn.execute(f"SELECT count(*) FROM {queue.table} WHERE status = 2").fetchone()
    assert done[0] == sum(map(len, batches)), done[0]
    queue.close()
    return _since(started)


def filesystem(path: Path) -> str:
    found = subprocess.run(
        ["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=8000)
    parser.add_argument("--pq-events", type=int, default=800, help="persist-queue is slow")
    parser.add_argument("--lq-events", type=int, default=2400, help="litequeue pops one by one")
    parser.add_argument("--claim", type=int, default=64, help="claim/ack batch size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    args = parser.parse_args()

    batches = sales(args.events)
    pq_batches = batches[: max(1, args.pq_events // SALE)]
    lq_batches = batches[: max(1, args.lq_events // SALE)]
    count, pq_count = sum(map(len, batches)), sum(map(len, pq_batches))
    counts = {"floor": count, "outbox": count, "pq": pq_count, "lq": sum(map(len, lq_batches))}
    work = Path(tempfile.mkdtemp(prefix="outbox-bench-", dir=args.dir))
    print(f"{count} events in sales of {SALE}, claim/ack batches of {args.claim}; "
          f"{work} ({filesystem(work)}), {os.cpu_count()} CPUs")  # fmt: skip
    best: dict[str, Timing] = {}
    try:
        for n in range(args.rounds):  # interleaved, best of each: the disk is shared and noisy
            for name in ("floor", "outbox", "pq", "lq"):
                if name == "pq":
                    took = run_persist_queue(work / f"pq-{n}", pq_batches, args.claim)
                elif name == "lq":
                    took = run_litequeue(work / f"lq-{n}.db", lq_batches, args.claim)
                else:
                    fn = run_floor if name == "floor" else run_outbox
                    took = fn(work / f"{name}-{n}.db", batches, args.claim)
                best[name] = min(best.get(name, took), took)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rate = {name: counts[name] / wall for name, (wall, _) in best.items()}
    cpu = {name: cpu / counts[name] * 1e6 for name, (_, cpu) in best.items()}
    for name, label in (
        ("outbox", "outbox (agent.delivery.outbox)"),
        ("floor", "floor (raw sqlite3)"),
        ("lq", f"litequeue, batched ({counts['lq']} events)"),
        ("pq", f"persist-queue SQLiteAckQueue ({pq_count} events)"),
    ):
        print(f"  {label:<44}{rate[name]:10,.0f} events/s  {cpu[name]:6.1f} us CPU/event")
    print(f"  outbox / floor         {rate['outbox'] / rate['floor']:6.0%}   (target >= 30%;"
          " the yardstick)")
    print(f"  outbox / litequeue     {rate['outbox'] / rate['lq']:6.1f}x   (a peer that batches"
          " puts and acks, not pops)")
    print(f"  outbox / persist-queue {rate['outbox'] / rate['pq']:6.1f}x   (target >= 10x; it"
          " commits every call, so this mostly counts fsyncs)")


if __name__ == "__main__":
    main()
