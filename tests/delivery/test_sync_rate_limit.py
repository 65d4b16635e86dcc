"""A 429 holds the whole till: the stand-in's 429 + Retry-After against a real Syncer.

A fleet sharing one account's rate limit must not come back in step every Retry-After
(benchmarks/fleet.py measures 200 tills); here, one till: after a 429 it sends nothing until
its hold ends, the hold is at least Retry-After and at most the spread window, and then
everything is delivered once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from agent.config import AgentConfig, HellotextSection, OutboxSection, SyncSection
from agent.delivery.backoff import RATE_LIMIT_SPREAD_SECONDS
from agent.delivery.events import Event, new_event_id
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.sync import Syncer
from agent.standin.server import FakeHellotext, Faults

TOKEN = "rate-token"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def till(tmp_path: Path) -> Iterator[tuple[FakeHellotext, Outbox, Syncer, Clock]]:
    clock = Clock()
    with (
        FakeHellotext(token=TOKEN, faults=Faults(rate_limit_every=1, retry_after="30")) as fake,
        Outbox(tmp_path / "outbox.db", synchronous="normal") as outbox,
        HellotextClient(api_url=fake.url, token=TOKEN, clock=clock) as client,
    ):
        config = AgentConfig(
            hellotext=HellotextSection(api_url=fake.url, timeout_seconds=2),
            outbox=OutboxSection(path=outbox.path),
            sync=SyncSection(concurrency=4),
        )
        syncer = Syncer(outbox, client, config=config, rng=random.Random(3), clock=clock)
        yield fake, outbox, syncer, clock
        syncer.close()


def events(n: int) -> list[Event]:
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    return [
        Event(
            id=new_event_id(),
            action="tienda_fisica.pago",
            session="sess-1",
            amount=Decimal("10.00"),
            currency="UYU",
            tracked_at=at,
        )
        for _ in range(n)
    ]


def test_a_429_holds_all_sending_then_everything_goes_once(
    till: tuple[FakeHellotext, Outbox, Syncer, Clock],
) -> None:
    fake, outbox, syncer, clock = till
    outbox.add(events(40), now=NOW)
    report = syncer.run_once()
    assert report.stopped_early == "rate limited"
    # The pass stopped at the first 429: the workers in flight finish, nobody starts more.
    assert fake.requests <= 4 and report.sent == 0
    assert NOW + 30 <= syncer.held_until <= NOW + RATE_LIMIT_SPREAD_SECONDS
    fake.set_faults(rate_limit_every=0)
    clock.now = syncer.held_until - 1
    before = fake.requests
    assert syncer.run_once().stopped_early == "rate limited"
    assert fake.requests == before  # held: not one request, though 36+ events are due
    clock.now = syncer.held_until
    while syncer.run_once().sent:
        pass
    assert outbox.counts().get("sent") == 40 and fake.event_count == 40
    assert fake.duplicates == 0

