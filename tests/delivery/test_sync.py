"""The sync engine against the stand-in on 127.0.0.1 and a real SQLite outbox.

Each row of the answer table, as a user of the outbox sees it: what was sent, what is
parked with which body, what waits until when, and that nothing is lost or blocked.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.config import AgentConfig, HellotextSection, OutboxSection, SyncSection
from agent.delivery.backoff import ceiling, retry_delay
from agent.delivery.events import Event, new_event_id
from agent.delivery.hellotext import HellotextClient
from agent.delivery.outbox import Outbox
from agent.delivery.status import META_DUPLICATES, META_LAST_SUCCESS, META_PAUSED
from agent.delivery.sync import Syncer
from agent.standin.server import FakeHellotext

TOKEN = "sync-token"
NOW = 1_800_000_000.0
SEED = 7


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    fake: FakeHellotext
    outbox: Outbox
    clock: Clock
    tmp: Path
    clients: list[HellotextClient] = field(default_factory=list)
    syncers: list[Syncer] = field(default_factory=list)

    def config(self, **sync: Any) -> AgentConfig:
        return AgentConfig(
            hellotext=HellotextSection(
                api_url=self.fake.url, timeout_seconds=2, probe_interval_seconds=60
            ),
            outbox=OutboxSection(path=self.tmp / "outbox.db", lease_seconds=30),
            sync=SyncSection(**{"concurrency": 1, "max_backoff_seconds": 300, **sync}),
        )

    def syncer(
        self,
        *,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
        **sync: Any,
    ) -> Syncer:
        config = self.config(**sync)
        client = HellotextClient(
            api_url=self.fake.url,
            token=TOKEN,
            timeout=timeout,
            max_connections=config.sync.concurrency,
            transport=transport,
            clock=self.clock,
        )
        syncer = Syncer(
            self.outbox, client, config=config, rng=random.Random(SEED), clock=self.clock
        )
        self.clients.append(client)
        self.syncers.append(syncer)
        return syncer

    def add(self, *events: Event) -> list[str]:
        self.outbox.add(list(events), now=self.clock())
        return [e.id for e in events]

    def state(self, id: str) -> str:
        row = self.outbox.get(id)
        assert row is not None
        return row.state

    def received(self) -> list[str]:
        return [e["metadata"]["agent_event_id"] for e in self.fake.events]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeHellotext(token=TOKEN, actions=("tienda_fisica.pago",)) as fake:
        outbox = Outbox(tmp_path / "outbox.db", synchronous="normal")
        rig = Rig(fake, outbox, Clock(), tmp_path)
        yield rig
        for syncer in rig.syncers:
            syncer.close()
        for client in rig.clients:
            client.close()
        outbox.close()


def event(action: str = "tienda_fisica.pago", **fields: Any) -> Event:
    identity = {} if {"profile", "phone"} & fields.keys() else {"session": "sess-1"}
    return Event(
        id=new_event_id(),
        action=action,
        amount=Decimal("89.90"),
        currency="UYU",
        tracked_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        **identity,
        **fields,
    )


def test_delivers_everything_due_oldest_first(rig: Rig) -> None:
    ids = rig.add(*(event() for _ in range(25)))
    report = rig.syncer().run_once()
    assert (report.sent, report.retried, report.parked) == (25, 0, 0)
    assert rig.received() == ids
    assert rig.fake.events[0]["amount"] == 89.9 and rig.fake.duplicates == 0
    assert rig.outbox.counts()["sent"] == 25
    assert rig.outbox.get_meta(META_LAST_SUCCESS) == repr(NOW)


def test_parked_events_keep_their_body_and_never_block_the_queue(rig: Rig) -> None:
    ok1, unknown, ok2, invalid, ok3 = rig.add(
        event(),
        event("evento.no_creado"),  # custom action not created in the business: 404
        event(),
        event("product.purchased", object_parameters={"name": "Yerba"}),  # no reference: 422
        event(),
    )
    report = rig.syncer(concurrency=2).run_once()
    assert (report.sent, report.parked) == (3, 2)
    assert sorted(rig.received()) == sorted([ok1, ok2, ok3])
    for id, status, words in ((unknown, 404, "does not exist"), (invalid, 422, "reference")):
        row = rig.outbox.get(id)
        assert row is not None and row.state == "parked"
        assert row.last_status == status and row.last_error is not None and words in row.last_error


def test_bad_request_is_parked(rig: Rig) -> None:
    (id,) = rig.add(event())
    rig.fake.set_faults(status_override=400)
    assert rig.syncer().run_once().parked == 1
    row = rig.outbox.get(id)
    assert row is not None and row.state == "parked" and row.last_status == 400
    assert "forced by the fake server" in (row.last_error or "")


@pytest.mark.parametrize(
    ("status", "reason"), [(401, "token refused (401)"), (403, "operation not allowed (403)")]
)
def test_refused_token_pauses_everything_and_resumes_after_the_fix(
    rig: Rig, status: int, reason: str
) -> None:
    ids = rig.add(*(event() for _ in range(6)))
    if status == 401:
        rig.fake.token = "revoked-then-reissued"
    else:
        rig.fake.set_faults(status_override=403)
    syncer = rig.syncer(concurrency=3)
    report = syncer.run_once()
    assert report.paused == reason == syncer.paused
    assert report.sent == report.parked == report.retried == 0
    counts = rig.outbox.counts()
    assert counts["pending"] == 6 and counts["parked"] == counts["inflight"] == 0
    assert all(row.attempts == 0 for row in rig.outbox.list(state="pending"))
    assert rig.outbox.get_meta(META_PAUSED) == reason

    requests = rig.fake.requests
    rig.clock.now += 30  # before the probe interval: no request at all
    assert syncer.run_once().paused == reason and rig.fake.requests == requests
    rig.clock.now += 31  # probe due, still refused
    assert syncer.run_once().paused == reason and rig.fake.requests == requests + 1

    if status == 401:
        rig.fake.token = TOKEN
    else:
        rig.fake.set_faults(status_override=None)
    rig.clock.now += 61
    report = syncer.run_once()
    assert report.paused is None and report.sent == 6
    assert sorted(rig.received()) == sorted(ids) and rig.outbox.get_meta(META_PAUSED) is None


def test_a_new_syncer_stays_paused_until_its_probe_passes(rig: Rig) -> None:
    rig.add(event())
    rig.fake.token = "other"
    assert rig.syncer().run_once().paused == "token refused (401)"
    restarted = rig.syncer()
    assert restarted.paused == "token refused (401)"
    rig.fake.token = TOKEN
    assert restarted.run_once().sent == 1  # probes at once, not after a full interval


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_temporary_statuses_wait_with_jitter_then_deliver(rig: Rig, status: int) -> None:
    (id,) = rig.add(event())
    rig.fake.set_faults(status_override=status)
    syncer = rig.syncer(base_backoff_seconds=10)
    assert syncer.run_once().retried == 1
    row = rig.outbox.get(id)
    expected = random.Random(SEED).uniform(0, 10)  # full jitter, first failure
    assert row is not None and row.state == "pending" and row.attempts == 1
    assert row.last_status == status
    assert row.next_attempt_at == pytest.approx(NOW + expected)

    rig.fake.set_faults(status_override=None)
    assert syncer.run_once().sent == 0  # not due yet
    rig.clock.now = max(row.next_attempt_at, syncer.held_until)  # a 429 holds the whole till
    assert syncer.run_once().sent == 1 and rig.received() == [id]


def test_retry_after_seconds_is_a_floor(rig: Rig) -> None:
    (id,) = rig.add(event())
    rig.fake.set_faults(rate_limit_every=1, retry_after="120")
    rig.syncer().run_once()
    row = rig.outbox.get(id)
    assert row is not None and row.next_attempt_at == NOW + 120 and row.last_status == 429


def test_retry_after_http_date_is_honoured(rig: Rig) -> None:
    (id,) = rig.add(event())
    rig.fake.set_faults(status_override=503, retry_after=formatdate(NOW + 90, usegmt=True))
    rig.syncer().run_once()
    row = rig.outbox.get(id)
    assert row is not None and row.next_attempt_at == NOW + 90 and row.last_status == 503


def test_backoff_grows_exponentially_but_never_past_max_backoff(rig: Rig) -> None:
    (id,) = rig.add(event())
    rig.fake.set_faults(status_override=500)
    syncer = rig.syncer(base_backoff_seconds=1, max_backoff_seconds=8)
    draws = random.Random(SEED)
    for attempts in range(8):
        syncer.run_once()
        row = rig.outbox.get(id)
        assert row is not None and row.attempts == attempts + 1
        expected = draws.uniform(0, min(8, 2**attempts))
        assert row.next_attempt_at - rig.clock.now == pytest.approx(expected)
        rig.clock.now = row.next_attempt_at
    assert rig.state(id) == "pending"  # no total retry limit


def test_full_jitter_spreads_over_the_whole_window() -> None:
    rng = random.Random(1)
    for attempts, cap_hit in ((0, 1.0), (3, 8.0), (40, 300.0)):
        window = ceiling(attempts, base=1, cap=300)
        assert window == cap_hit
        draws = [retry_delay(attempts, base=1, cap=300, rng=rng) for _ in range(400)]
        assert all(0 <= d <= window for d in draws)
        assert min(draws) < 0.1 * window and max(draws) > 0.9 * window
    assert retry_delay(0, base=1, cap=300, rng=rng, retry_after=50) == 50
    # Retry-After is capped at sync.max_backoff_seconds: 999999 must not push events days out.
    assert retry_delay(0, base=1, cap=300, rng=rng, retry_after=10**9) == 300


@pytest.mark.parametrize("fault", ["timeout", "drop"])
def test_timeouts_and_drops_retry_and_count_possible_duplicates(rig: Rig, fault: str) -> None:
    ids = rig.add(event(), event())
    if fault == "timeout":
        rig.fake.set_faults(delay=0.3)
    else:
        rig.fake.set_faults(drop_rate=1.0)
    report = rig.syncer(timeout=0.05).run_once()
    assert report.retried == report.maybe_delivered == 2
    assert rig.outbox.get_meta(META_DUPLICATES) == "2"
    assert all(rig.state(id) == "pending" for id in ids)
    row = rig.outbox.get(ids[0])
    assert row is not None and row.last_status is None
    assert ("timeout" if fault == "timeout" else "dropped") in (row.last_error or "")


def test_a_5xx_after_the_body_was_sent_counts_as_a_possible_duplicate(rig: Rig) -> None:
    ids = rig.add(event())
    rig.fake.set_faults(status_override=502)
    report = rig.syncer().run_once()
    assert report.retried == report.maybe_delivered == 1  # Hellotext may have stored it
    assert rig.outbox.get_meta(META_DUPLICATES) == "1"
    assert rig.state(ids[0]) == "pending"


def test_a_5xx_on_the_profile_request_is_no_duplicate_of_the_event(rig: Rig) -> None:
    rig.add(event(phone="+59899123456"))
    rig.fake.set_faults(status_override=503)
    report = rig.syncer().run_once()
    assert report.retried == 1 and report.maybe_delivered == 0
    assert rig.outbox.get_meta(META_DUPLICATES) in (None, "0")


def test_internet_down_ends_the_pass_early(rig: Rig) -> None:
    rig.add(*(event() for _ in range(40)))
    rig.fake.set_faults(offline=True)
    report = rig.syncer(concurrency=2).run_once()
    # max(4, 2 * concurrency) failures in a row, plus the one still in flight at most
    assert report.stopped_early and report.retried in (4, 5) and report.released > 0
    counts = rig.outbox.counts()
    assert counts["pending"] == 40 and counts["inflight"] == 0


def test_concurrency_is_respected(rig: Rig) -> None:
    counter = InFlight(httpx.HTTPTransport())
    rig.fake.set_faults(delay=0.03)
    rig.add(*(event() for _ in range(24)))
    report = rig.syncer(concurrency=3, transport=counter).run_once()
    assert report.sent == 24
    assert counter.peak == 3


def test_profiles_are_resolved_once_per_phone(rig: Rig) -> None:
    phones = ["+59899000001", "+59899000002"]
    ids = rig.add(*(event(phone=phones[n % 2]) for n in range(10)))
    syncer = rig.syncer(concurrency=4)
    assert syncer.run_once().sent == 10
    assert syncer.profiles.requests == 2 and len(rig.fake.profiles) == 2
    assert rig.fake.requests == 12
    by_phone = {p["phone"]: pid for pid, p in rig.fake.profiles.items()}
    sent = {e["metadata"]["agent_event_id"]: e for e in rig.fake.events}
    assert sent[ids[0]]["profile"] == by_phone[phones[0]] and "phone" not in sent[ids[0]]
    assert rig.outbox.get_profile(phones[1]) == by_phone[phones[1]]

    rig.add(event(phone=phones[0]))
    restarted = rig.syncer()  # a restart: the memory is empty, the outbox remembers
    assert restarted.run_once().sent == 1
    assert restarted.profiles.requests == 0 and rig.fake.requests == 13


@pytest.mark.parametrize(("status", "state"), [(503, "pending"), (422, "parked")])
def test_profile_failures_follow_the_answer_table(rig: Rig, status: int, state: str) -> None:
    (id,) = rig.add(event(phone="+59899000003"))
    rig.fake.set_faults(status_override=status)
    rig.syncer().run_once()
    row = rig.outbox.get(id)
    assert row is not None and row.state == state and row.last_status == status
    assert rig.fake.requests == 1  # the event itself was never posted


def test_deadline_hands_claimed_rows_back(rig: Rig) -> None:
    rig.add(*(event() for _ in range(3)))
    report = rig.syncer().run_once(deadline=NOW - 1)
    assert report.stopped_early == "deadline" and report.sent == 0
    assert rig.outbox.counts()["pending"] == 3


def test_progress_reaches_the_total(rig: Rig) -> None:
    rig.add(*(event() for _ in range(10)))
    seen: list[tuple[int, int]] = []
    rig.syncer(concurrency=2).run_once(progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (10, 10)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_second_pass_while_one_runs_does_nothing(rig: Rig) -> None:
    rig.add(*(event() for _ in range(5)))
    rig.fake.set_faults(delay=0.05)
    syncer = rig.syncer()
    first = threading.Thread(target=syncer.run_once)
    first.start()
    assert rig.fake.wait_for_events(1, timeout=5)
    assert syncer.run_once().busy
    first.join()
    assert rig.outbox.counts()["sent"] == 5


class InFlight(httpx.BaseTransport):
    """Counts requests in flight at once (the seam httpx offers for this)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            response = self.inner.handle_request(request)
            response.read()
            return response
        finally:
            with self.lock:
                self.now -= 1

    def close(self) -> None:
        self.inner.close()


class BreaksOnce(httpx.BaseTransport):
    """The third request raises what no HTTP client maps to an answer (a bug's exception)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests == 3:
            raise ZeroDivisionError("a bug in the agent")
        response = self.inner.handle_request(request)
        response.read()
        return response

    def close(self) -> None:
        self.inner.close()


def test_an_unexpected_error_mid_send_leaves_no_row_inflight(rig: Rig) -> None:
    ids = rig.add(*(event() for _ in range(6)))
    syncer = rig.syncer(transport=BreaksOnce(httpx.HTTPTransport()))
    with pytest.raises(ZeroDivisionError):  # the pass stops; the daemon logs it
        syncer.run_once()
    counts = rig.outbox.counts()
    assert counts.get("inflight", 0) == 0
    assert counts["sent"] == 2 and counts["pending"] == 4
    row = rig.outbox.get(ids[2])  # the row in hand: retried after its backoff, not lost
    assert row is not None and row.state == "pending" and row.attempts == 1
    assert row.last_error == "agent error while sending: ZeroDivisionError"
    rig.clock.now += 3600
    report = syncer.run_once()  # the next pass sends it and the rest, once each
    assert report.sent == 4 and rig.received() == ids and rig.fake.duplicates == 0
