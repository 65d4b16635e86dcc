"""An outage is told as state changes: one WARNING when Hellotext stops answering (with the
cause), a summary at most every 10 minutes, one INFO when it is back; attempts at DEBUG.

Hellotext is a real closed port on 127.0.0.1, then the stand-in listening on that port; the
outbox a real SQLite file. The engine's clock is a value the test moves.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fake_printer import free_port

from agent.config import AgentConfig, HellotextSection, OutboxSection, StoreSection, SyncSection
from agent.delivery.events import Event, new_event_id
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.reach import Reachability
from agent.delivery.status import delivery_status
from agent.delivery.sync import Syncer
from agent.standin.server import FakeHellotext

TOKEN = "outage-token"
NOW = datetime(2026, 12, 1, 17, 2, tzinfo=UTC).timestamp()  # 14:02 in Montevideo


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def sale() -> Event:
    return Event(
        id=new_event_id(),
        action="tienda_fisica.pago",
        amount=Decimal("89.90"),
        currency="UYU",
        tracked_at=datetime(2026, 12, 1, 17, 0, tzinfo=UTC),
        session="sess-1",
    )


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_closed_port_is_one_warning_with_its_cause_and_the_return_one_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    config = AgentConfig(
        hellotext=HellotextSection(api_url=f"http://127.0.0.1:{port}/v1", timeout_seconds=2),
        store=StoreSection(timezone="America/Montevideo"),
        outbox=OutboxSection(path=tmp_path / "outbox.db"),
        sync=SyncSection(concurrency=2, base_backoff_seconds=1, max_backoff_seconds=5),
    )
    outbox = Outbox(tmp_path / "outbox.db", synchronous="normal")
    outbox.add([sale() for _ in range(13)], now=NOW - 60)
    clock = Clock()
    client = HellotextClient(api_url=config.hellotext.api_url, token=TOKEN, timeout=2,
                             max_connections=2, clock=clock)  # fmt: skip
    syncer = Syncer(outbox, client, config=config, rng=random.Random(3), clock=clock)
    caplog.set_level(logging.DEBUG)
    try:
        for _ in range(30):  # 30 passes, 10 s apart: every event tried again and again
            syncer.run_once()
            clock.now += 10
        said = warnings(caplog)
        assert len(said) == 1, said
        assert said[0].startswith("Hellotext unreachable since 14:02 (connection refused):")
        assert "13 events wait in the outbox, oldest 14:01" in said[0]
        attempts = [r for r in caplog.records if "attempt=" in r.getMessage()]
        assert len(attempts) > 13 and all(r.levelno == logging.DEBUG for r in attempts)
        assert syncer.unreachable is not None
        shown = delivery_status(outbox, now=clock.now)  # what `status` reads, another process
        assert shown["unreachable_since"] == NOW
        assert shown["unreachable_cause"] == "connection refused"

        caplog.clear()
        with FakeHellotext(port=port, token=TOKEN):  # Hellotext is back on the same port
            clock.now += 3600
            report = syncer.run_once()
        assert report.sent == 13
        back = [r for r in caplog.records if r.getMessage().startswith("Hellotext reachable")]
        assert len(back) == 1 and back[0].levelno == logging.INFO
        assert "after 1 h 5 min (unreachable since 14:02, connection refused): 13 events" \
            " delivered, 0 wait" in back[0].getMessage()  # fmt: skip
        assert warnings(caplog) == []
        assert syncer.unreachable is None
        assert delivery_status(outbox, now=clock.now)["unreachable_since"] is None
    finally:
        syncer.close()
        client.close()
        outbox.close()


def test_a_summary_at_most_every_ten_minutes_while_it_stays_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reach = Reachability()
    caplog.set_level(logging.INFO)
    now = NOW
    for _ in range(6 * 25):  # 25 minutes of passes, one every 10 s, each failing
        reach.failed("connect timeout", now)
        reach.settle(now, sent=0, waiting=20, oldest=NOW - 60)
        now += 10
    said = warnings(caplog)
    assert len(said) == 3, said  # the change, then at 10 and at 20 minutes
    assert "retrying with backoff" in said[0] and "still retrying" in said[1]
    assert all("(connect timeout): 20 events wait in the outbox" in line for line in said)


def test_one_failure_among_answers_in_a_pass_is_no_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reach = Reachability()
    caplog.set_level(logging.INFO)
    reach.failed("http 503", NOW)
    reach.answered(NOW + 1)
    reach.settle(NOW + 2, sent=5, waiting=0, oldest=None)
    assert reach.outage is None and caplog.records == []
