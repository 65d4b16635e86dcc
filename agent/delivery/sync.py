"""The sync engine: claim due events oldest first, deliver them, record what each answer meant.

A pass (`run_once`) runs `sync.concurrency` workers that share one httpx.Client (connection
reuse). Each worker takes the next claimed row (claiming the next batch when few are left),
posts it and records the answer itself before it takes another, so a crash can repeat at
most one request per worker, and no worker waits for a coordinator between requests.

Answers (see `agent.delivery.hellotext.classify`): sent -> ack; park -> parked with the error body,
the rows behind it go on; pause (401/403) -> every claimed row is released unchanged and
nothing is sent until the token probe answers 200; retry -> back to pending after full-jitter
backoff, never before Retry-After. A run of temporary failures (the internet is down, the
server is failing) ends the pass early rather than hammering; the next tick tries again.

A 429 holds the whole till, not just that event, and the till comes back paced, with one
worker (`agent.delivery.backoff.Hold`).

The engine writes through its own connection with `synchronous=NORMAL` (WAL): its writes
(claims, acks, retries) only decide whether an event might be sent twice, never whether it
is lost. A process crash loses none of them; a power cut may undo the last acks, which
means a duplicate, not a loss. Sales are still added with the configured `synchronous`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, wait
from zoneinfo import ZoneInfo

from agent.config import AgentConfig
from agent.delivery.acks import GroupAck
from agent.delivery.backoff import Hold, retry_delay
from agent.delivery.hellotext import HellotextClient, Outcome, Park, Pause, Retry, Sent
from agent.delivery.orders import OrderFlow
from agent.delivery.outbox import Outbox, OutboxRow
from agent.delivery.passes import Pass, SyncReport, spawn
from agent.delivery.profiles import LOCAL_STATUS, Contact, ProfileResolver
from agent.delivery.reach import Outage, Reachability, cause_of
from agent.delivery.status import (
    META_LAST_SUCCESS,
    META_PAUSED,
    META_PAUSED_AT,
    META_UNREACHABLE_CAUSE,
    META_UNREACHABLE_SINCE,
    Notes,
)

__all__ = ["Progress", "SyncReport", "Syncer"]

log = logging.getLogger("agent.sync")

PROGRESS_EVERY_SECONDS = 0.1

Progress = Callable[[int, int], None]


class Syncer:
    def __init__(
        self,
        outbox: Outbox,
        client: HellotextClient,
        *,
        config: AgentConfig,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        batch_size: int | None = None,
    ) -> None:
        synchronous = "off" if config.outbox.synchronous == "off" else "normal"
        self._outbox = Outbox(outbox.path, synchronous=synchronous)
        self._client = client
        self._rng = rng or random.Random()
        self._clock = clock
        self._concurrency = config.sync.concurrency
        self._base = config.sync.base_backoff_seconds
        self._cap = config.sync.max_backoff_seconds
        self._probe_interval = config.hellotext.probe_interval_seconds
        self._batch = batch_size or max(16, 4 * self._concurrency)
        # A claimed row must stay ours until it was tried: at worst every round of the
        # batch waits out a full timeout.
        rounds = math.ceil(self._batch / self._concurrency) + 2  # + the rows claimed ahead
        self._lease = max(config.outbox.lease_seconds, rounds * config.hellotext.timeout_seconds)
        # This many temporary failures in a row with no success: stop the pass.
        self._give_up_after = max(4, 2 * self._concurrency)
        self.profiles = ProfileResolver(client, country=config.store.country)
        self._orders = OrderFlow(self._outbox, client, clock)  # events.model = "orders"
        self._acks = GroupAck(self._outbox, clock)
        self._running = threading.Lock()
        self._state = threading.Lock()  # the pause, shared by the workers
        self._paused: str | None = self._outbox.get_meta(META_PAUSED) or None
        self._last_probe: float | None = None  # paused by an earlier run: probe at once
        self._notes = Notes(self._outbox)  # status for `status`, written in groups
        self.last_error: str | None = None  # plain, for the daemon's status (no DB read)
        self.answers_wrong = False  # the last answer was not Hellotext's (a captive portal?)
        self._hold = Hold(cap=self._cap, rng=self._rng)  # after a 429: the whole till waits
        zone = ZoneInfo(config.store.timezone) if config.store.timezone else None
        self.reach = Reachability(zone)  # logs outages once, not every attempt
        self._noted_outage: Outage | None = None

    @property
    def held_until(self) -> float:
        """The clock() time before which a 429 holds sending (0 or past: not held)."""
        return self._hold.until

    @property
    def paused(self) -> str | None:
        return self._paused

    @property
    def unreachable(self) -> Outage | None:
        """Since when and why Hellotext cannot be reached (None: it answers)."""
        return self.reach.outage

    def rate_limited(self) -> str | None:
        """What a 429 still does to sending (held, or paced), None when nothing."""
        return self._hold.describe(self._clock())

    def close(self) -> None:
        """Close the engine's connection (the client is the caller's). Workers are daemon
        threads: one stuck in the network never holds the process at exit."""
        self._outbox.close()

    def maybe_probe(self, now: float) -> bool:
        """True when sending may go on; while paused, re-check the token every probe interval."""
        if self._paused is None:
            return True
        if self._last_probe is not None and now - self._last_probe < self._probe_interval:
            return False
        self._last_probe = now
        outcome = self._client.probe()
        if isinstance(outcome, Sent):
            log.info("token accepted again: resuming delivery (was: %s)", self._paused)
            self._paused = None
            self._outbox.set_meta(META_PAUSED, None)
            self._outbox.set_meta(META_PAUSED_AT, None)
            return True
        if isinstance(outcome, Pause) and outcome.reason != self._paused:
            self._pause(outcome.reason, now)
        return False

    def run_once(
        self,
        *,
        deadline: float | None = None,
        progress: Progress | None = None,
        budget: float | None = None,
    ) -> SyncReport:
        """Deliver everything due now (until `deadline`, a `clock()` time, and for at most
        `budget` seconds of the monotonic clock, if given: a wall-clock jump cannot stretch
        or cut a pass)."""
        if not self._running.acquire(blocking=False):
            return SyncReport(busy=True, paused=self._paused)
        try:
            report = SyncReport()
            now = self._clock()
            if self._hold.holds(now):
                report.stopped_early = "rate limited"
            elif self.maybe_probe(now):
                end = None if budget is None else time.monotonic() + budget
                run = Pass(report, deadline, end)
                self._pass(run, progress)
                self._hold.settle(run.rate_limited, now=self._clock(), sent=report.sent)
            report.paused = self._paused
            self._settle(report)
            return report
        finally:
            self._running.release()

    def _settle(self, report: SyncReport) -> None:
        """After a pass: outages as state changes (reach), the pass itself at DEBUG unless it
        delivered or parked something."""
        now = self._clock()
        if report.handled:
            waiting = self._outbox.counts()
            self.reach.settle(now, sent=report.sent, oldest=self._outbox.oldest_pending_at(),
                              waiting=waiting["pending"] + waiting["inflight"])  # fmt: skip
            outage = self.reach.outage
            if outage != self._noted_outage:  # (two writes a pass otherwise)
                self._noted_outage = outage
                self._notes.note({
                    META_UNREACHABLE_SINCE: None if outage is None else repr(outage.since),
                    META_UNREACHABLE_CAUSE: None if outage is None else outage.cause,
                })  # fmt: skip
                self._notes.flush(now, force=True)
        if report.handled or report.stopped_early:
            level = logging.INFO if report.sent or report.parked else logging.DEBUG
            log.log(
                level,
                "sync: %d sent, %d to retry, %d parked%s%s",
                report.sent,
                report.retried,
                report.parked,
                f"; paused: {report.paused}" if report.paused else "",
                f"; stopped early: {report.stopped_early}" if report.stopped_early else "",
            )

    # -- one pass ------------------------------------------------------------------------

    def _pass(self, run: Pass, progress: Progress | None) -> None:
        total = self._outbox.counts().get("pending", 0)
        count = 1 if self._hold.paced else self._concurrency
        workers = [spawn(self._work, run) for _ in range(count)]
        try:
            while True:
                done, running = wait(workers, PROGRESS_EVERY_SECONDS, FIRST_EXCEPTION)
                if progress is not None:
                    handled = run.report.handled
                    progress(handled, max(total, handled))
                self._notes.flush(self._clock())
                if not running or any(f.exception() for f in done):
                    break
        finally:
            with run.lock:
                run.stop = True  # an exception or Ctrl-C: workers finish their request, stop
                run.claimed.notify_all()  # (a paced worker waiting for its turn, too)
            wait(workers)
            if run.queue:  # claimed and never tried: back as they were
                self._outbox.release([row.id for row in run.queue], now=self._clock())
                run.report.released += len(run.queue)
            self._notes.flush(self._clock(), force=True)
        for worker in workers:
            worker.result()  # re-raise a worker's exception here

    def _work(self, run: Pass) -> None:
        """A worker: take a row, deliver it, record the answer; until none is left or stop."""
        while (row := self._next(run)) is not None:
            if not self._turn(run):
                with run.lock:
                    run.queue.appendleft(row)  # released at the end of the pass, untried
                return
            started = time.monotonic()
            try:
                outcome = self._deliver(row)
            except Exception as exc:
                # Not an answer (a bug, a library error no client maps): the row is retried
                # after its backoff, not left inflight until its lease runs out; the pass
                # stops and the caller logs the exception (the name alone is stored).
                error = f"agent error while sending: {type(exc).__name__}"
                self._record(run, row, Retry(None, error))
                raise
            self._record(run, row, outcome)
            self._hold.answered(started, sent=isinstance(outcome, Sent))

    def _turn(self, run: Pass) -> bool:
        """Wait for the next request's turn while paced after a 429; False: the pass ends
        (stopped, or the turn comes after its deadline: the next pass takes it)."""
        wait = self._hold.wait()
        if wait <= 0:
            return True
        with run.lock:
            over = run.budget_end is not None and time.monotonic() + wait > run.budget_end
            if over or (run.deadline is not None and self._clock() + wait > run.deadline):
                run.report.stopped_early = run.report.stopped_early or "deadline"
                run.stop = True
            turn = time.monotonic() + wait
            while not run.stop and (left := turn - time.monotonic()) > 0:
                run.claimed.wait(left)
            return not run.stop

    def _next(self, run: Pass) -> OutboxRow | None:
        """The next claimed row. The worker that finds the queue short claims the next batch
        outside the lock, so the others keep sending meanwhile."""
        while True:
            with run.lock:
                if run.stop:
                    return None
                short = len(run.queue) <= self._concurrency and not run.exhausted
                if run.queue and not (short and not run.claiming):
                    return run.queue.popleft()
                if not run.queue and (run.exhausted or run.claiming):
                    if run.exhausted:
                        return None
                    run.claimed.wait()
                    continue
                now = self._clock()
                over = run.budget_end is not None and time.monotonic() >= run.budget_end
                if over or (run.deadline is not None and now >= run.deadline):
                    run.report.stopped_early = "deadline"
                    run.stop = True
                    return None
                run.claiming = True
            rows: list[OutboxRow] = []
            try:
                rows = self._outbox.claim(limit=self._batch, now=now, lease_seconds=self._lease)
            finally:
                with run.lock:
                    run.claiming = False
                    run.exhausted = not rows  # (also after an error: the pass is ending)
                    run.queue.extend(rows)
                    run.claimed.notify_all()

    def _deliver(self, row: OutboxRow) -> Outcome:
        """Resolve the phone and/or e-mail if there is one (cached), then post the event."""
        event = row.event
        attempt = row.attempts + 1
        profile: str | None = None
        if event.phone is not None or event.email is not None:
            e164 = None if event.phone is None else self.profiles.normalise(event.phone)
            if event.phone is not None and e164 is None:
                return Park(LOCAL_STATUS, "the phone is not a possible number")
            contact = Contact(e164, event.email)
            if self.profiles.known_contact(contact) is None:
                for key in contact.cache_keys():
                    cached = self._outbox.get_profile(key)
                    if cached:
                        self.profiles.remember(key, cached)
            got = self.profiles.resolve(contact, event_id=event.id, attempt=attempt)
            if isinstance(got, Retry):  # a second profile request is harmless: no duplicate
                return dataclasses.replace(got, maybe_delivered=False)
            if not isinstance(got, str):
                return got
            profile = got
            for key, profile_id in self.profiles.take_new():
                self._outbox.put_profile(key, profile_id, now=self._clock())
        body = self._orders.body(event, profile=profile, attempt=attempt)
        if not isinstance(body, bytes):  # the event's order could not be created (yet)
            return body
        return self._client.track(body, event_id=event.id, attempt=attempt)

    def _record(self, run: Pass, row: OutboxRow, outcome: Outcome) -> None:
        """Write what the answer means for this row, before the worker takes another."""
        now = self._clock()
        match outcome:
            case Sent():
                self._acks.ack(row.id)
                self.reach.answered(now)
                self.answers_wrong = False
                with run.lock:
                    run.report.sent += 1
                    run.failures = 0
                self._notes.note({META_LAST_SUCCESS: repr(now)})
            case Park(status=status, body=body):
                self._outbox.park(row.id, now=now, status=status, error=body)
                if status != LOCAL_STATUS:  # (a phone refused here is not an answer)
                    self.reach.answered(now)
                with run.lock:
                    run.report.parked += 1
                self._note_error(f"{status} parked event {row.id}", now)
            case Pause(reason=reason):
                self._outbox.release([row.id], now=now)
                self.reach.answered(now)  # reachable: the token is the problem
                with run.lock:
                    run.report.released += 1
                    run.stop = True
                self._pause(reason, now)
            case Retry() as retry:
                delay = retry_delay(
                    row.attempts,
                    base=self._base,
                    cap=self._cap,
                    rng=self._rng,
                    retry_after=retry.retry_after,
                )
                self._outbox.retry(
                    row.id, now=now, delay=delay, status=retry.status, error=retry.error
                )
                with run.lock:
                    run.report.retried += 1
                    run.report.maybe_delivered += retry.maybe_delivered
                    run.failures += 1
                    if retry.status == 429 and run.rate_limited is None:
                        run.rate_limited = retry.retry_after or 0.0
                        run.stop = True  # the other workers finish their request and stop
                        run.report.stopped_early = "rate limited"
                    if run.failures >= self._give_up_after and not run.stop:
                        run.stop = True
                        run.report.stopped_early = f"{run.failures} temporary failures in a row"
                        log.debug("sync: %s; waiting for the next tick", run.report.stopped_early)
                self.answers_wrong = retry.wrong_answer
                if (cause := cause_of(retry)) is not None:
                    self.reach.failed(cause, now)
                self._note_error(retry.error, now, maybe_delivered=retry.maybe_delivered)

    # -- pause and status notes ------------------------------------------------------------

    def _pause(self, reason: str, now: float) -> None:
        with self._state:
            if self._paused == reason:
                return
            self._paused = reason
            self._last_probe = now
        log.error(
            "delivery paused: %s; nothing is lost, re-checking every %.0fs",
            reason,
            self._probe_interval,
        )
        self._note_error(reason, now)
        self._notes.note({META_PAUSED: reason, META_PAUSED_AT: repr(now)})
        self._notes.flush(now, force=True)

    def _note_error(self, error: str, now: float, *, maybe_delivered: bool = False) -> None:
        self.last_error = error
        self._notes.error(error, now, maybe_delivered=maybe_delivered)
