"""A year of a busy till against a real outbox file, on a simulated clock.

    uv run python benchmarks/outbox_year.py [--days 365] [--sales 500] [--dir DIR]

Each simulated day: `--sales` sales (a payment and two product.purchased events each, one add
transaction per sale, as the pipeline commits them), spread over the opening hours; while
Hellotext answers, the day's events are claimed and acknowledged as the sync engine does (in
its batches, at the time they were sent); two outages of a week each (from day 100 and day
250) leave everything pending until the day after, when the backlog drains. Every night
the real maintenance runs (`agent.delivery.maintenance.maintain`: prune of sent rows older
than 30 days, WAL checkpoint TRUNCATE). The clock is simulated: no sleeping.

Printed at the start (after the first week) and at the end: the file's size (database and
WAL), `delivery_status` (what `status` reads) in process, `hellotext-agent status` as a fresh
process (median of 5), and the time to enqueue a sale with synchronous=FULL (median of 200,
with its fsync). Targets (issue 21): status under 250 ms and the file under 50 MB at the end.
The bulk of the year is written with synchronous=NORMAL to keep the run to minutes (the
durability setting changes the time of each commit, not what the file holds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from agent.delivery.events import Event, new_event_id
from agent.delivery.maintenance import file_bytes, maintain
from agent.delivery.outbox import Outbox
from agent.delivery.status import delivery_status

DAY = 86400.0
START = datetime(2027, 1, 1, 12, tzinfo=UTC).timestamp()  # 09:00 in Montevideo
OUTAGES = ((100, 107), (250, 257))  # [first day, day it answers again)
CLAIM_BATCH = 16
ITEMS = ("Yerba Canarias 1 kg", "Leche entera 1 L", "Cafe molido 250 g", "Dulce de leche")


def sale(day: int, number: int, at: float) -> list[Event]:
    when = datetime.fromtimestamp(at, UTC)
    receipt = f"0001-{day * 10_000 + number:08d}"
    common = {"session": f"s_{day:03d}_{number:04d}", "tracked_at": when, "currency": "UYU"}
    events = [
        Event(id=new_event_id(), action="tienda_fisica.pago", amount=Decimal("1289.90"),
              metadata={"receipt_number": receipt, "payment_method": "tarjeta",
                        "terminal_id": "caja-1", "items": 2}, **common)
    ]  # fmt: skip
    for line, name in enumerate(ITEMS[number % 3 : number % 3 + 2]):
        events.append(
            Event(id=new_event_id(), action="product.purchased", amount=Decimal("644.95"),
                  object_type="product", object_parameters={"name": name,
                  "reference": f"SKU-{line}{number % 97:03d}", "price": 644.95},
                  metadata={"receipt_number": receipt, "line": line + 1}, **common)
        )  # fmt: skip
    return events


def drain(outbox: Outbox, now: float) -> int:
    sent = 0
    while rows := outbox.claim(limit=CLAIM_BATCH, now=now, lease_seconds=60):
        outbox.ack([row.id for row in rows], now=now)
        sent += len(rows)
    return sent


def status_cli(config: Path) -> float:
    """Median wall time of `hellotext-agent status`, a fresh process each time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTEXT_")}
    argv = [sys.executable, "-m", "agent.cli", "--config", str(config), "status"]
    subprocess.run(argv, env=env, check=True, capture_output=True)  # warm-up: config cache
    times = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def measure(path: Path, config: Path, day: int, now: float) -> dict[str, float]:
    with Outbox(path, synchronous="full") as durable:
        times = []
        for number in range(200):
            events = sale(day, 9000 + number, now)
            began = time.perf_counter()
            durable.add(events, now=now)
            times.append(time.perf_counter() - began)
        began = time.perf_counter()
        delivery_status(durable, now=now)
        status_in_process = time.perf_counter() - began
    return {
        "file MB": file_bytes(path) / 1e6,
        "status (in process) ms": status_in_process * 1000,
        "status (CLI) ms": status_cli(config) * 1000,
        "enqueue a sale ms (median, FULL)": statistics.median(times) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sales", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None, help="where the outbox file goes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "outbox.db"
        config = Path(tmp) / "agent.toml"
        config.write_text(f'[outbox]\npath = "{path}"\n')
        outbox = Outbox(path, synchronous="normal")
        began = time.perf_counter()
        start: dict[str, float] = {}
        events = pending_peak = 0
        for day in range(args.days):
            opening = START + day * DAY
            offline = any(first <= day < back for first, back in OUTAGES)
            for number in range(args.sales):  # 09:00 to 21:00
                at = opening + number * (12 * 3600 / args.sales)
                outbox.add(sale(day, number, at), now=at)
                events += 3
            close = opening + 12 * 3600
            if not offline:
                drain(outbox, close)
            pending_peak = max(pending_peak, outbox.counts()["pending"])
            maintain(outbox, now=close + 6.5 * 3600, keep_sent_days=30)  # 03:30 next day
            if day % 30 == 29:  # a long run on a loaded machine still says where it is
                print(f"day {day + 1}: {file_bytes(path) / 1e6:.1f} MB, {outbox.counts()},"
                      f" {time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
            if day == 6:
                start = measure(path, config, day, close)
                drain(outbox, close)
        end = measure(path, config, args.days, START + args.days * DAY)
        counts = outbox.counts()
        outbox.close()
        elapsed = time.perf_counter() - began
    print(f"simulated {args.days} days x {args.sales} sales = {events:,} events (two week-long"
          f" outages, peak pending {pending_peak:,}) in {elapsed:.0f} s")  # fmt: skip
    print(f"at the end: {counts}")
    print(f"{'':36}{'after a week':>14}{'after the year':>16}")
    for key, value in end.items():
        print(f"{key:36}{start.get(key, float('nan')):>14.1f}{value:>16.1f}")
    ok = end["status (CLI) ms"] < 250 and end["file MB"] < 50
    print(f"targets (status < 250 ms, file < 50 MB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
