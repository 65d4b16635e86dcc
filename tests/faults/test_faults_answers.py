"""Issue 9, case 6: Hellotext's side answers wrong. A captive portal's HTML 200 is not
"sent"; a 429 storm shows in `status`; a trickling answer is cut at the exchange's
deadline; SIGTERM ends the daemon within 10 s whatever the network does; Retry-After is
capped; a 100 MB answer leaves RSS flat.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fake_printer import FakeTcpPrinter
from faultrig import (
    Till,
    daemon_config,
    free_port,
    job,
    once_each,
    payments,
    pos_print,
    run_daemon,
    stop_daemon,
    until,
)

from agent.cli import main
from agent.daemon.health import read_status, status_file
from agent.delivery.events import Event, stable_event_id
from agent.delivery.outbox import Outbox
from agent.standin.server import FakeHellotext

ZONE = ZoneInfo("America/Montevideo")


def now() -> datetime:
    return datetime.now(ZONE)


def test_a_captive_portal_is_not_hellotext_and_nothing_is_marked_sent(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as outbox:  # a customer with a phone: a profile look-up comes first
        outbox.add(
            [
                Event(
                    id=stable_event_id("phone", "1"),
                    action="tienda_fisica.pago",
                    phone="+59899123456",
                    amount=Decimal(10),
                    currency="UYU",
                    tracked_at=now(),
                )
            ],
            now=time.time(),
        )
    fake.set_faults(portal=True)
    till = Till(tmp_path, outbox=path, fake=fake)
    tills.append(till)
    till.start()
    till.print(job(1, when=now()))
    assert till.printed_unchanged()
    assert until(lambda: "Hellotext's answers look wrong (a captive portal?)" in till.status())
    with Outbox(path) as outbox:
        counts = outbox.counts()
    assert counts["sent"] == 0 and counts["parked"] == 0, "retried, never sent nor parked"
    assert fake.event_count == 0
    assert main(["--config", str(till.write_config()), "status"]) == 0
    assert "captive portal" in capsys.readouterr().out

    fake.set_faults(portal=False)  # the store accepts the Wi-Fi's terms
    assert until(lambda: once_each(fake, range(1, 2)) and fake.event_count == 3)
    assert len(fake.profiles) == 1, "the profile look-up went through once the portal was gone"
    assert until(lambda: "captive portal" not in till.status())


def test_a_429_storm_shows_in_status_and_the_sale_waits_printed(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.set_faults(rate_limit_every=1, retry_after="30")  # the account's limit is spent
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake)
    tills.append(till)
    till.start()
    till.print(job(1, when=now()))
    assert till.printed_unchanged()
    assert until(lambda: "rate limited (429): holding all sending for" in till.status())
    config = str(till.write_config())

    def shown() -> bool:  # `status` reads the daemon's status file, written every few seconds
        assert main(["--config", config, "status"]) == 0
        return "Hellotext answered 429: holding all sending for" in capsys.readouterr().out

    assert until(shown)
    with Outbox(tmp_path / "outbox.db") as outbox:
        counts = outbox.counts()
    assert counts["pending"] + counts["inflight"] == 2 and counts["sent"] == 0  # kept, waiting
    assert fake.event_count == 0


def test_a_trickling_answer_is_cut_at_the_deadline_and_counted_maybe_delivered(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    fake.set_faults(trickle_seconds=0.5)  # 22 bytes of answer: 11 s, the deadline is 2 s
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake,
                hellotext={"timeout_seconds": 2})  # fmt: skip
    tills.append(till)
    till.start()
    till.print(job(1, when=now()))
    assert until(lambda: fake.requests >= 1)
    first = time.monotonic()
    assert until(lambda: fake.requests >= 3, 15), "the stalled requests were cut and retried"
    assert time.monotonic() - first < 9, "cut at the 2 s deadline, not after the 11 s answer"
    fake.set_faults(trickle_seconds=0.0)
    assert until(lambda: payments(fake).get("0001-00000001", 0) >= 1)
    with Outbox(tmp_path / "outbox.db") as outbox:
        assert until(lambda: outbox.counts()["sent"] == 2)
        assert int(outbox.get_meta("sync.possible_duplicates") or 0) >= 1  # counted as such
    assert fake.duplicates >= 1  # the stand-in did store the cut ones: honest counting


def _daemon(tmp_path: Path, fake: FakeHellotext) -> tuple[FakeTcpPrinter, int, Path, Path]:
    printer = FakeTcpPrinter().start()
    port = free_port()
    runtime = tmp_path / "run"
    config = daemon_config(
        tmp_path,
        outbox=tmp_path / "outbox.db",
        runtime=runtime,
        api_url=fake.url,
        port=port,
        printer=printer.target,
    )
    return printer, port, config, status_file(str(runtime), tmp_path / "outbox.db")


@pytest.mark.parametrize("network", ["a request that never answers", "a trickling answer"])
def test_sigterm_ends_the_daemon_within_10_s_whatever_the_network_does(
    tmp_path: Path, fake: FakeHellotext, network: str
) -> None:
    printer, port, config, _ = _daemon(tmp_path, fake)
    if network == "a request that never answers":
        fake.set_faults(delay=120)
    else:
        fake.set_faults(trickle_seconds=5)
    daemon = run_daemon(config, tmp_path / "daemon.log")
    try:
        pos_print(port, job(1, when=now()))
        assert until(lambda: fake.requests >= 1, 30)
        time.sleep(0.5)  # inside the stuck exchange
        began = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
        assert time.monotonic() - began < 10
    finally:
        stop_daemon(daemon, printer)
        fake.set_faults(delay=0, trickle_seconds=0)


def test_retry_after_is_capped_at_the_largest_backoff(
    tmp_path: Path, fake: FakeHellotext, tills: list[Till]
) -> None:
    fake.set_faults(status_override=503, retry_after="999999")
    till = Till(tmp_path, outbox=tmp_path / "outbox.db", fake=fake)
    tills.append(till)
    till.start()
    till.print(job(1, when=now()))
    assert until(lambda: fake.count(503) >= 1)
    with Outbox(tmp_path / "outbox.db") as outbox:
        assert until(lambda: outbox.next_due_at() is not None)
        due = outbox.next_due_at()
        assert due is not None and due - time.time() <= 1.5  # sync.max_backoff_seconds = 1
    fake.set_faults(status_override=None, retry_after=None)
    assert until(lambda: once_each(fake, range(1, 2)))


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.slow  # 100 MB through the client: ~14 s, run by .ci/run after the fast suite
def test_a_100_mb_answer_is_a_failed_answer_and_rss_stays_flat(
    tmp_path: Path, fake: FakeHellotext
) -> None:
    printer, port, config, live = _daemon(tmp_path, fake)
    daemon = run_daemon(config, tmp_path / "daemon.log")
    try:
        pos_print(port, job(1, when=now()))
        assert until(lambda: once_each(fake, range(1, 2)), 30)
        before = _peak_rss_kb(daemon.pid)
        fake.set_faults(answer_padding=100 * 1024 * 1024)
        pos_print(port, job(2, when=now()))
        assert until(lambda: fake.count(200) >= 6, 30), "the padded answers were tried again"
        assert until(lambda: "captive portal" in (read_status(live) or {}).get("status", ""))
        grown = _peak_rss_kb(daemon.pid) - before
        assert grown < 30 * 1024, f"peak RSS grew {grown} kB reading 100 MB answers"
        fake.set_faults(answer_padding=0)
        assert until(lambda: with_sent(tmp_path / "outbox.db") == 4, 30)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    finally:
        stop_daemon(daemon, printer)


def with_sent(path: Path) -> int:
    with Outbox(path) as outbox:
        return outbox.counts()["sent"]
