"""A 429 holds the whole till: the stand-in's 429 + Retry-After against a real Syncer.

A fleet sharing one account's rate limit must not come back in step every Retry-After
(benchmarks/fleet.py measures 200 tills); here, one till: after a 429 it sends nothing until
its hold ends (at least Retry-After, at most the spread window), then one request a second,
doubling every 20 s without a 429, and everything is delivered once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from agent.config import AgentConfig, HellotextSection, OutboxSection, SyncSection
from agent.delivery.backoff import RATE_LIMIT_SPREAD_SECONDS, Hold
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


def test_a_429_holds_all_sending_then_the_till_comes_back_at_one_request_a_second(
    till: tuple[FakeHellotext, Outbox, Syncer, Clock],
) -> None:
    fake, outbox, syncer, clock = till
    outbox.add(events(5), now=NOW)
    report = syncer.run_once()
    assert report.stopped_early == "rate limited"
    # The pass stopped at the first 429: the workers in flight finish, nobody starts more.
    assert fake.requests <= 4 and report.sent == 0
    assert NOW + 30 <= syncer.held_until <= NOW + RATE_LIMIT_SPREAD_SECONDS
    fake.set_faults(rate_limit_every=0)
    clock.now = syncer.held_until - 1
    before = fake.requests
    assert syncer.run_once().stopped_early == "rate limited"
    assert fake.requests == before  # held: not one request, though 5 events are due
    clock.now = syncer.held_until
    # Back from the hold: one worker, a request every 1.05 s (at 0, 1.05, 2.1 and 3.15 s);
    # the fifth turn falls after this 3.5 s pass, which ends there for the next to take it.
    started = time.monotonic()
    report = syncer.run_once(budget=3.5)
    assert (report.sent, report.stopped_early) == (4, "deadline")
    assert 3.1 <= time.monotonic() - started < 4.1  # not at 4.2 s: it did not wait a fifth turn
    while syncer.run_once().sent:
        pass
    assert outbox.counts().get("sent") == 5 and fake.event_count == 5
    assert fake.duplicates == 0


class Monotonic:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_the_paced_rate_doubles_every_20_s_without_a_429_until_the_till_sends_freely() -> None:
    mono = Monotonic()
    hold = Hold(cap=300, rng=random.Random(1), monotonic=mono)
    hold.settle(1.0, now=NOW)
    assert hold.paced and hold.wait() == 0  # the first request after the hold goes at once
    rates = []
    while hold.paced and mono.now < 1000:
        rates.append(hold.rate)
        hold.answered(mono.now, sent=True)
        mono.now += hold.wait()  # the till sends at every turn, each answered 200
        assert hold.wait() == 0
    assert rates[0] == 1 and rates[21] == 2  # 1.05 s apart: the 21st request is at 21 s
    assert sorted(set(rates)) == [1, 2, 4, 8]
    assert 80 <= mono.now - 500 <= 85  # four doublings of 20 s, then all workers again
    assert hold.wait() == 0


def test_a_429_while_paced_holds_again_and_starts_from_one_request_a_second() -> None:
    mono = Monotonic()
    hold = Hold(cap=300, rng=random.Random(2), monotonic=mono)
    hold.settle(1.0, now=NOW)
    for _ in range(30):
        hold.answered(mono.now, sent=True)
        mono.now += 1.1
    assert hold.rate == 2
    hold.settle(1.0, now=NOW + 100)
    assert hold.rate == 1 and hold.holds(NOW + 101)
    assert NOW + 101 <= hold.until <= NOW + 100 + RATE_LIMIT_SPREAD_SECONDS


def test_a_failed_answer_while_paced_still_takes_its_turn_and_only_a_200_doubles() -> None:
    mono = Monotonic()
    hold = Hold(cap=300, rng=random.Random(4), monotonic=mono)
    hold.settle(1.0, now=NOW)
    hold.answered(mono.now, sent=True)
    for _ in range(30):  # 500s for 33 s: each still waits its 1.05 s turn
        mono.now += 1.1
        hold.answered(mono.now, sent=False)
        assert hold.wait() == pytest.approx(1.05)
    assert hold.rate == 1
    mono.now += 1.1
    hold.answered(mono.now, sent=True)  # the first 200 after 20 s: only now does it double
    assert hold.rate == 2


def test_a_till_that_got_more_through_before_its_429_comes_back_sooner() -> None:
    """Its share of the account is bigger: a small fleet does not sit out two minutes."""
    lucky = [Hold(cap=300, rng=random.Random(s)) for s in range(50)]
    others = [Hold(cap=300, rng=random.Random(s)) for s in range(50)]
    for hold in lucky:
        hold.settle(1.0, now=NOW, sent=8)  # 8 sent before the 429: within 120 / (1 + 4) s
    for hold in others:
        hold.settle(1.0, now=NOW, sent=0)
    assert max(h.until for h in lucky) <= NOW + RATE_LIMIT_SPREAD_SECONDS / 5
    assert max(h.until for h in others) > NOW + RATE_LIMIT_SPREAD_SECONDS / 2
