"""Issue 9, case 5: the wall clock jumps or is wrong. The service takes its wall clock as a
parameter (`Wall`, real time plus an offset the test sets); the machine's clock is never
touched, and the monotonic clock runs on as it does on a till.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from faultrig import Till, Wall, job, once_each, payments, until

from agent.standin.server import FakeHellotext

ZONE = ZoneInfo("America/Montevideo")
DAY = 86400.0


def tracked(fake: FakeHellotext, number: int) -> float:
    """The tracked_at of a receipt's payment at the stand-in, as Unix seconds."""
    for body in fake.events:
        meta: dict[str, Any] = body.get("metadata") or {}
        if body.get("action") == "tienda_fisica.pago" and meta.get("receipt_number") == (
            f"0001-{number:08d}"
        ):
            return datetime.fromisoformat(body["tracked_at"].replace("Z", "+00:00")).timestamp()
    raise AssertionError(f"receipt {number} not at the stand-in")


def test_a_clock_set_back_a_day_does_not_delay_waiting_events(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    wall = Wall()
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake, wall=wall)
    tills.append(till)
    till.start()
    fake.set_faults(status_override=503)
    till.print(job(1, when=datetime.now(ZONE)))
    assert until(lambda: fake.count(503) >= 2), "the event waits with a backoff"
    mark = len(till.notices.got)
    wall.offset = -DAY  # an operator sets the date a day back
    fake.set_faults(status_override=None)
    # Without re-basing, the due time would now be a day away ("next try in 23 h 59 min").
    assert until(lambda: once_each(fake, range(1, 2)), 10)
    assert until(lambda: till.notices.pings_after(mark) >= 3), "the watchdog pings through it"

    # Receipts printed now (the POS's clock is right) are a day ahead of ours: three in a
    # row name the clock as suspect, and each receipt keeps its printed time.
    printed = datetime.now(ZONE).replace(second=0, microsecond=0)
    till.print(job(2, when=printed))
    assert until(lambda: once_each(fake, range(1, 3)), 10), payments(fake)
    assert tracked(fake, 2) == printed.timestamp()
    assert "clock" not in till.status(), "one receipt is not enough to call the clock wrong"
    for number in (3, 4):
        till.print(job(number, when=printed))
    assert until(lambda: "clock: the clock is 24 h behind" in till.status())


def test_at_1970_printed_times_are_kept_and_undated_sales_are_re_dated_after_ntp(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    wall = Wall(offset=1000.0 - time.time())  # a Raspberry Pi without an RTC, before NTP
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake, wall=wall)
    tills.append(till)
    till.start()
    assert "before this release was built" in till.status()
    # READY=1's STATUS= (read by the rig's own thread: wait for it to arrive).
    assert until(lambda: any("clock:" in s for s in till.notices.statuses()), 5), "STATUS= says it"

    printed = datetime.now(ZONE).replace(second=0, microsecond=0)
    till.print(job(1, when=printed))
    assert until(lambda: once_each(fake, range(1, 2)), 10)
    assert tracked(fake, 1) == printed.timestamp()  # not 1970-01-01

    captured = time.time()
    till.print(job(2))  # a receipt without a printed date: only the capture time is known
    assert till.printed_unchanged()
    assert till.service is not None
    assert until(lambda: till.service is not None and till.service.snapshot()["clock"]
                 ["redate_pending"] == 2)  # fmt: skip
    assert "0001-00000002" not in payments(fake), "not sent with a 1970 date"

    wall.offset = 0.0  # NTP answers
    assert until(lambda: once_each(fake, range(1, 3)), 10), payments(fake)
    assert abs(tracked(fake, 2) - captured) < 5, "re-dated from the monotonic clock"
    assert until(lambda: "clock" not in till.status())


def test_a_clock_a_year_ahead_keeps_the_printed_date_and_the_watchdog(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    wall = Wall(offset=365 * DAY)
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake, wall=wall)
    tills.append(till)
    till.start()
    mark = len(till.notices.got)
    printed = datetime.now(ZONE).replace(second=0, microsecond=0)
    till.print(job(1, when=printed))
    assert until(lambda: once_each(fake, range(1, 2)), 10)
    assert tracked(fake, 1) == printed.timestamp(), "the printed date, not next year"
    for number in (2, 3):
        till.print(job(number, when=printed))
    assert until(lambda: "ahead of the time printed on the last 3 receipts" in till.status())
    assert until(lambda: till.notices.pings_after(mark) >= 3)


def test_the_bundled_sample_receipts_raise_no_clock_alarm_on_a_real_daemon(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    """The demo's receipts, printed weeks after their printed dates: before, the first one
    made `status` say "clock WRONG: 214 h ahead" while `doctor` said the clock was fine."""
    folder = Path(__file__).resolve().parents[2] / "agent" / "samples"
    plan = json.loads((folder / "plan.json").read_text("utf-8"))
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake)
    tills.append(till)
    till.start()
    assert till.service is not None and till.service.pipeline is not None
    stats = till.service.pipeline.stats
    for step in plan:
        till.print((folder / step["receipt"]).read_bytes())
    assert until(lambda: stats.receipts + stats.unread >= len(plan), 60)
    assert stats.receipts >= len(plan) - 1  # (the raster one needs Tesseract)
    assert "clock" not in till.status()
    assert till.service.clock_suspect is None
